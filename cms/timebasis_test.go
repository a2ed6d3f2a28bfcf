package cms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// opensslVerifyWith runs openssl cms -verify on an attached DER signature
// with rootFile as the only trust anchor, at the current time.
func opensslVerifyWith(t *testing.T, rootFile string, sig []byte) error {
	t.Helper()
	_, err := opensslVerifyPurpose(t, rootFile, sig, "any")
	return err
}

// opensslVerifyPurpose is opensslVerifyWith with openssl's -purpose
// (empty: openssl's default for cms, smimesign); it returns the content.
func opensslVerifyPurpose(t *testing.T, rootFile string, sig []byte, purpose string) ([]byte, error) {
	t.Helper()
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", testkit.WriteFile(t, "sig", sig), "-CAfile", rootFile}
	if purpose != "" {
		args = append(args, "-purpose", purpose)
	}
	return testkit.TryOpenSSL(t, nil, args...)
}

// pastRoot certifies id's root key (made by openssl) again, valid from a
// year ago, so that its leaves can have validity periods in the past
// (openssl 3.0's req -x509 starts every certificate now). The root file is
// for openssl's -CAfile.
func pastRoot(t *testing.T, id *identity) (*pki.Certificate, string) {
	t.Helper()
	now := time.Now()
	tmpl := &pki.Certificate{
		Subject:               id.root.Subject,
		SerialNumber:          big.NewInt(now.UnixNano()),
		NotBefore:             now.AddDate(-1, 0, 0),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          id.root.SubjectKeyId,
	}
	der, err := pki.CreateCertificate(rand.Reader, tmpl, nil, id.root.PublicKey, id.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := pki.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return root, testkit.WriteFile(t, "past-root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// issueLeaf certifies id's leaf key again under root (id's root key) with
// the given validity, so a test can have a signer whose certificate is
// expired, or was valid long enough ago to be revoked since. edit, when
// not nil, changes the template further.
func issueLeaf(t *testing.T, id *identity, root *pki.Certificate, notBefore, notAfter time.Time, edit func(*pki.Certificate)) *pki.Certificate {
	t.Helper()
	tmpl := &pki.Certificate{
		Subject:               id.cert.Subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		OCSPServer:            []string{"http://127.0.0.1:9/ocsp"},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := pki.CreateCertificate(rand.Reader, tmpl, root, id.cert.PublicKey, id.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestBackdatedSigningTime: the key of an expired certificate signs with a
// signingTime inside the old validity period. The claim is shown, never
// trusted: the chain is checked now and fails, as OpenSSL's does; only a
// time the caller asserts moves the check into the past.
func TestBackdatedSigningTime(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	now := time.Now()
	root, rootFile := pastRoot(t, id)
	expired := issueLeaf(t, id, root, now.AddDate(0, 0, -60), now.AddDate(0, 0, -30), nil)
	claimed := now.AddDate(0, 0, -45).Truncate(time.Second)
	sig, err := Sign(bytes.NewReader(testContent), id.key, expired, &SignOptions{SigningTime: claimed})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{root}})
	if got := reasonOf(err); got != ChainInvalid {
		t.Fatalf("backdated signature of an expired certificate: got %v (%v), want %v", got, err, ChainInvalid)
	}
	s := res.Signers[0]
	if !s.SigningTime.Equal(claimed) {
		t.Errorf("SigningTime %v, want the claim %v", s.SigningTime, claimed)
	}
	if s.TimeBasis != TimeNow || s.CheckedAt.Before(now) || s.CheckedAt.After(time.Now()) {
		t.Errorf("checked at %v (%v), want now (%v)", s.CheckedAt, s.TimeBasis, TimeNow)
	}
	if err := opensslVerifyWith(t, rootFile, sig); err == nil {
		t.Error("openssl accepts the backdated signature; the test no longer shows what OpenSSL refuses")
	}

	// The caller asserts the time (gostkey verify --at): checked then.
	res, err = Verify(sig, nil, &VerifyOptions{Roots: []*pki.Certificate{root}, CurrentTime: claimed})
	if err != nil {
		t.Fatalf("asserted time inside the validity: %v", err)
	}
	if s := res.Signers[0]; s.TimeBasis != TimeAsserted || !s.CheckedAt.Equal(claimed) {
		t.Errorf("checked at %v (%v), want %v (%v)", s.CheckedAt, s.TimeBasis, claimed, TimeAsserted)
	}
}

// TestRevokedBeforeNow: a certificate revoked for a reason that is no
// compromise (superseded, cessationOfOperation), a signature claiming a
// signingTime before the revocation. Checked now it is Revoked; only a
// caller-asserted time before the revocation leaves it standing, and never
// for a compromise.
func TestRevokedBeforeNow(t *testing.T) {
	id := newIdentity(t, "gost512-A")
	now := time.Now()
	root, _ := pastRoot(t, id)
	cert := issueLeaf(t, id, root, now.AddDate(0, 0, -30), now.AddDate(0, 0, 30), nil)
	revokedAt := now.AddDate(0, 0, -10).Truncate(time.Second)
	claimed := now.AddDate(0, 0, -20).Truncate(time.Second)
	sig, err := Sign(bytes.NewReader(testContent), id.key, cert, &SignOptions{SigningTime: claimed})
	if err != nil {
		t.Fatal(err)
	}
	crl := func(reason pki.CRLReason) *pki.CRL {
		return makeCRL(t, id, pki.RevokedCertificate{SerialNumber: cert.SerialNumber, RevocationTime: revokedAt, ReasonCode: reason})
	}
	roots := []*pki.Certificate{root}
	for _, tc := range []struct {
		name   string
		reason pki.CRLReason
		at     time.Time
		want   Reason
	}{
		{"superseded, now", pki.ReasonSuperseded, time.Time{}, Revoked},
		{"cessationOfOperation, now", pki.ReasonCessationOfOperation, time.Time{}, Revoked},
		{"affiliationChanged, now", pki.ReasonAffiliationChanged, time.Time{}, Revoked},
		{"superseded, asserted before", pki.ReasonSuperseded, claimed, 0},
		{"cessationOfOperation, asserted before", pki.ReasonCessationOfOperation, claimed, 0},
		{"superseded, asserted after", pki.ReasonSuperseded, revokedAt.Add(time.Hour), Revoked},
		{"keyCompromise, asserted before", pki.ReasonKeyCompromise, claimed, Revoked},
		{"cACompromise, asserted before", pki.ReasonCACompromise, claimed, Revoked},
		{"aACompromise, asserted before", pki.ReasonAACompromise, claimed, Revoked},
		{"unspecified, asserted before", pki.ReasonUnspecified, claimed, Revoked},
	} {
		_, err := Verify(sig, nil, &VerifyOptions{Roots: roots, CRLs: []*pki.CRL{crl(tc.reason)}, CurrentTime: tc.at})
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
	// The same through OCSP.
	query := func(reason pki.CRLReason) OCSPQuery {
		return func(_ context.Context, _ string, c, _ *pki.Certificate) (*pki.OCSPResponse, error) {
			return &pki.OCSPResponse{Responses: []pki.OCSPSingleResponse{{CertID: pki.OCSPCertID{SerialNumber: c.SerialNumber},
				Status: pki.OCSPRevoked, RevokedAt: revokedAt, RevocationReason: reason, ThisUpdate: now.Add(-time.Minute)}}}, nil
		}
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want Reason
	}{{"OCSP superseded, now", time.Time{}, Revoked}, {"OCSP superseded, asserted before", claimed, 0}} {
		_, err := Verify(sig, nil, &VerifyOptions{Roots: roots, OCSP: true, OCSPQuery: query(pki.ReasonSuperseded), CurrentTime: tc.at})
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestPrivateKeyUsagePeriod: a signer certificate still valid whose
// privateKeyUsagePeriod (the time its key may sign) has ended cannot vouch
// for a signature checked now, whatever signingTime it claims: the key
// may have signed yesterday with a backdated claim. A time the caller
// asserts inside the period can.
func TestPrivateKeyUsagePeriod(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	now := time.Now()
	root, _ := pastRoot(t, id)
	keyEnded := now.AddDate(0, 0, -5).Truncate(time.Second)
	cert := issueLeaf(t, id, root, now.AddDate(0, 0, -60), now.AddDate(0, 0, 30), func(c *pki.Certificate) {
		c.PrivateKeyUsageNotBefore, c.PrivateKeyUsageNotAfter = now.AddDate(0, 0, -60).Truncate(time.Second), keyEnded
	})
	notYet := issueLeaf(t, id, root, now.AddDate(0, 0, -60), now.AddDate(0, 0, 30), func(c *pki.Certificate) {
		c.PrivateKeyUsageNotBefore, c.PrivateKeyUsageNotAfter = now.AddDate(0, 0, 5).Truncate(time.Second), now.AddDate(0, 0, 20).Truncate(time.Second)
	})
	claimed := now.AddDate(0, 0, -10).Truncate(time.Second)
	sign := func(c *pki.Certificate) []byte {
		sig, err := Sign(bytes.NewReader(testContent), id.key, c, &SignOptions{SigningTime: claimed})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	sig, early := sign(cert), sign(notYet)
	for _, tc := range []struct {
		name string
		sig  []byte
		at   time.Time
		want Reason
	}{
		{"key period ended, now", sig, time.Time{}, ChainInvalid},
		{"key period ended, asserted inside it", sig, claimed, 0},
		{"key period ended, asserted after it", sig, keyEnded.Add(time.Hour), ChainInvalid},
		{"key period not begun, now", early, time.Time{}, ChainInvalid},
	} {
		_, err := Verify(tc.sig, nil, &VerifyOptions{Roots: []*pki.Certificate{root}, CurrentTime: tc.at})
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestVerifyCancelled: a cancelled context reaches chain building (a long
// search on hostile certificates must honour SIGTERM), and the signer's
// error says why instead of calling the chain invalid for no reason.
func TestVerifyCancelled(t *testing.T) {
	id := newIdentity(t, "gost256-TCA")
	sig, err := Sign(bytes.NewReader(testContent), id.key, id.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = VerifyContext(ctx, sig, nil, &VerifyOptions{Roots: []*pki.Certificate{id.root}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled verification: got %v, want an error wrapping context.Canceled", err)
	}
}
