package publish

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

// As the CA runs: the issuing CA's and the responder's keys on the
// softtoken, the CRLs and OCSP answers signed there, and OpenSSL accepting
// both.
func TestTokenKeys(t *testing.T) {
	lib := filepath.Join(testkit.RepoRoot(), "bin", "libgostkey-softtoken.so")
	if _, err := os.Stat(lib); err != nil {
		testkit.Missing(t, "%s: run make build", lib)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(dir, "tokens"))
	// A cheap PIN KDF keeps the test fast.
	t.Setenv("GOSTKEY_SOFTTOKEN_CONF", testkit.WriteFile(t, "softtoken.conf", []byte("scrypt_log2n = 10\n")))
	ctx := context.Background()
	m, err := pkcs11.Open(lib, pkcs11.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := m.InitToken(ctx, "ca", pkcs11.NewPIN([]byte("so-pin-123456")), pkcs11.NewPIN([]byte("user-pin-123456")))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, pkcs11.PINFile(testkit.WriteFile(t, "pin", []byte("user-pin-123456\n")))); err != nil {
		t.Fatal(err)
	}
	caKey, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: "issuing", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	respKey, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: "ocsp", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}

	// The shared root certifies a token-held issuing CA, which certifies
	// the token-held responder.
	e := newEnv(t, CRLConfig{})
	p := *e.pki
	now := time.Now()
	if p.issuer, err = create(&pki.Certificate{SerialNumber: big.NewInt(20), Subject: pki.Name{CommonName: "Token Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true}, e.pki.root, caKey.Public(), e.pki.rootKey); err != nil {
		t.Fatal(err)
	}
	if p.responder, err = create(ResponderTemplate(big.NewInt(21), pki.Name{CommonName: "Token OCSP"}, now.Add(-time.Hour), now.AddDate(0, 1, 0)),
		p.issuer, respKey.Public(), caKey); err != nil {
		t.Fatal(err)
	}
	p.issuerPath = testkit.WriteFile(t, "issuer.pem", pemCert(p.issuer))
	p.chainPath = testkit.WriteFile(t, "chain.pem", append(pemCert(p.issuer), pemCert(p.root)...))
	crl, err := NewCRLPublisher(CRLConfig{}, CRLDeps{Store: e.store, Journal: e.journal, Issuer: p.issuer, Signer: caKey, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ocsp, err := NewOCSPResponder(OCSPConfig{}, OCSPDeps{Store: e.store, Issuer: p.issuer, Responder: p.responder, Signer: respKey, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler([]*pki.Certificate{p.root}, p.issuer, crl, ocsp, nil))
	defer srv.Close()

	var serial store.Serial
	if err := e.store.Tx(ctx, func(tx store.Tx) error {
		serial, err = tx.AllocateSerial(ctx, rand.Reader, now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	leafKey, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := create(&pki.Certificate{SerialNumber: new(big.Int).SetBytes(serial[:]), Subject: pki.Name{CommonName: "Token holder"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)}, p.issuer, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	sc := store.Certificate{Serial: serial, SubjectDER: leaf.RawSubject, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
		DER: leaf.Raw, SPKIHash: h[:], IssuedAt: now}
	if err := e.store.Tx(ctx, func(tx store.Tx) error { return tx.InsertCertificate(ctx, &sc) }); err != nil {
		t.Fatal(err)
	}

	wantStatus(t, opensslOCSP(t, &p, srv.URL, leaf, "-md_gost12_256"), "good")
	if err := crl.Reissue(ctx); err != nil {
		t.Fatal(err)
	}
	e.change(t, serial, store.ReasonKeyCompromise)
	wantStatus(t, opensslOCSP(t, &p, srv.URL, leaf), "revoked")
	if err := crl.Reissue(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{PathCRL, PathDeltaCRL} {
		out := opensslCRL(t, &p, fetch(t, srv.URL+path, http.StatusOK, TypeCRL))
		mustContain(t, path, out, opensslSerial(serial), "Key Compromise")
	}
}
