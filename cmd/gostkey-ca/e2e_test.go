package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/config"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

// binary builds gostkey-ca once per test run.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gostkey-ca")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func softtokenModule(t *testing.T) string {
	t.Helper()
	lib := filepath.Join(testkit.RepoRoot(), "bin", "libgostkey-softtoken.so")
	if _, err := os.Stat(lib); err != nil {
		testkit.Missing(t, "%s: run make build", lib)
	}
	return lib
}

type ran struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, bin string, args ...string) ran {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return ran{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// cheapSofttoken gives the softtoken of this test a cheap scrypt cost: the
// tests log in many times, and the KDF's real cost is not what they test.
func cheapSofttoken(t *testing.T, tmp string) {
	t.Helper()
	conf := filepath.Join(tmp, "softtoken.conf")
	if err := os.WriteFile(conf, []byte("scrypt_log2n = 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOSTKEY_SOFTTOKEN_CONF", conf)
}

// initCA runs gostkey-ca init --dir dir with args and returns the admin
// token it prints on its last line.
func initCA(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	r := runBin(t, bin, append([]string{"init", "--dir", dir}, args...)...)
	if r.code != 0 {
		t.Fatalf("init: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return lines[len(lines)-1]
}

// testCSR is a PKCS#10 request of a fresh Go key, base64 as /v1/enroll
// takes it: where the token is not the point of a test.
func testCSR(t *testing.T) string {
	t.Helper()
	key, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.CreateCertificateRequest(rand.Reader, &pki.CertificateRequest{Subject: pki.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// listing is DIR's tree as names, sizes and modification times.
func listing(t *testing.T, dir string) string {
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %v %v\n", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The whole service as a user runs it: init, serve on free loopback ports,
// register over HTTPS, enroll a softtoken key, openssl verifies the
// certificate, a second redemption is refused, SIGTERM, audit verify.
func TestEndToEnd(t *testing.T) {
	testkit.RequireOpenSSL(t)
	module := softtokenModule(t)
	bin := binary(t)
	tmp := t.TempDir()
	cheapSofttoken(t, tmp)
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(tmp, "holder-tokens"))
	if err := os.Mkdir(filepath.Join(tmp, "holder-tokens"), 0o700); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(tmp, "ca")
	adminToken := initCA(t, bin, dir, "--module", module)
	if b, _ := os.ReadFile(filepath.Join(dir, "admin.token")); strings.TrimSpace(string(b)) != adminToken || !strings.HasPrefix(adminToken, "gsk_") {
		t.Fatal("init did not print the admin token it stored")
	}
	for _, f := range []string{"admin.token", "token.pin", "code.key", "ca.db"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	before := listing(t, dir)
	if r := runBin(t, bin, "init", "--dir", dir, "--module", module); r.code != 1 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("second init: %d %s", r.code, r.stderr)
	}
	if listing(t, dir) != before {
		t.Error("the refused second init changed DIR")
	}
	cfgPath := filepath.Join(dir, "ca.json")
	if r := runBin(t, bin, "serve", "--config", cfgPath, "--validate"); r.code != 0 {
		t.Errorf("--validate: %d %s", r.code, r.stderr)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(dir, "bad.json")
	raw, _ := os.ReadFile(cfgPath)
	if err := os.WriteFile(badCfg, bytes.Replace(raw, []byte(`"max_failures": 5`), []byte(`"max_failures": 0`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, bin, "serve", "--config", badCfg, "--validate"); r.code != 2 || !strings.Contains(r.stderr, "enrollment.max_failures") {
		t.Errorf("--validate on a bad config: %d %s", r.code, r.stderr)
	}
	// A certificate that is not its key's: serve refuses to start.
	if err := os.WriteFile(badCfg, bytes.Replace(raw, []byte(`"issuing": "issuing.pem"`), []byte(`"issuing": "ocsp.pem"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, bin, "serve", "--config", badCfg); r.code != 1 || !strings.Contains(r.stderr, "does not match its certificate") {
		t.Errorf("serve with a mismatched certificate: %d %s", r.code, r.stderr)
	}
	os.Remove(badCfg)

	srv := startServer(t, bin, cfgPath, cfg)
	api := func(method, path, token string, body any) (int, []byte) {
		t.Helper()
		return srv.api(t, method, path, token, body)
	}
	var op, tok, order map[string]any
	// The admin reads the effective policy settings, and nothing secret.
	st, b := api("GET", "/v1/settings", adminToken, nil)
	if st != 200 || !strings.Contains(string(b), `"code_ttl":"15m0s"`) || !strings.Contains(string(b), `"window":"30d"`) ||
		strings.Contains(string(b), "pin") || strings.Contains(string(b), "listen") {
		t.Errorf("GET /v1/settings: %d %s", st, b)
	}
	st, b = api("POST", "/v1/operators", adminToken, map[string]string{"name": "registrar-1", "role": "registrar"})
	if st != 201 || json.Unmarshal(b, &op) != nil {
		t.Fatalf("create operator: %d %s", st, b)
	}
	st, b = api("POST", "/v1/operators/"+op["operator_id"].(string)+"/tokens", adminToken, map[string]any{"expires_in": "1h", "cidrs": []string{"127.0.0.0/8"}})
	if st != 201 || json.Unmarshal(b, &tok) != nil {
		t.Fatalf("create token: %d %s", st, b)
	}
	regToken := tok["token"].(string)
	st, b = api("POST", "/v1/orders", regToken, map[string]string{"surname": "Петрова", "given_name": "Анна", "snils": "087-654-303 00", "inn": "773301001840"})
	if st != 201 || json.Unmarshal(b, &order) != nil {
		t.Fatalf("register: %d %s", st, b)
	}

	// The holder's key, on their own softtoken, and its CSR signed there.
	holderKey, csr := holderCSR(t, module)
	st, b = api("POST", "/v1/enroll", "", map[string]string{"code": order["code"].(string), "csr": base64.StdEncoding.EncodeToString(csr)})
	var issued struct {
		Certificate string   `json:"certificate"`
		Chain       []string `json:"chain"`
		Serial      string   `json:"serial"`
	}
	if st != 201 || json.Unmarshal(b, &issued) != nil {
		t.Fatalf("enroll: %d %s", st, b)
	}
	certFile := testkit.WriteFile(t, "leaf.pem", []byte(issued.Certificate))
	issuingFile := testkit.WriteFile(t, "issuing.pem", []byte(issued.Chain[0]))
	rootFile := testkit.WriteFile(t, "root.pem", []byte(issued.Chain[1]))
	out := testkit.OpenSSL(t, nil, "verify", "-CAfile", rootFile, "-untrusted", issuingFile, "-purpose", "smimesign", certFile)
	if !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify: %s", out)
	}
	text := string(testkit.OpenSSL(t, nil, "x509", "-in", certFile, "-noout", "-subject", "-ext", "crlDistributionPoints,authorityInfoAccess"))
	for _, want := range []string{"Петрова", cfg.PublicHTTPURL + "/crl/issuing.crl", cfg.PublicHTTPURL + "/ocsp", cfg.PublicHTTPURL + "/ca/issuing.crt"} {
		if !strings.Contains(text, want) && !strings.Contains(text, strings.ReplaceAll(want, "Петрова", `\D0\9F`)) {
			t.Errorf("certificate lacks %q:\n%s", want, text)
		}
	}
	// The caIssuers URL serves the issuing certificate.
	resp, err := http.Get(cfg.PublicHTTPURL + "/ca/issuing.crt")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if c, err := pki.ParseCertificate(der); err != nil || resp.Header.Get("Content-Type") != "application/pkix-cert" || !strings.Contains(issued.Chain[0], base64.StdEncoding.EncodeToString(c.Raw)[:40]) {
		t.Errorf("caIssuers: %v %s", err, resp.Header.Get("Content-Type"))
	}

	st, b = api("POST", "/v1/enroll", "", map[string]string{"code": order["code"].(string), "csr": base64.StdEncoding.EncodeToString(csr)})
	if st != 409 || !strings.Contains(string(b), `"code_used"`) {
		t.Errorf("second redemption: %d %s", st, b)
	}

	// Renewal with a request signed on the token: a new certificate is a
	// year from its window, and the answer says when it opens.
	leaf, err := pki.ParseCertificates([]byte(issued.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	_, newCSR := holderCSR(t, module)
	renewal, err := cms.Sign(bytes.NewReader(newCSR), holderKey, leaf[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	st, b = api("POST", "/v1/renew", "", map[string]string{"request": base64.StdEncoding.EncodeToString(renewal)})
	opens := leaf[0].NotAfter.Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if st != 409 || !strings.Contains(string(b), `"renewal_not_open"`) || !strings.Contains(string(b), `"window_opens_at":"`+opens+`"`) {
		t.Errorf("renewal of a new certificate: %d %s", st, b)
	}

	// OCSP at the AIA URL: good, then revoked at once after the registrar
	// revokes; the CRL reissued at the CRL DP URL lists it.
	ocsp := func() string {
		return string(testkit.OpenSSL(t, nil, "ocsp", "-issuer", issuingFile, "-cert", certFile, "-url", cfg.PublicHTTPURL+"/ocsp",
			"-CAfile", rootFile, "-verify_other", issuingFile))
	}
	if out := ocsp(); !strings.Contains(out, certFile+": good") {
		t.Errorf("OCSP before revocation:\n%s", out)
	}
	st, b = api("POST", "/v1/certificates/"+issued.Serial+"/revoke", regToken, map[string]string{"reason": "keyCompromise"})
	if st != 200 || !strings.Contains(string(b), `"status":"revoked"`) {
		t.Fatalf("revoke: %d %s", st, b)
	}
	if out := ocsp(); !strings.Contains(out, certFile+": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
		t.Errorf("OCSP after revocation:\n%s", out)
	}
	resp, err = http.Get(cfg.PublicHTTPURL + "/crl/issuing.crl")
	if err != nil {
		t.Fatal(err)
	}
	crlDER, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Errorf("CRL content type %q", resp.Header.Get("Content-Type"))
	}
	chainFile := testkit.WriteFile(t, "chain.pem", []byte(issued.Chain[0]+issued.Chain[1]))
	crlText := string(testkit.OpenSSL(t, crlDER, "crl", "-inform", "DER", "-CAfile", chainFile, "-noout", "-text"))
	if !strings.Contains(strings.ToLower(strings.ReplaceAll(crlText, ":", "")), issued.Serial) {
		t.Errorf("the CRL does not list %s:\n%s", issued.Serial, crlText)
	}
	crlPEM := testkit.WriteFile(t, "crl.pem", testkit.OpenSSL(t, crlDER, "crl", "-inform", "DER"))
	out, err = testkit.TryOpenSSL(t, nil, "verify", "-crl_check", "-CRLfile", crlPEM, "-CAfile", rootFile, "-untrusted", issuingFile, certFile)
	if err == nil || !strings.Contains(err.Error()+string(out), "certificate revoked") {
		t.Errorf("openssl verify -crl_check after revocation: %v %s", err, out)
	}

	// SIGTERM drains and exits 0.
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, srv.stderr.String())
	}
	if log := srv.stderr.String(); strings.Contains(log, order["code"].(string)) || strings.Contains(log, regToken) || strings.Contains(log, adminToken) {
		t.Error("a secret reached the server log")
	}
	r := runBin(t, bin, "audit", "verify", "--config", cfgPath)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "audit journal intact: ") {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// ca.init, operator.create and token.create (init's admin, then the
	// registrar), crl.publish for the full and delta CRLs and the root's
	// CRL serve makes at start, order.create, order.redeem, cert.intent, cert.issue,
	// cert.revoke and the two CRLs after it; a checkpoint at the end of
	// init and one at shutdown.
	if want := "audit journal intact: 15 records, 2 checkpoints\n"; r.stdout != want {
		t.Errorf("audit verify: %q, want %q", r.stdout, want)
	}
}

// server is a running gostkey-ca serve.
type server struct {
	cmd     *exec.Cmd
	exited  chan error
	stderr  *bytes.Buffer
	client  *http.Client
	apiURL  string
	stopped bool
}

// startServer runs serve and waits until the API answers; the test's
// cleanup kills it if the test did not stop it.
func startServer(t *testing.T, bin, cfgPath string, cfg *config.Config) *server {
	t.Helper()
	s := &server{cmd: exec.Command(bin, "serve", "--config", cfgPath), exited: make(chan error, 1), stderr: &bytes.Buffer{}, apiURL: cfg.APIURL}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if !s.stopped {
			_ = s.stop(syscall.SIGKILL)
		}
	})
	pool := x509.NewCertPool()
	rootPEM, err := os.ReadFile(cfg.Path(cfg.TLS.Root))
	if err != nil || !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("TLS root: %v", err)
	}
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
	waitUp(t, s.client, cfg.APIURL+"/v1/roots", s.exited, s.stderr)
	return s
}

// stop signals the server and waits for it to exit.
func (s *server) stop(sig os.Signal) error {
	s.stopped = true
	if err := s.cmd.Process.Signal(sig); err != nil {
		return err
	}
	return <-s.exited
}

// request calls the API; safe from any goroutine.
func (s *server) request(method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.apiURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (s *server) api(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	st, b, err := s.request(method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return st, b
}

// waitUp polls url until it answers 200 (the server is ready) or the
// server exits.
func waitUp(t *testing.T, c *http.Client, url string, exited chan error, stderr *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("serve did not come up\n%s", stderr.String())
		case <-time.After(delay):
		}
	}
}

// holderCSR makes a GOST key on a fresh softtoken and a PKCS#10 request
// signed on the token.
func holderCSR(t *testing.T, module string) (*pkcs11.Key, []byte) {
	t.Helper()
	m, err := pkcs11.Open(module, pkcs11.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()
	tok, err := m.InitToken(ctx, "holder", pkcs11.NewPIN([]byte("87654321")), pkcs11.NewPIN([]byte("12345678")))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, func(context.Context, pkcs11.PINRequest) (pkcs11.PIN, error) {
		return pkcs11.NewPIN([]byte("12345678")), nil
	}); err != nil {
		t.Fatal(err)
	}
	key, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: "state-key", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.CreateCertificateRequest(rand.Reader, &pki.CertificateRequest{Subject: pki.Name{CommonName: "ignored by the CA"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// SIGKILL in the middle of a burst of enrollments loses nothing: every
// certificate a client received is stored, every stored certificate has its
// cert.issue record, the journal verifies, and serve starts again.
func TestSIGKILLDuringIssuance(t *testing.T) {
	module := softtokenModule(t)
	bin := binary(t)
	tmp := t.TempDir()
	cheapSofttoken(t, tmp)
	dir := filepath.Join(tmp, "ca")
	adminToken := initCA(t, bin, dir, "--module", module)
	cfgPath := filepath.Join(dir, "ca.json")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin, cfgPath, cfg)
	var op, tok map[string]any
	if st, b := srv.api(t, "POST", "/v1/operators", adminToken, map[string]string{"name": "r", "role": "registrar"}); st != 201 || json.Unmarshal(b, &op) != nil {
		t.Fatalf("operator: %d %s", st, b)
	}
	if st, b := srv.api(t, "POST", "/v1/operators/"+op["operator_id"].(string)+"/tokens", adminToken, map[string]string{"expires_in": "1h"}); st != 201 || json.Unmarshal(b, &tok) != nil {
		t.Fatalf("token: %d %s", st, b)
	}
	const orders = 40
	type job struct{ code, csr string }
	jobs := make(chan job, orders)
	for range orders {
		var o map[string]any
		st, b := srv.api(t, "POST", "/v1/orders", tok["token"].(string), map[string]string{"surname": "Петрова", "given_name": "Анна", "snils": "08765430300", "inn": "773301001840"})
		if st != 201 || json.Unmarshal(b, &o) != nil {
			t.Fatalf("register: %d %s", st, b)
		}
		jobs <- job{o["code"].(string), testCSR(t)}
	}
	close(jobs)

	var mu sync.Mutex
	var received []string
	tenth := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				st, b, err := srv.request("POST", "/v1/enroll", "", map[string]string{"code": j.code, "csr": j.csr})
				if err != nil || st != 201 {
					continue // the server is gone
				}
				var out struct{ Serial string }
				if json.Unmarshal(b, &out) != nil {
					continue
				}
				mu.Lock()
				received = append(received, out.Serial)
				if len(received) == 10 {
					close(tenth)
				}
				mu.Unlock()
			}
		})
	}
	<-tenth
	if err := srv.stop(syscall.SIGKILL); err == nil {
		t.Fatal("serve survived SIGKILL")
	}
	wg.Wait()

	if r := runBin(t, bin, "audit", "verify", "--config", cfgPath); r.code != 0 || !strings.HasPrefix(r.stdout, "audit journal intact: ") {
		t.Fatalf("audit verify after SIGKILL: %d %s %s", r.code, r.stdout, r.stderr)
	}
	st, err := sqlite.Open(context.Background(), cfg.Path(cfg.Database.Path), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	issuedRecs := map[string]bool{}
	err = st.View(context.Background(), func(rd store.Reader) error {
		cs, err := rd.ListCertificates(context.Background(), store.CertificateFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, c := range cs {
			stored[c.Serial.String()] = true
		}
		recs, err := rd.AuditRecords(context.Background(), 1, 10000)
		for _, rec := range recs {
			if rec.Action == "cert.issue" {
				issuedRecs[rec.Object] = true
			}
		}
		return err
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range received {
		if !stored[s] {
			t.Errorf("certificate %s was handed out but is not stored", s)
		}
	}
	if len(stored) != len(issuedRecs) {
		t.Errorf("%d certificates stored, %d cert.issue records", len(stored), len(issuedRecs))
	}
	for s := range stored {
		if !issuedRecs[s] {
			t.Errorf("certificate %s has no cert.issue record", s)
		}
	}
	// And the CA starts again on what the kill left.
	srv = startServer(t, bin, cfgPath, cfg)
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("restarted serve: %v\n%s", err, srv.stderr.String())
	}
	if r := runBin(t, bin, "audit", "verify", "--config", cfgPath); r.code != 0 {
		t.Errorf("audit verify after restart: %d %s", r.code, r.stderr)
	}
}

// init on an existing token named by a pkcs11: URI (an HSM in production;
// here a softtoken initialized beforehand): the keys go there, ca.json
// names the token and the PIN file, and serve runs on it. A second init
// on the same token fails on the taken labels and leaves the first CA's
// keys in place.
func TestInitOnExistingToken(t *testing.T) {
	module := softtokenModule(t)
	bin := binary(t)
	tmp := t.TempDir()
	cheapSofttoken(t, tmp)
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(tmp, "hsm"))
	if err := os.Mkdir(filepath.Join(tmp, "hsm"), 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := pkcs11.Open(module, pkcs11.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitToken(context.Background(), "hsm", pkcs11.NewPIN([]byte("87654321")), pkcs11.NewPIN([]byte("12345678"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(tmp, "hsm.pin")
	if err := os.WriteFile(pinFile, []byte("12345678\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(tmp, "ca")
	if r := runBin(t, bin, "init", "--dir", dir, "--module", module, "--token", "pkcs11:token=hsm"); r.code != 2 || !strings.Contains(r.stderr, "--pin-file") {
		t.Errorf("init --token without a PIN file: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused init left %s: %v", dir, err)
	}
	r := runBin(t, bin, "init", "--dir", dir, "--module", module, "--token", "pkcs11:token=hsm", "--pin-file", pinFile)
	if r.code != 0 {
		t.Fatalf("init on the token: %d %s", r.code, r.stderr)
	}
	cfgPath := filepath.Join(dir, "ca.json")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.SoftTokenDir != "" || cfg.Token.Label != "pkcs11:token=hsm" || cfg.Token.PINFile != pinFile {
		t.Errorf("ca.json token: %+v", cfg.Token)
	}
	if _, err := os.Stat(filepath.Join(dir, "softtoken")); !errors.Is(err, os.ErrNotExist) {
		t.Error("init made a softtoken under DIR although a token was given")
	}
	second := filepath.Join(tmp, "ca2")
	if r := runBin(t, bin, "init", "--dir", second, "--module", module, "--token", "pkcs11:token=hsm", "--pin-file", pinFile); r.code == 0 {
		t.Error("a second CA on the same labels was made")
	}
	srv := startServer(t, bin, cfgPath, cfg)
	if st, b := srv.api(t, "GET", "/v1/roots", "", nil); st != 200 || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("roots: %d %s", st, b)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("serve: %v\n%s", err, srv.stderr.String())
	}
}

// Usage errors exit 2 with one line on stderr.
func TestUsageErrors(t *testing.T) {
	bin := binary(t)
	for _, args := range [][]string{
		{"init"}, {"serve"}, {"audit", "verify"}, {"bogus"}, {"serve", "--no-such-flag"},
		{"serve", "--config", filepath.Join(t.TempDir(), "missing.json")},
	} {
		r := runBin(t, bin, args...)
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "gostkey-ca: ") {
			t.Errorf("gostkey-ca %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// Twenty clients redeem one code at the same instant against a real
// serve: exactly one certificate, the others refused code_used, and one
// certificate in the store for the order.
func TestConcurrentRedemptionAgainstServe(t *testing.T) {
	module := softtokenModule(t)
	bin := binary(t)
	tmp := t.TempDir()
	cheapSofttoken(t, tmp)
	dir := filepath.Join(tmp, "ca")
	adminToken := initCA(t, bin, dir, "--module", module)
	cfgPath := filepath.Join(dir, "ca.json")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin, cfgPath, cfg)
	var order map[string]any
	st, b := srv.api(t, "POST", "/v1/orders", adminToken, map[string]string{"surname": "Петрова", "given_name": "Анна", "snils": "08765430300", "inn": "773301001840"})
	if st != 201 || json.Unmarshal(b, &order) != nil {
		t.Fatalf("register: %d %s", st, b)
	}
	const clients = 20
	csrs := make([]string, clients)
	for i := range csrs {
		csrs[i] = testCSR(t)
	}
	type answer struct {
		status int
		body   []byte
		err    error
	}
	answers := make([]answer, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			<-start
			st, b, err := srv.request("POST", "/v1/enroll", "", map[string]string{"code": order["code"].(string), "csr": csrs[i]})
			answers[i] = answer{st, b, err}
		})
	}
	close(start)
	wg.Wait()
	issued := 0
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("enroll: %v", a.err)
		case a.status == 201:
			issued++
		case a.status != 409 || !strings.Contains(string(a.body), `"code_used"`):
			t.Errorf("a losing redemption: %d %s; want 409 code_used", a.status, a.body)
		}
	}
	if issued != 1 {
		t.Errorf("%d certificates for one code; want 1", issued)
	}
	st, b = srv.api(t, "GET", "/v1/certificates?snils=08765430300", adminToken, nil)
	var list struct{ Certificates []any }
	if st != 200 || json.Unmarshal(b, &list) != nil || len(list.Certificates) != 1 {
		t.Errorf("certificates of the applicant: %d %s; want one", st, b)
	}
}
