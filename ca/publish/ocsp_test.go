package publish

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

func certFile(t testing.TB, c *pki.Certificate) string {
	t.Helper()
	return testkit.WriteFile(t, "cert.pem", pemCert(c))
}

// opensslOCSP asks the responder with `openssl ocsp` (which sends a nonce
// and checks the echo) and returns what it printed; the response must
// verify against the CA file.
func opensslOCSP(t testing.TB, p *testPKI, srvURL string, cert *pki.Certificate, digest ...string) string {
	t.Helper()
	// openssl wants the CertID digest before -cert.
	args := append(append([]string{"ocsp", "-issuer", p.issuerPath}, digest...),
		"-cert", certFile(t, cert), "-url", srvURL+PathOCSP, "-CAfile", p.chainPath)
	out, err := openssl(t, args...)
	if err != nil {
		t.Fatalf("openssl ocsp: %v: %s", err, out)
	}
	if !strings.Contains(out, "Response verify OK") || strings.Contains(out, "WARNING") || strings.Contains(out, "rror") {
		t.Fatalf("openssl ocsp did not verify the response cleanly:\n%s", out)
	}
	return out
}

func wantStatus(t testing.TB, out, status string) {
	t.Helper()
	if !strings.Contains(out, ": "+status+"\n") {
		t.Fatalf("openssl ocsp does not say %s:\n%s", status, out)
	}
}

func TestOCSPOpenSSL(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	srv := e.server(t)
	good, revoked := e.issue(t), e.issue(t)
	e.change(t, revoked.serial, store.ReasonKeyCompromise)
	// Issued by our CA but never stored: the responder does not know it.
	stray := e.pki.leaf(t, new(big.Int).SetBytes(bytes.Repeat([]byte{0x41}, 20)))

	for _, digest := range [][]string{nil, {"-sha256"}, {"-md_gost12_256"}} {
		name := "sha1"
		if digest != nil {
			name = digest[0]
		}
		t.Run(name, func(t *testing.T) {
			wantStatus(t, opensslOCSP(t, e.pki, srv.URL, good.cert, digest...), "good")
			out := opensslOCSP(t, e.pki, srv.URL, revoked.cert, digest...)
			wantStatus(t, out, "revoked")
			mustContain(t, "revoked", out, "Reason: keyCompromise", "Revocation Time")
			wantStatus(t, opensslOCSP(t, e.pki, srv.URL, stray, digest...), "unknown")
		})
	}

	// The responder profile as OpenSSL reads it.
	out, err := openssl(t, "x509", "-in", certFile(t, e.pki.responder), "-noout", "-text")
	if err != nil {
		t.Fatalf("openssl x509: %v: %s", err, out)
	}
	mustContain(t, "responder certificate", out, "OCSP Signing", "OCSP No Check", "Digital Signature")

	// A revocation committed is answered at once: no CRL run in between.
	e.change(t, good.serial, store.ReasonAffiliationChanged)
	out = opensslOCSP(t, e.pki, srv.URL, good.cert, "-md_gost12_256")
	wantStatus(t, out, "revoked")
	mustContain(t, "revoked at once", out, "Reason: affiliationChanged")

	// A certificate of another CA: unauthorized.
	otherKey, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := create(&pki.Certificate{SerialNumber: big.NewInt(9), Subject: pki.Name{CommonName: "Other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign,
		BasicConstraintsValid: true, IsCA: true}, nil, otherKey.Public(), otherKey)
	if err != nil {
		t.Fatal(err)
	}
	otherLeaf, err := create(&pki.Certificate{SerialNumber: new(big.Int).SetBytes(good.serial[:]), Subject: pki.Name{CommonName: "stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, other, otherKey.Public(), otherKey)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = openssl(t, "ocsp", "-issuer", certFile(t, other), "-cert", certFile(t, otherLeaf), "-url", srv.URL+PathOCSP, "-CAfile", e.pki.chainPath)
	mustContain(t, "another issuer", out, "Responder Error: unauthorized")

	// Garbage: malformedRequest, as OpenSSL reads it.
	resp, err := http.Post(srv.URL+PathOCSP, TypeOCSPRequest, strings.NewReader("not DER"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != TypeOCSPResponse {
		t.Fatalf("malformed request: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	out, _ = openssl(t, "ocsp", "-respin", testkit.WriteFile(t, "resp.der", body), "-resp_text", "-noverify")
	mustContain(t, "malformed", out, "Responder Error: malformedrequest (1)")
}

// ocspGET asks by RFC 5019 GET with a request whose base64 holds "//" and
// "+", in the path as is or escaped, and returns the parsed response.
func ocspGET(t testing.TB, srvURL string, p *testPKI, cert *pki.Certificate, nonce []byte, escape bool) (*pki.OCSPResponse, []byte) {
	t.Helper()
	req, err := pki.CreateOCSPRequest(cert, p.issuer, &pki.OCSPRequestOptions{Hash: pki.CertIDSHA256, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(req)
	if !strings.Contains(b64, "//") {
		t.Fatalf("the test request's base64 %s has no //", b64)
	}
	if escape {
		b64 = url.PathEscape(b64)
	}
	resp, err := http.Get(srvURL + PathOCSP + "/" + b64)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != TypeOCSPResponse {
		t.Fatalf("GET: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	r, err := pki.ParseOCSPResponse(der, p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return r, der
}

func TestOCSPGet(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	srv := e.server(t)
	c := e.issue(t)
	nonce := bytes.Repeat([]byte{0xff}, 16) // base64 "////…"
	for _, escape := range []bool{false, true} {
		r, der := ocspGET(t, srv.URL, e.pki, c.cert, nonce, escape)
		if err := r.CheckNonce(nonce); err != nil || !r.NonceMatched {
			t.Fatalf("nonce %x not echoed: %v", r.Nonce, err)
		}
		now := e.clock.Now()
		sr, ok := r.Lookup(c.cert.SerialNumber)
		if !ok || sr.Status != pki.OCSPGood || sr.CertID.Hash != pki.CertIDSHA256 || !r.ProducedAt.Equal(now) ||
			!sr.ThisUpdate.Equal(now) || !sr.NextUpdate.Equal(now.Add(DefaultOCSPValidity)) {
			t.Fatalf("GET answer %+v, produced %v", sr, r.ProducedAt)
		}
		if len(r.ResponderKeyHash) == 0 || len(r.Certificates) != 1 || !bytes.Equal(r.Certificates[0].Raw, e.pki.responder.Raw) {
			t.Fatal("the response does not name the responder by key and carry its certificate")
		}
		// -no_nonce: openssl would compare the echo with a nonce of its
		// own; the echo was checked above.
		out, err := openssl(t, "ocsp", "-respin", testkit.WriteFile(t, "resp.der", der), "-issuer", e.pki.issuerPath,
			"-sha256", "-cert", certFile(t, c.cert), "-CAfile", e.pki.chainPath, "-no_nonce")
		if err != nil || !strings.Contains(out, "Response verify OK") {
			t.Fatalf("openssl ocsp -respin: %v:\n%s", err, out)
		}
		wantStatus(t, out, "good")
	}
	// Not base64: malformedRequest.
	for _, junk := range []string{"!!not-base64!!", "", "QUJD"} {
		resp, err := http.Get(srv.URL + PathOCSP + "/" + junk)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var re *pki.OCSPResponseError
		if _, err := pki.ParseOCSPResponse(der, nil); !errors.As(err, &re) || re.Status != pki.OCSPMalformedRequest {
			t.Errorf("GET %q: %v", junk, err)
		}
	}
}

// Through pki's own client (POST, Streebog-256 CertIDs, a nonce): holds
// answer revoked with certificateHold, releases good again, each at once.
func TestOCSPHoldRelease(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	srv := e.server(t)
	c := e.issue(t)
	ctx := context.Background()
	query := func() *pki.OCSPSingleResponse {
		t.Helper()
		r, err := pki.QueryOCSP(ctx, srv.URL+PathOCSP, c.cert, e.pki.issuer, pki.CertIDStreebog256)
		if err != nil {
			t.Fatal(err)
		}
		if !r.NonceMatched {
			t.Fatal("nonce not echoed")
		}
		sr, _ := r.Lookup(c.cert.SerialNumber)
		return sr
	}
	if sr := query(); sr.Status != pki.OCSPGood {
		t.Fatalf("status %v", sr.Status)
	}
	e.clock.Advance(time.Minute)
	heldAt := e.clock.Now()
	e.change(t, c.serial, hold)
	if sr := query(); sr.Status != pki.OCSPRevoked || sr.RevocationReason != pki.ReasonCertificateHold || !sr.RevokedAt.Equal(heldAt) {
		t.Fatalf("held: %v %v %v", sr.Status, sr.RevocationReason, sr.RevokedAt)
	}
	e.clock.Advance(time.Minute)
	e.change(t, c.serial, release)
	if sr := query(); sr.Status != pki.OCSPGood {
		t.Fatalf("released: %v", sr.Status)
	}
	e.change(t, c.serial, store.ReasonUnspecified)
	if sr := query(); sr.Status != pki.OCSPRevoked || sr.RevocationReason != pki.ReasonUnspecified {
		t.Fatalf("revoked: %v %v", sr.Status, sr.RevocationReason)
	}
}

// Respond's answers without HTTP: errors are unsigned statuses, and a
// store that fails gives internalError rather than a wrong "good".
func TestOCSPRespondErrors(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	ctx := context.Background()
	c := e.issue(t)
	status := func(der []byte) pki.OCSPResponseStatus {
		t.Helper()
		_, err := pki.ParseOCSPResponse(der, e.pki.issuer)
		var re *pki.OCSPResponseError
		if err == nil {
			return pki.OCSPSuccessful
		}
		if !errors.As(err, &re) {
			t.Fatal(err)
		}
		return re.Status
	}
	req, err := pki.CreateOCSPRequest(c.cert, e.pki.issuer, &pki.OCSPRequestOptions{Nonce: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.ParseOCSPResponse(e.ocsp.Respond(ctx, req), e.pki.issuer)
	if err != nil || !bytes.Equal(r.Nonce, []byte{1}) {
		t.Fatalf("one-octet nonce: %x, %v", r.Nonce, err)
	}
	// A nonce over RFC 8954's 32 octets is answered without one.
	parsed, err := pki.ParseOCSPRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte{7}, 33)
	v, _ := asn1.Marshal(long)
	parsed.Nonce, parsed.Extensions = long, []pkix.Extension{{Id: pki.OIDExtensionOCSPNonce, Value: v}}
	r, err = pki.ParseOCSPResponse(e.ocsp.respond(ctx, parsed), e.pki.issuer)
	if err != nil || r.Nonce != nil {
		t.Fatalf("33-octet nonce: echoed %x, %v", r.Nonce, err)
	}
	// More CertIDs than allowed: malformedRequest.
	parsed.CertIDs = slices.Repeat(parsed.CertIDs, DefaultOCSPMaxCertIDs+1)
	if got := status(e.ocsp.respond(ctx, parsed)); got != pki.OCSPMalformedRequest {
		t.Errorf("%d CertIDs: %v", len(parsed.CertIDs), got)
	}
	parsed.CertIDs = parsed.CertIDs[:DefaultOCSPMaxCertIDs]
	if r, err := pki.ParseOCSPResponse(e.ocsp.respond(ctx, parsed), e.pki.issuer); err != nil || len(r.Responses) != DefaultOCSPMaxCertIDs {
		t.Errorf("%d CertIDs: %v", len(parsed.CertIDs), err)
	}
	for name, tc := range map[string]struct {
		der  []byte
		want pki.OCSPResponseStatus
	}{
		"empty":     {nil, pki.OCSPMalformedRequest},
		"truncated": {req[:len(req)-1], pki.OCSPMalformedRequest},
		"trailing":  {append(append([]byte{}, req...), 0), pki.OCSPMalformedRequest},
		"good":      {req, pki.OCSPSuccessful},
	} {
		if got := status(e.ocsp.Respond(ctx, tc.der)); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	// The responder certificate expired under the clock: internalError.
	e.clock.Advance(e.pki.responder.NotAfter.Sub(e.clock.Now()) + time.Second)
	if got := status(e.ocsp.Respond(ctx, req)); got != pki.OCSPInternalError {
		t.Errorf("expired responder: %v", got)
	}
	e.clock.Advance(-(e.pki.responder.NotAfter.Sub(e.clock.Now()) + time.Hour))
	e.store.Close()
	if got := status(e.ocsp.Respond(ctx, req)); got != pki.OCSPInternalError {
		t.Errorf("closed store: %v", got)
	}
}

func TestNewOCSPResponderRejects(t *testing.T) {
	p := sharedPKI(t)
	e := newEnv(t, CRLConfig{})
	now := time.Now()
	withoutNoCheck, err := create(responderTemplate(now, false), p.issuer, p.responderKey.Public(), p.issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	noEKU := responderTemplate(now, true)
	noEKU.ExtKeyUsage = nil
	withoutEKU, err := create(noEKU, p.issuer, p.responderKey.Public(), p.issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	byRoot, err := create(responderTemplate(now, true), p.root, p.responderKey.Public(), p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	ok := OCSPDeps{Store: e.store, Issuer: p.issuer, Responder: p.responder, Signer: p.responderKey}
	for name, tc := range map[string]struct {
		cfg  OCSPConfig
		deps func(OCSPDeps) OCSPDeps
	}{
		"no ocsp-nocheck":       {OCSPConfig{}, func(d OCSPDeps) OCSPDeps { d.Responder = withoutNoCheck; return d }},
		"no id-kp-OCSPSigning":  {OCSPConfig{}, func(d OCSPDeps) OCSPDeps { d.Responder = withoutEKU; return d }},
		"issued by the root":    {OCSPConfig{}, func(d OCSPDeps) OCSPDeps { d.Responder = byRoot; return d }},
		"signer of another key": {OCSPConfig{}, func(d OCSPDeps) OCSPDeps { d.Signer = p.issuerKey; return d }},
		"responder expired":     {OCSPConfig{}, func(d OCSPDeps) OCSPDeps { d.Now = func() time.Time { return now.AddDate(1, 0, 0) }; return d }},
		"no store":              {OCSPConfig{}, func(d OCSPDeps) OCSPDeps { d.Store = nil; return d }},
		"validity under minute": {OCSPConfig{Validity: time.Second}, nil},
		"negative max_cert_ids": {OCSPConfig{MaxCertIDs: -1}, nil},
	} {
		d := ok
		if tc.deps != nil {
			d = tc.deps(d)
		}
		if _, err := NewOCSPResponder(tc.cfg, d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewOCSPResponder(OCSPConfig{}, ok); err != nil {
		t.Errorf("good deps: %v", err)
	}
}

// FuzzOCSPRespond: whatever bytes arrive, the answer is a well-formed
// OCSP response, signed and verifiable when successful, and never says
// good about a serial the store does not hold.
func FuzzOCSPRespond(f *testing.F) {
	e := newEnv(f, CRLConfig{})
	c := e.issue(f)
	for _, h := range []pki.CertIDHash{pki.CertIDSHA1, pki.CertIDSHA256, pki.CertIDStreebog256} {
		req, err := pki.CreateOCSPRequest(c.cert, e.pki.issuer, &pki.OCSPRequestOptions{Hash: h, Nonce: []byte("0123456789abcdef")})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(req)
	}
	f.Add([]byte{0x30, 0x00})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := pki.ParseOCSPResponse(e.ocsp.Respond(ctx, data), e.pki.issuer)
		var re *pki.OCSPResponseError
		if errors.As(err, &re) {
			return
		}
		if err != nil {
			t.Fatalf("answer does not parse or verify: %v", err)
		}
		for _, sr := range r.Responses {
			if sr.Status == pki.OCSPGood && sr.CertID.SerialNumber.Cmp(c.cert.SerialNumber) != 0 {
				t.Fatalf("good for serial %v, which is not in the store", sr.CertID.SerialNumber)
			}
		}
	})
}
