package ca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/internal/catest"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

var (
	ctx    = context.Background()
	client = netip.MustParseAddr("192.0.2.7")
)

func wantCode(t *testing.T, err error, code string) *ca.Error {
	t.Helper()
	e, ok := ca.AsError(err)
	if !ok {
		t.Fatalf("error %v, want *ca.Error %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error code %q (%v), want %q", e.Code, err, code)
	}
	return e
}

func register(t *testing.T, c *catest.CA) *ca.Registration {
	t.Helper()
	r, err := c.Registrar.Register(ctx, "op1", catest.Identity())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type enrolled struct {
	key  *gost.PrivateKey
	cert *pki.Certificate
	rec  *store.Certificate
}

func enroll(t *testing.T, c *catest.CA) enrolled {
	t.Helper()
	r := register(t, c)
	key := catest.Key(t, gost.CurveTC26256A)
	rec, err := c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: r.Code.Reveal(), CSR: catest.CSR(t, key), Client: client})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificate(rec.DER)
	if err != nil {
		t.Fatal(err)
	}
	return enrolled{key, cert, rec}
}

func TestRegisterValidation(t *testing.T) {
	c := catest.New(t)
	for _, tc := range []struct {
		name  string
		edit  func(*store.Identity)
		field string
	}{
		{"bad SNILS checksum", func(id *store.Identity) { id.SNILS = "11223344596" }, "snils"},
		{"short SNILS", func(id *store.Identity) { id.SNILS = "1122334459" }, "snils"},
		{"bad INN checksum", func(id *store.Identity) { id.INN = "500100732258" }, "inn"},
		{"legal-entity INN", func(id *store.Identity) { id.INN = "7707083893" }, "inn"},
		{"no surname", func(id *store.Identity) { id.Surname = " " }, "surname"},
		{"digits in a name", func(id *store.Identity) { id.GivenName = "Ivan2" }, "given_name"},
		{"bad email", func(id *store.Identity) { id.Email = "Ivan <ivan@example.ru>" }, "email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := catest.Identity()
			tc.edit(&id)
			_, err := c.Registrar.Register(ctx, "op1", id)
			if e := wantCode(t, err, "invalid_field"); e.Field != tc.field || e.Kind != ca.KindInvalid {
				t.Errorf("field %q kind %v, want %q", e.Field, e.Kind, tc.field)
			}
		})
	}
	var n uint64
	_ = c.Store.View(ctx, func(r store.Reader) error { n, _, _ = r.AuditHead(ctx); return nil })
	if n != 0 {
		t.Errorf("refused registrations left %d audit records", n)
	}
}

func TestRegisterCode(t *testing.T) {
	c := catest.New(t)
	r := register(t, c)
	if r.Order.Identity.SNILS != "11223344595" || r.Order.Status != store.OrderPending ||
		!r.Order.ExpiresAt.Equal(catest.Start.Add(15*time.Minute)) {
		t.Errorf("order %+v", r.Order)
	}
	caURL, s, err := code.ParseLink(r.Link)
	if err != nil || caURL != catest.APIURL || s.Reveal() != r.Code.Reveal() {
		t.Errorf("link %q: %v %v", r.Link, caURL, err)
	}
	if !bytes.HasPrefix(r.QRPNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Error("QR is not a PNG")
	}
	if !c.Hasher.Equal(r.Code, r.Order.CodeHash) {
		t.Error("stored hash does not match the code")
	}
}

func TestEnrollProfile(t *testing.T) {
	c := catest.New(t)
	e := enroll(t, c)
	cert := e.cert
	if cert.Subject.CommonName != "Иванов Иван Иванович" || cert.Subject.SNILS != "11223344595" || cert.Subject.INN != "500100732259" ||
		cert.Subject.GivenName != "Иван Иванович" || cert.Subject.Surname != "Иванов" {
		t.Errorf("subject %v: not the registered identity", cert.Subject)
	}
	if !cert.NotAfter.Equal(catest.Start.Add(365 * 24 * time.Hour)) {
		t.Errorf("not after %v", cert.NotAfter)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("key usage %v", cert.KeyUsage)
	}
	if len(cert.ExtKeyUsage) != 2 || !cert.ExtKeyUsage[0].Equal(pki.OIDExtKeyUsageClientAuth) || !cert.ExtKeyUsage[1].Equal(pki.OIDExtKeyUsageEmailProtection) {
		t.Errorf("EKU %v", cert.ExtKeyUsage)
	}
	if len(cert.CRLDistributionPoints) != 1 || cert.CRLDistributionPoints[0] != catest.PublicHTTPURL+"/crl/issuing.crl" ||
		len(cert.OCSPServer) != 1 || cert.OCSPServer[0] != catest.PublicHTTPURL+"/ocsp" ||
		len(cert.IssuingCertificateURL) != 1 || cert.IssuingCertificateURL[0] != catest.PublicHTTPURL+"/ca/issuing.crt" {
		t.Errorf("CRL DP %v OCSP %v caIssuers %v", cert.CRLDistributionPoints, cert.OCSPServer, cert.IssuingCertificateURL)
	}
	if !cert.PrivateKeyUsageNotAfter.Equal(cert.NotAfter) || cert.SubjectSignTool == "" || cert.IssuerSignTool == nil {
		t.Error("privateKeyUsagePeriod or sign tools missing")
	}
	if err := pki.CheckQualifiedProfile(cert); err != nil {
		t.Error(err)
	}
	if _, err := cert.Verify(pki.VerifyOptions{Roots: []*pki.Certificate{c.Root}, Intermediates: []*pki.Certificate{c.Issuing}, CurrentTime: c.Clock.Now()}); err != nil {
		t.Error(err)
	}
	// Every step audited: order.create, order.redeem, cert.intent, cert.issue.
	var recs []store.AuditRecord
	_ = c.Store.View(ctx, func(r store.Reader) error { recs, _ = r.AuditRecords(ctx, 1, 100); return nil })
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	if want := []string{"order.create", "order.redeem", "cert.intent", "cert.issue"}; !equalStrings(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func auditHead(t *testing.T, c *catest.CA) uint64 {
	var n uint64
	if err := c.Store.View(ctx, func(r store.Reader) error { var err error; n, _, err = r.AuditHead(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnrollRefusals(t *testing.T) {
	c := catest.New(t)
	key := catest.Key(t, gost.CurveTC26256A)
	csr := catest.CSR(t, key)

	r := register(t, c)
	good := r.Code.Reveal()
	mistyped := []byte(good)
	mistyped[0] ^= 1 // '0'↔'1' and the like: the check character catches it
	if mistyped[0] == '-' {
		t.Fatal("unexpected code shape")
	}

	// A CSR whose signature is by another key: the signed bytes of one
	// request with the signature of another.
	other, _ := pki.ParseCertificateRequest(catest.CSR(t, catest.Key(t, gost.CurveTC26256A)))
	forged := bytes.Replace(csr, mustParseCSR(t, csr).Signature, other.Signature, 1)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	head := auditHead(t, c)
	for _, tc := range []struct {
		name, code, csrCode string
		csr                 []byte
	}{
		{"mistyped code", string(mistyped), "code_mistyped", csr},
		{"not a code", "hello", "invalid_field", csr},
		{"unknown code", mustNewCode(t), "code_unknown", csr},
		{"garbage CSR", good, "csr_invalid", []byte{0x30, 0x03, 1, 2, 3}},
		{"CSR signed by another key", good, "csr_signature", forged},
		{"ECDSA key", good, "key_not_allowed", catest.CSR(t, ecKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: tc.code, CSR: tc.csr, Client: client})
			wantCode(t, err, tc.csrCode)
		})
	}
	if h := auditHead(t, c); h != head {
		t.Errorf("refused requests changed the journal: head %d → %d", head, h)
	}
	o, _ := c.Registrar.Order(ctx, r.Order.ID)
	if o.Status != store.OrderPending || o.Failures != 0 {
		t.Errorf("order after refusals: %s, %d failures", o.Status, o.Failures)
	}

	// The order still redeems, once.
	if _, err := c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: good, CSR: csr, Client: client}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: good, CSR: catest.CSR(t, catest.Key(t, gost.CurveTC26256A)), Client: client})
	wantCode(t, err, "code_used")

	// The same key again, on a new order: key_certified, counted, and five
	// lock the order.
	r2 := register(t, c)
	for i := 1; i <= 5; i++ {
		_, err := c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: r2.Code.Reveal(), CSR: csr, Client: client})
		wantCode(t, err, "key_certified")
	}
	_, err = c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: r2.Code.Reveal(), CSR: catest.CSR(t, catest.Key(t, gost.CurveTC26256A)), Client: client})
	wantCode(t, err, "code_locked")

	// Cancelled and expired codes.
	r3 := register(t, c)
	if _, err := c.Registrar.Cancel(ctx, "op1", r3.Order.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: r3.Code.Reveal(), CSR: csr, Client: client})
	wantCode(t, err, "code_cancelled")
	_, err = c.Registrar.Cancel(ctx, "op1", r3.Order.ID)
	wantCode(t, err, "conflict")

	r4 := register(t, c)
	c.Clock.Add(15 * time.Minute)
	_, err = c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: r4.Code.Reveal(), CSR: catest.CSR(t, catest.Key(t, gost.CurveTC26256A)), Client: client})
	wantCode(t, err, "code_expired")
	if o, _ := c.Registrar.Order(ctx, r4.Order.ID); o.Status != store.OrderExpired {
		t.Errorf("expired order is %s", o.Status)
	}
}

func mustParseCSR(t *testing.T, der []byte) *pki.CertificateRequest {
	r, err := pki.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustNewCode(t *testing.T) string {
	s, err := code.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal()
}

func TestEnrollRateLimit(t *testing.T) {
	c := catest.New(t)
	lim := ca.NewLimiter(3, time.Minute, c.Clock.Now)
	en, err := ca.NewEnrollment(ca.EnrollmentConfig{}, ca.EnrollmentDeps{Store: c.Store, Journal: c.Journal, Hasher: c.Hasher, Issuer: c.Issuer, Limiter: lim, Now: c.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	csr := catest.CSR(t, catest.Key(t, gost.CurveTC26256A))
	for range 3 {
		_, err := en.Enroll(ctx, ca.EnrollRequest{Code: mustNewCode(t), CSR: csr, Client: client})
		wantCode(t, err, "code_unknown")
	}
	r := register(t, c)
	_, err = en.Enroll(ctx, ca.EnrollRequest{Code: r.Code.Reveal(), CSR: csr, Client: client})
	if e := wantCode(t, err, "rate_limited"); e.RetryAfter != time.Minute {
		t.Errorf("retry after %v", e.RetryAfter)
	}
	// Another address is not affected; the limit lifts after the window.
	if _, err := en.Enroll(ctx, ca.EnrollRequest{Code: r.Code.Reveal(), CSR: csr, Client: netip.MustParseAddr("2001:db8::1")}); err != nil {
		t.Fatal(err)
	}
	c.Clock.Add(time.Minute)
	_, err = en.Enroll(ctx, ca.EnrollRequest{Code: mustNewCode(t), CSR: csr, Client: client})
	wantCode(t, err, "code_unknown")
}

func TestConcurrentRedemption(t *testing.T) {
	c := catest.New(t)
	r := register(t, c)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		csr := catest.CSR(t, catest.Key(t, gost.CurveTC26256A))
		wg.Go(func() {
			_, errs[i] = c.Enrollment.Enroll(ctx, ca.EnrollRequest{Code: r.Code.Reveal(), CSR: csr, Client: client})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if e, _ := ca.AsError(err); e == nil || e.Code != "code_used" {
			t.Errorf("loser: %v", err)
		}
	}
	var count int
	_ = c.Store.View(ctx, func(rd store.Reader) error {
		count, _ = rd.CountCertificates(ctx, store.CertificateFilter{})
		return nil
	})
	if ok != 1 || count != 1 {
		t.Errorf("%d successes, %d certificates; want 1 and 1", ok, count)
	}
}

// renewRequest wraps a CSR for newKey in CMS signed by the current key.
func renewRequest(t *testing.T, c *catest.CA, cur enrolled, newKey *gost.PrivateKey, at time.Time) []byte {
	t.Helper()
	sd, err := cms.Sign(bytes.NewReader(catest.CSR(t, newKey)), cur.key, cur.cert, &cms.SignOptions{SigningTime: at})
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func TestRenewalWindow(t *testing.T) {
	c := catest.New(t)
	cur := enroll(t, c)
	notAfter := cur.cert.NotAfter

	// Before the window: refused, saying when it opens.
	c.Clock.Set(notAfter.Add(-31 * 24 * time.Hour))
	_, err := c.Renewal.Renew(ctx, renewRequest(t, c, cur, catest.Key(t, gost.CurveTC26256A), c.Clock.Now()), client)
	if e := wantCode(t, err, "renewal_not_open"); !e.WindowOpensAt.Equal(notAfter.Add(-30 * 24 * time.Hour)) {
		t.Errorf("window opens at %v", e.WindowOpensAt)
	}

	c.Clock.Set(notAfter.Add(-10 * 24 * time.Hour))
	now := c.Clock.Now()
	// Stale proof, same key.
	_, err = c.Renewal.Renew(ctx, renewRequest(t, c, cur, catest.Key(t, gost.CurveTC26256A), now.Add(-6*time.Minute)), client)
	wantCode(t, err, "proof_stale")
	_, err = c.Renewal.Renew(ctx, renewRequest(t, c, cur, cur.key, now), client)
	wantCode(t, err, "same_key")
	// Signed by another key with our certificate attached.
	bad, _ := cms.Sign(bytes.NewReader(catest.CSR(t, catest.Key(t, gost.CurveTC26256A))), catest.Key(t, gost.CurveTC26256A), cur.cert, &cms.SignOptions{SigningTime: now})
	if bad != nil {
		t.Fatal("cms.Sign accepted a key that is not the certificate's")
	}

	// Inside the window: accepted, the predecessor superseded, to be
	// revoked at its own expiry.
	newKey := catest.Key(t, gost.CurveTC26256A)
	req := renewRequest(t, c, cur, newKey, now)
	succ, err := c.Renewal.Renew(ctx, req, client)
	if err != nil {
		t.Fatal(err)
	}
	if succ.Identity != cur.rec.Identity || succ.PredecessorSerial == nil || *succ.PredecessorSerial != cur.rec.Serial {
		t.Errorf("successor %+v", succ)
	}
	pred, _ := c.Revocation.Certificate(ctx, cur.rec.Serial)
	if pred.SuccessorSerial == nil || *pred.SuccessorSerial != succ.Serial || !pred.RevokeSupersededAt.Equal(notAfter) || pred.Status != store.CertValid {
		t.Errorf("predecessor %+v", pred)
	}
	_, err = c.Renewal.Renew(ctx, req, client)
	wantCode(t, err, "conflict")

	// Due at the predecessor's expiry: revoked with reason superseded.
	if n, err := c.Revocation.RevokeDueSuperseded(ctx); err != nil || n != 0 {
		t.Fatalf("early sweep: %d, %v", n, err)
	}
	c.Clock.Set(notAfter)
	if n, err := c.Revocation.RevokeDueSuperseded(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	pred, _ = c.Revocation.Certificate(ctx, cur.rec.Serial)
	if pred.Status != store.CertRevoked || pred.RevocationReason != store.ReasonSuperseded {
		t.Errorf("predecessor after sweep: %s %v", pred.Status, pred.RevocationReason)
	}
}

func TestRenewalAfterExpiryAndRevocation(t *testing.T) {
	c := catest.New(t)
	a := enroll(t, c)
	c.Clock.Set(a.cert.NotAfter)
	_, err := c.Renewal.Renew(ctx, renewRequest(t, c, a, catest.Key(t, gost.CurveTC26256A), c.Clock.Now()), client)
	wantCode(t, err, "certificate_expired")

	c.Clock.Set(catest.Start)
	b := enroll(t, c)
	if _, err := c.Revocation.Revoke(ctx, "op1", b.rec.Serial, store.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	c.Clock.Set(b.cert.NotAfter.Add(-time.Hour))
	_, err = c.Renewal.Renew(ctx, renewRequest(t, c, b, catest.Key(t, gost.CurveTC26256A), c.Clock.Now()), client)
	wantCode(t, err, "certificate_revoked")

	// A certificate of another CA with the same issuer name.
	otherKey := catest.Key(t, gost.CurveTC26256A)
	self := catest.CACert(t, "Test GOST Issuing CA", otherKey, nil, nil, catest.Start, 1)
	sd, err := cms.Sign(bytes.NewReader(catest.CSR(t, catest.Key(t, gost.CurveTC26256A))), otherKey, self, &cms.SignOptions{SigningTime: c.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Renewal.Renew(ctx, sd, client)
	wantCode(t, err, "not_our_certificate")
}

func TestRevocation(t *testing.T) {
	c := catest.New(t)
	e := enroll(t, c)
	s := e.rec.Serial
	if got, err := c.Revocation.Hold(ctx, "op1", s); err != nil || got.Status != store.CertOnHold {
		t.Fatalf("hold: %v %v", got.Status, err)
	}
	if got, err := c.Revocation.Release(ctx, "op1", s); err != nil || got.Status != store.CertValid {
		t.Fatalf("release: %v %v", got.Status, err)
	}
	_, err := c.Revocation.Revoke(ctx, "op1", s, store.ReasonRemoveFromCRL)
	wantCode(t, err, "invalid_field")
	if got, err := c.Revocation.Revoke(ctx, "op1", s, store.ReasonAffiliationChanged); err != nil || got.Status != store.CertRevoked || got.RevocationReason != store.ReasonAffiliationChanged {
		t.Fatalf("revoke: %+v %v", got, err)
	}
	_, err = c.Revocation.Revoke(ctx, "op1", s, store.ReasonKeyCompromise)
	wantCode(t, err, "conflict")
	_, err = c.Revocation.Revoke(ctx, "op1", store.Serial{1}, store.ReasonKeyCompromise)
	wantCode(t, err, "not_found")
	if n := c.CRL.N.Load(); n != 3 {
		t.Errorf("%d CRL reissues, want 3 (hold, release, revoke)", n)
	}
}

func TestRevocationCode(t *testing.T) {
	c := catest.New(t)
	e := enroll(t, c)
	secret, rc, err := c.Revocation.IssueCode(ctx, "op1", e.rec.Serial)
	if err != nil {
		t.Fatal(err)
	}
	if !rc.ExpiresAt.Equal(catest.Start.Add(7 * 24 * time.Hour)) {
		t.Errorf("expires %v", rc.ExpiresAt)
	}
	_, err = c.Revocation.RevokeWithCode(ctx, mustNewCode(t), nil, client)
	wantCode(t, err, "code_unknown")
	got, err := c.Revocation.RevokeWithCode(ctx, secret.Reveal(), nil, client)
	if err != nil || got.Status != store.CertRevoked || got.RevocationReason != store.ReasonKeyCompromise || got.Serial != e.rec.Serial {
		t.Fatalf("revoke with code: %+v %v", got, err)
	}
	_, err = c.Revocation.RevokeWithCode(ctx, secret.Reveal(), nil, client)
	wantCode(t, err, "code_used")
}

func TestRevokeSigned(t *testing.T) {
	c := catest.New(t)
	e := enroll(t, c)
	sign := func(body any, at time.Time) []byte {
		b, _ := json.Marshal(body)
		sd, err := cms.Sign(bytes.NewReader(b), e.key, e.cert, &cms.SignOptions{SigningTime: at})
		if err != nil {
			t.Fatal(err)
		}
		return sd
	}
	now := c.Clock.Now()
	other := enroll(t, c)
	_, err := c.Revocation.RevokeSigned(ctx, sign(map[string]any{"serial": other.rec.Serial.String(), "reason": "keyCompromise", "time": now}, now), client)
	wantCode(t, err, "invalid_field")
	_, err = c.Revocation.RevokeSigned(ctx, sign(map[string]any{"serial": e.rec.Serial.String(), "reason": "cACompromise", "time": now}, now), client)
	wantCode(t, err, "invalid_field")
	_, err = c.Revocation.RevokeSigned(ctx, sign(map[string]any{"serial": e.rec.Serial.String(), "reason": "keyCompromise", "time": now.Add(-time.Hour)}, now), client)
	wantCode(t, err, "proof_stale")
	got, err := c.Revocation.RevokeSigned(ctx, sign(map[string]any{"serial": e.rec.Serial.String(), "reason": "keyCompromise", "time": now}, now), client)
	if err != nil || got.Status != store.CertRevoked {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestOperators(t *testing.T) {
	c := catest.New(t)
	op, err := c.Operators.Create(ctx, "init", "alice", store.RoleRegistrar)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Operators.Create(ctx, "init", "alice", store.RoleAuditor)
	wantCode(t, err, "conflict")
	_, err = c.Operators.Create(ctx, "init", "bob", "root")
	wantCode(t, err, "invalid_field")

	tok, rec, err := c.Operators.IssueToken(ctx, "init", op.ID, time.Hour, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Operators.Authenticate(ctx, tok.Reveal(), client)
	if err != nil || p.Operator.ID != op.ID || p.TokenID != rec.ID {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	_, err = c.Operators.Authenticate(ctx, tok.Reveal(), netip.MustParseAddr("198.51.100.1"))
	wantCode(t, err, "unauthenticated")
	c.Clock.Add(time.Hour)
	_, err = c.Operators.Authenticate(ctx, tok.Reveal(), client)
	wantCode(t, err, "unauthenticated")
	c.Clock.Set(catest.Start)
	if err := c.Operators.RevokeToken(ctx, "init", rec.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Operators.RevokeToken(ctx, "init", rec.ID), "conflict")
	_, err = c.Operators.Authenticate(ctx, tok.Reveal(), client)
	wantCode(t, err, "unauthenticated")

	// Failures are audited; ten in a minute from one address rate-limit it
	// (the window restarted with the expired attempt, an hour later, so
	// two are in it now).
	var fails int
	var recs []store.AuditRecord
	_ = c.Store.View(ctx, func(r store.Reader) error { recs, _ = r.AuditRecords(ctx, 1, 100); return nil })
	for _, r := range recs {
		if r.Action == "auth.fail" {
			fails++
		}
	}
	if fails != 3 {
		t.Errorf("%d auth.fail records, want 3", fails)
	}
	for range 8 {
		_, err = c.Operators.Authenticate(ctx, "gsk_nonsense", client)
		wantCode(t, err, "unauthenticated")
	}
	_, err = c.Operators.Authenticate(ctx, tok.Reveal(), client)
	wantCode(t, err, "rate_limited")
}

// One signed renewal request sent many times at once yields one successor:
// the proof is spent and the predecessor's state re-read inside the intent
// transaction.
func TestRenewalReplayedConcurrently(t *testing.T) {
	c := catest.New(t)
	cur := enroll(t, c)
	c.Clock.Set(cur.cert.NotAfter.Add(-24 * time.Hour))
	req := renewRequest(t, c, cur, catest.Key(t, gost.CurveTC26256A), c.Clock.Now())
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = c.Renewal.Renew(ctx, req, client) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		if e, _ := ca.AsError(err); e == nil || (e.Code != "proof_replayed" && e.Code != "conflict") {
			t.Errorf("replay: %v", err)
		}
	}
	var count int
	_ = c.Store.View(ctx, func(rd store.Reader) error {
		count, _ = rd.CountCertificates(ctx, store.CertificateFilter{})
		return nil
	})
	if ok != 1 || count != 2 {
		t.Errorf("%d renewals succeeded, %d certificates; want 1 and 2", ok, count)
	}
}
