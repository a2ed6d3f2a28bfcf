// Command cabench measures the CA's two hot paths on this machine: the
// whole enrollment use case (redeem a code, check the CSR, prepare and
// lint, audit the intent, sign, store and audit the result; SQLite, an
// in-memory GOST key — the token's cost is the main bench's) and OCSP
// answers through the publication handler, at 1, 4 and 16 concurrent
// clients; then the CPU time per issuance and the process's RSS once the
// store holds -certs certificates (100000 by default). make bench runs it.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/publish"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

func main() {
	perRow := flag.Int("n", 300, "issuances (and OCSP answers ×10) per concurrency level")
	certs := flag.Int("certs", 100000, "certificates in the store before RSS is read")
	flag.Parse()
	if err := run(*perRow, *certs); err != nil {
		fmt.Fprintln(os.Stderr, "cabench:", err)
		os.Exit(1)
	}
}

type bench struct {
	enroll  *ca.Enrollment
	reg     *ca.Registrar
	handler http.Handler
	issuing *pki.Certificate
	issued  int
	// sample is a certificate issued, for the OCSP requests.
	sample *pki.Certificate
}

var client = netip.MustParseAddr("192.0.2.7")

func run(perRow, certs int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := setup(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Println("CA (SQLite, in-memory GOST keys)")
	for _, clients := range []int{1, 4, 16} {
		n := perRow
		el, cpu, err := b.issue(ctx, n, clients)
		if err != nil {
			return err
		}
		fmt.Printf("  enroll  clients=%-2d  %8.0f issuances/s   %6.0f µs CPU per issuance\n", clients, float64(n)/el.Seconds(),
			float64(cpu.Microseconds())/float64(n))
	}
	for _, clients := range []int{1, 4, 16} {
		n := perRow * 10
		start := time.Now()
		if err := b.ocsp(n, clients); err != nil {
			return err
		}
		fmt.Printf("  ocsp    clients=%-2d  %8.0f responses/s\n", clients, float64(n)/time.Since(start).Seconds())
	}
	if rest := certs - b.issued; rest > 0 {
		if _, _, err := b.issue(ctx, rest, 16); err != nil {
			return err
		}
	}
	rss, err := rssKiB()
	if err != nil {
		return err
	}
	fmt.Printf("  RSS after %d certificates: %.1f MiB\n", b.issued, float64(rss)/1024)
	return nil
}

func setup(ctx context.Context, dir string) (*bench, error) {
	now := time.Now()
	rootKey, err := gost.GenerateKey(gost.CurveTC26512A, rand.Reader)
	if err != nil {
		return nil, err
	}
	issuingKey, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		return nil, err
	}
	ocspKey, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := func(cn string, pathLen int) *pki.Certificate {
		return &pki.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pki.Name{Country: "RU", Organization: "cabench", CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true, MaxPathLen: pathLen,
			MaxPathLenZero: pathLen == 0, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	}
	root, err := create(caTmpl("cabench Root", 1), nil, rootKey, rootKey)
	if err != nil {
		return nil, err
	}
	issuing, err := create(caTmpl("cabench Issuing CA", 0), root, issuingKey, rootKey)
	if err != nil {
		return nil, err
	}
	responder, err := create(publish.ResponderTemplate(big.NewInt(7), pki.Name{CommonName: "cabench OCSP"}, now.Add(-time.Hour), now.AddDate(1, 0, 0)),
		issuing, ocspKey, issuingKey)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ca.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		return nil, err
	}
	journal := audit.New(time.Now, nil)
	key := make([]byte, code.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	hasher, err := code.NewHasher(key)
	if err != nil {
		return nil, err
	}
	reg, err := ca.NewRegistrar(ca.RegistrarConfig{APIURL: "https://127.0.0.1:8443"}, ca.RegistrarDeps{Store: st, Journal: journal, Hasher: hasher, Now: time.Now})
	if err != nil {
		return nil, err
	}
	issuer, err := ca.NewIssuer(ca.IssuerConfig{PublicHTTPURL: "http://127.0.0.1:8089", SubjectSignTool: "gostkey softtoken",
		IssuerSignTool: pki.IssuerSignTool{SignTool: "gostkey", CATool: "gostkey-ca", SignToolCert: "none", CAToolCert: "none"}},
		ca.IssuerDeps{Store: st, Journal: journal, Signer: issuingKey, Cert: issuing, Now: time.Now})
	if err != nil {
		return nil, err
	}
	enroll, err := ca.NewEnrollment(ca.EnrollmentConfig{}, ca.EnrollmentDeps{Store: st, Journal: journal, Hasher: hasher, Issuer: issuer,
		Limiter: ca.NewLimiter(1<<30, time.Minute, time.Now), Now: time.Now})
	if err != nil {
		return nil, err
	}
	ocsp, err := publish.NewOCSPResponder(publish.OCSPConfig{}, publish.OCSPDeps{Store: st, Issuer: issuing, Responder: responder, Signer: ocspKey, Now: time.Now})
	if err != nil {
		return nil, err
	}
	return &bench{enroll: enroll, reg: reg, issuing: issuing, handler: publish.Handler([]*pki.Certificate{root}, issuing, nil, ocsp, nil)}, nil
}

func create(tmpl, parent *pki.Certificate, key *gost.PrivateKey, signer crypto.Signer) (*pki.Certificate, error) {
	der, err := pki.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	return pki.ParseCertificate(der)
}

// issue registers n applicants and makes their keys and CSRs (the
// applicant's work, not timed), then enrolls them with clients goroutines
// and returns the wall and CPU time of that.
func (b *bench) issue(ctx context.Context, n, clients int) (time.Duration, time.Duration, error) {
	type job struct {
		code string
		csr  []byte
	}
	jobs := make(chan job, n)
	for range n {
		r, err := b.reg.Register(ctx, "bench", store.Identity{Surname: "Иванов", GivenName: "Иван", SNILS: "112-233-445 95", INN: "500100732259"})
		if err != nil {
			return 0, 0, err
		}
		k, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
		if err != nil {
			return 0, 0, err
		}
		csr, err := pki.CreateCertificateRequest(rand.Reader, &pki.CertificateRequest{Subject: pki.Name{CommonName: "bench"}}, k)
		if err != nil {
			return 0, 0, err
		}
		jobs <- job{r.Code.Reveal(), csr}
	}
	close(jobs)
	var mu sync.Mutex
	start, cpu0 := time.Now(), cpuTime()
	err := b.parallel(clients, func() error {
		for j := range jobs {
			c, err := b.enroll.Enroll(ctx, ca.EnrollRequest{Code: j.code, CSR: j.csr, Client: client})
			if err != nil {
				return err
			}
			mu.Lock()
			if b.sample == nil {
				b.sample, err = pki.ParseCertificate(c.DER)
			}
			mu.Unlock()
			if err != nil {
				return err
			}
		}
		return nil
	})
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.issued += n
	return el, cpu, err
}

// ocsp asks n times about an issued certificate through the handler (no
// network: the responder's own cost, a store read and a signature).
func (b *bench) ocsp(n, clients int) error {
	if b.sample == nil {
		return errors.New("no certificate issued to ask about")
	}
	req, err := pki.CreateOCSPRequest(b.sample, b.issuing, nil)
	if err != nil {
		return err
	}
	// One answer checked in full first: the rate is of good answers.
	post := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, publish.PathOCSP, bytes.NewReader(req))
		r.Header.Set("Content-Type", publish.TypeOCSPRequest)
		b.handler.ServeHTTP(w, r)
		return w
	}
	w := post()
	resp, err := pki.ParseOCSPResponse(w.Body.Bytes(), b.issuing)
	if err != nil {
		return fmt.Errorf("OCSP answer: %w", err)
	}
	if err := resp.CheckCertificate(b.sample); err != nil {
		return fmt.Errorf("OCSP answer: %w", err)
	}
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	return b.parallel(clients, func() error {
		for range work {
			if w := post(); w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), publish.TypeOCSPResponse) {
				return fmt.Errorf("OCSP: HTTP %d", w.Code)
			}
		}
		return nil
	})
}

func (b *bench) parallel(clients int, f func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKiB reads VmRSS from /proc/self/status.
func rssKiB() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}
