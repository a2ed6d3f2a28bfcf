package publish

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// testPKI is a root (TC26 512-bit), an issuing CA (TC26 256-bit) and a
// delegated OCSP responder, made with pki from Go GOST keys (tests may hold
// keys; the CA proper keeps them on a token).
type testPKI struct {
	root, issuer, responder          *pki.Certificate
	rootKey, issuerKey, responderKey *gost.PrivateKey
	// chainPath holds the issuing CA and the root, PEM, for -CAfile;
	// issuerPath the issuing CA alone, for -issuer.
	chainPath, issuerPath string
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

// sharedPKI is made once per test binary: GOST key generation is the slow
// part, and no test changes the CA.
func sharedPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

func makePKI() (*testPKI, error) {
	var p testPKI
	var err error
	if p.rootKey, err = gost.GenerateKey(gost.CurveTC26512A, rand.Reader); err != nil {
		return nil, err
	}
	if p.issuerKey, err = gost.GenerateKey(gost.CurveTC26256A, rand.Reader); err != nil {
		return nil, err
	}
	if p.responderKey, err = gost.GenerateKey(gost.CurveTC26256A, rand.Reader); err != nil {
		return nil, err
	}
	now := time.Now()
	rootT := &pki.Certificate{SerialNumber: big.NewInt(1), Subject: pki.Name{Organization: "gostkey tests", CommonName: "Publish Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1}
	if p.root, err = create(rootT, nil, p.rootKey.Public(), p.rootKey); err != nil {
		return nil, err
	}
	issT := &pki.Certificate{SerialNumber: big.NewInt(2), Subject: pki.Name{Organization: "gostkey tests", CommonName: "Publish Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true}
	if p.issuer, err = create(issT, p.root, p.issuerKey.Public(), p.rootKey); err != nil {
		return nil, err
	}
	if p.responder, err = create(responderTemplate(now, true), p.issuer, p.responderKey.Public(), p.issuerKey); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "publish-test-")
	if err != nil {
		return nil, err
	}
	// The directory outlives the tests of this binary; it holds only
	// public certificates.
	p.chainPath, p.issuerPath = filepath.Join(dir, "chain.pem"), filepath.Join(dir, "issuer.pem")
	if err := os.WriteFile(p.chainPath, append(pemCert(p.issuer), pemCert(p.root)...), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.issuerPath, pemCert(p.issuer), 0o600); err != nil {
		return nil, err
	}
	return &p, nil
}

func responderTemplate(now time.Time, nocheck bool) *pki.Certificate {
	t := ResponderTemplate(big.NewInt(3), pki.Name{Organization: "gostkey tests", CommonName: "Publish OCSP Responder"},
		now.Add(-time.Hour), now.AddDate(0, 3, 0))
	if !nocheck {
		t.ExtraExtensions = nil
	}
	return t
}

func create(tmpl, parent *pki.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*pki.Certificate, error) {
	if parent == nil {
		parent = tmpl
		tmpl.PublicKey = pub
	}
	der, err := pki.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return pki.ParseCertificate(der)
}

func pemCert(c *pki.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// leaf makes a certificate from the issuing CA with the given serial, as
// the CA's enrollment would (CRL DP and AIA at the publication URLs).
func (p *testPKI) leaf(t testing.TB, serial *big.Int) *pki.Certificate {
	t.Helper()
	key, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, err := create(&pki.Certificate{SerialNumber: serial, Subject: pki.Name{CommonName: "Holder " + serial.Text(16)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		CRLDistributionPoints: []string{"http://127.0.0.1:8089" + PathCRL}, OCSPServer: []string{"http://127.0.0.1:8089" + PathOCSP},
		IssuingCertificateURL: []string{"http://127.0.0.1:8089" + PathIssuerCert}}, p.issuer, key.Public(), p.issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeClock is the injected clock: Now reads it, After's channels fire
// when Advance passes their time, and waits reports each After call.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	waits  chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: make(chan time.Duration, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	}
	c.mu.Unlock()
	c.waits <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- c.now
	}
	c.timers = kept
}

// countingSigner counts signatures; with gate set, the first signature
// reports on entered and waits for gate to close.
type countingSigner struct {
	crypto.Signer
	n       atomic.Int64
	fail    atomic.Bool
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.gate != nil {
		s.once.Do(func() {
			close(s.entered)
			<-s.gate
		})
	}
	if s.fail.Load() {
		return nil, errors.New("token removed")
	}
	s.n.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

// env is one CA's publication side on a fresh SQLite store.
type env struct {
	pki     *testPKI
	store   store.Store
	clock   *fakeClock
	journal *audit.Journal
	signer  *countingSigner
	crl     *CRLPublisher
	ocsp    *OCSPResponder
}

func newEnv(t testing.TB, cfg CRLConfig) *env {
	t.Helper()
	p := sharedPKI(t)
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ca.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{pki: p, store: s, clock: newFakeClock(time.Now().UTC().Truncate(time.Second)), signer: &countingSigner{Signer: p.issuerKey}}
	e.journal = audit.New(e.clock.Now, nil)
	if cfg.DeltaURL == "" {
		cfg.DeltaURL = "http://127.0.0.1:8089" + PathDeltaCRL
	}
	if e.crl, err = NewCRLPublisher(cfg, CRLDeps{Store: s, Journal: e.journal, Issuer: p.issuer, Signer: e.signer,
		Now: e.clock.Now, After: e.clock.After}); err != nil {
		t.Fatal(err)
	}
	if e.ocsp, err = NewOCSPResponder(OCSPConfig{}, OCSPDeps{Store: s, Issuer: p.issuer, Responder: p.responder,
		Signer: p.responderKey, Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	return e
}

// server serves the publication handler on 127.0.0.1.
func (e *env) server(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(Handler([]*pki.Certificate{e.pki.root}, e.pki.issuer, e.crl, e.ocsp, nil))
	t.Cleanup(srv.Close)
	return srv
}

// issued is a certificate in the store and its parsed form.
type issued struct {
	serial store.Serial
	cert   *pki.Certificate
}

// issue allocates a serial, makes the certificate and stores it.
func (e *env) issue(t testing.TB) issued {
	t.Helper()
	ctx := context.Background()
	var c store.Certificate
	err := e.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		c.Serial, err = tx.AllocateSerial(ctx, rand.Reader, e.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cert := e.pki.leaf(t, new(big.Int).SetBytes(c.Serial[:]))
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	c = store.Certificate{Serial: c.Serial, SubjectDER: cert.RawSubject, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		DER: cert.Raw, SPKIHash: h[:], IssuedAt: e.clock.Now()}
	if err := e.store.Tx(ctx, func(tx store.Tx) error { return tx.InsertCertificate(ctx, &c) }); err != nil {
		t.Fatal(err)
	}
	return issued{c.Serial, cert}
}

// change revokes (reason ≥ 0), holds (-1) or releases (-2) a certificate
// at the clock's time, as the revocation use case's transaction would.
func (e *env) change(t testing.TB, serial store.Serial, reason store.RevocationReason) {
	t.Helper()
	if err := e.setStatus(serial, reason); err != nil {
		t.Fatal(err)
	}
}

// setStatus is change for goroutines other than the test's.
func (e *env) setStatus(serial store.Serial, reason store.RevocationReason) error {
	ctx := context.Background()
	at := e.clock.Now()
	return e.store.Tx(ctx, func(tx store.Tx) error {
		switch reason {
		case hold:
			return tx.Hold(ctx, serial, at)
		case release:
			return tx.Release(ctx, serial, at)
		}
		return tx.Revoke(ctx, serial, reason, at)
	})
}

const (
	hold    store.RevocationReason = -1
	release store.RevocationReason = -2
)

// openssl runs openssl with the gost engine and returns its combined
// output: openssl crl and ocsp say "verify OK" on standard error.
func openssl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	testkit.RequireOpenSSL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+testkit.OpenSSLConfig())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("openssl %v: %v", args, err)
	}
	return out.String(), err
}
