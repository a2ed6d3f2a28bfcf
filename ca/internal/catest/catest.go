// Package catest builds a complete CA for tests: GOST root and issuing
// certificates with in-memory keys (tests only: production keys live on a
// token), a SQLite store in a temporary directory, an audit journal, a
// code hasher, a clock tests move, a CRL publisher that counts, and every
// use case of package ca wired to them.
package catest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// Start is where every test CA's clock starts.
var Start = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// CRL counts Reissue calls.
type CRL struct{ N atomic.Int64 }

func (c *CRL) Reissue(context.Context) error { c.N.Add(1); return nil }

// CA is a test authority.
type CA struct {
	Root, Issuing       *pki.Certificate
	RootKey, IssuingKey *gost.PrivateKey
	Store               store.Store
	Journal             *audit.Journal
	Hasher              *code.Hasher
	Clock               *Clock
	CRL                 *CRL

	Registrar  *ca.Registrar
	Issuer     *ca.Issuer
	Enrollment *ca.Enrollment
	Renewal    *ca.Renewal
	Revocation *ca.Revocation
	Operators  *ca.Operators
}

// PublicHTTPURL and APIURL are the URLs test certificates and links carry.
const (
	PublicHTTPURL = "http://127.0.0.1:8089"
	APIURL        = "https://127.0.0.1:8443"
)

// New makes a CA whose store lives in t's temporary directory.
func New(t testing.TB) *CA {
	t.Helper()
	c := &CA{Clock: &Clock{t: Start}, CRL: &CRL{}}
	c.RootKey = Key(t, gost.CurveTC26512A)
	c.IssuingKey = Key(t, gost.CurveTC26256A)
	c.Root = CACert(t, "Test GOST Root", c.RootKey, nil, nil, Start.Add(-24*time.Hour), 20)
	c.Issuing = CACert(t, "Test GOST Issuing CA", c.IssuingKey, c.Root, c.RootKey, Start.Add(-24*time.Hour), 10)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ca.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c.Store = st
	c.Journal = audit.New(c.Clock.Now, nil)
	key := make([]byte, code.KeySize)
	_, _ = rand.Read(key)
	if c.Hasher, err = code.NewHasher(key); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := c.Clock.Now
	c.Registrar, err = ca.NewRegistrar(ca.RegistrarConfig{APIURL: APIURL}, ca.RegistrarDeps{Store: st, Journal: c.Journal, Hasher: c.Hasher, Now: now})
	must(err)
	c.Issuer, err = ca.NewIssuer(ca.IssuerConfig{
		PublicHTTPURL:   PublicHTTPURL,
		SubjectSignTool: "gostkey softtoken",
		IssuerSignTool:  pki.IssuerSignTool{SignTool: "gostkey", CATool: "gostkey-ca", SignToolCert: "none", CAToolCert: "none"},
	}, ca.IssuerDeps{Store: st, Journal: c.Journal, Signer: c.IssuingKey, Cert: c.Issuing, Now: now})
	must(err)
	c.Enrollment, err = ca.NewEnrollment(ca.EnrollmentConfig{}, ca.EnrollmentDeps{Store: st, Journal: c.Journal, Hasher: c.Hasher,
		Issuer: c.Issuer, Limiter: ca.NewLimiter(1000, time.Minute, now), Now: now})
	must(err)
	c.Renewal, err = ca.NewRenewal(ca.RenewalConfig{}, ca.RenewalDeps{Store: st, Journal: c.Journal, Issuer: c.Issuer,
		Roots: []*pki.Certificate{c.Root}, Limiter: ca.NewLimiter(1000, time.Minute, now), Now: now})
	must(err)
	c.Revocation, err = ca.NewRevocation(ca.RevocationConfig{}, ca.RevocationDeps{Store: st, Journal: c.Journal, Hasher: c.Hasher,
		CRL: c.CRL, Roots: []*pki.Certificate{c.Root}, Issuer: c.Issuing, Limiter: ca.NewLimiter(1000, time.Minute, now), Now: now})
	must(err)
	// Tokens outlive the clock jumps of renewal tests.
	c.Operators, err = ca.NewOperators(ca.OperatorsConfig{MaxTokenLifetime: 20 * 365 * 24 * time.Hour}, ca.OperatorsDeps{Store: st, Journal: c.Journal,
		Limiter: ca.NewLimiter(10, time.Minute, now), Now: now})
	must(err)
	return c
}

// Key makes an in-memory GOST key.
func Key(t testing.TB, c *gost.Curve) *gost.PrivateKey {
	t.Helper()
	k, err := gost.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CACert makes a CA certificate for key, signed by parent (nil:
// self-signed), valid years from notBefore.
func CACert(t testing.TB, cn string, key crypto.Signer, parent *pki.Certificate, parentKey crypto.Signer, notBefore time.Time, years int) *pki.Certificate {
	t.Helper()
	tmpl := &pki.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pki.Name{Country: "RU", Organization: "gostkey test", CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(years, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            -1,
	}
	signer := key
	if parent != nil {
		signer = parentKey
	}
	der, err := pki.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CSR makes a PKCS#10 request for key with a subject the CA must ignore.
func CSR(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := pki.CreateCertificateRequest(rand.Reader, &pki.CertificateRequest{
		Subject: pki.Name{CommonName: "Mallory Requested-Subject", SNILS: "11223344595"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Identity is a valid applicant.
func Identity() store.Identity {
	return store.Identity{Surname: "Иванов", GivenName: "Иван", Patronymic: "Иванович", SNILS: "112-233-445 95", INN: "500100732259", Email: "ivanov@example.ru"}
}
