package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gostkey/gostkey/ca/client"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/config"
	"github.com/gostkey/gostkey/ca/publish"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// The CA rows' bounds: each concurrency level runs for the window or until
// its pre-made CSRs (at most perLevel) are used up, whichever comes first.
// The RSS figure is taken after CA_BENCH_CERTS issuances in all (default
// defaultCerts), unless fillTimeout passes first; the count reached is
// printed with it.
const (
	issueWindow  = 5 * time.Second
	ocspWindow   = 4 * time.Second
	perLevel     = 2000
	defaultCerts = 10000
	fillTimeout  = 60 * time.Second
	chunk        = 500 // CSRs made (untimed) before each batch of the fill
)

var caClients = []int{1, 4, 16}

// caDoc says exactly what the CA rows time.
var caDoc = []string{
	"The server is a real `bin/gostkey-ca serve` on free 127.0.0.1 ports, made by `gostkey-ca init` in a temp dir (its keys on a softtoken under it at the default scrypt cost, as in production; SQLite); clients are goroutines of this process over keep-alive HTTP connections.",
	"issuance: one POST /v1/orders by a registrar (HTTPS, bearer token) then one POST /v1/enroll of a PKCS#10 request (HTTPS); the client's fresh Go GOST key (256 paramSetA) and its CSR are made before the timed window, not in it. issuances/s = completed pairs / wall time of the level; p50/p99 are of the pair; CPU/issuance = the server process's CPU time (utime+stime from /proc/PID/stat, 10 ms ticks) over the level / count.",
	"OCSP: POST /ocsp on the plain-HTTP listener of pre-built requests (SHA-1 CertID, a 16-byte nonce each) about certificates issued above, cycled; every answer must be 200 application/ocsp-response, and one per level is parsed and must say good. p50/p99 per request; CPU per response as above.",
	"RSS: VmRSS (now) and VmHWM (peak) of the server from /proc/PID/status after the number of issuances shown (levels above included); CA_BENCH_CERTS=N sets N (CA_BENCH_CERTS=100000 for the issue's figure; the default time cap then does not apply). VmHWM includes the serve start-up, whose token login runs the softtoken's scrypt PIN KDF (64 MiB at its default cost).",
}

// caServer is a running gostkey-ca serve.
type caServer struct {
	cmd    *exec.Cmd
	exited chan error
	stderr lockedBuffer
}

// lockedBuffer is the server's stderr, written by exec's copying goroutine
// and read for error messages while the server runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stop asks the server to drain (SIGTERM) and kills it if it has not
// exited within 30 s.
func (s *caServer) stop() error {
	select {
	case err := <-s.exited:
		return fmt.Errorf("gostkey-ca serve had exited: %v", err)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-s.exited:
		return err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("gostkey-ca serve did not exit within 30 s of SIGTERM: killed")
	}
}

type levelResult struct {
	clients       int
	n             int
	perSec        float64
	p50, p99      time.Duration
	cpuPerOp      time.Duration
	stoppedByTime bool
}

// caBench runs the CA rows and prints their table.
func caBench(root, tmp string) (err error) {
	target := defaultCerts
	timeCap := fillTimeout
	if v := os.Getenv("CA_BENCH_CERTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("CA_BENCH_CERTS=%q: want a positive count", v)
		}
		target, timeCap = n, 4*time.Hour
	}
	bin := filepath.Join(root, "bin")
	dir := filepath.Join(tmp, "ca")
	env := withoutEnv(os.Environ(), "GOSTKEY_SOFTTOKEN_CONF", "GOSTKEY_SOFTTOKEN_DIR")
	initCmd := exec.Command(filepath.Join(bin, "gostkey-ca"), "init", "--dir", dir)
	initCmd.Env = env
	out, err := initCmd.Output()
	if err != nil {
		return fmt.Errorf("gostkey-ca init: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	adminToken, err := code.ParseToken(lines[len(lines)-1])
	if err != nil {
		return fmt.Errorf("gostkey-ca init: its last line is not the admin token: %w", err)
	}
	cfgPath := filepath.Join(dir, "ca.json")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}

	srv := &caServer{exited: make(chan error, 1)}
	srv.cmd = exec.Command(filepath.Join(bin, "gostkey-ca"), "serve", "--config", cfgPath)
	srv.cmd.Env = env
	srv.cmd.Stderr = &srv.stderr
	// The server dies with the bench even if the bench is killed.
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.cmd.Start(); err != nil {
		return err
	}
	go func() { srv.exited <- srv.cmd.Wait() }()
	defer func() {
		if serr := srv.stop(); serr != nil && err == nil {
			err = fmt.Errorf("stopping gostkey-ca serve: %w\n%s", serr, lastLines(srv.stderr.String(), 5))
		}
	}()
	pid := srv.cmd.Process.Pid

	roots, err := client.LoadRoots(cfg.Path(cfg.TLS.Root))
	if err != nil {
		return err
	}
	httpsClient := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: true,
	}}
	plainClient := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if err := waitUp(httpsClient, cfg.APIURL+"/v1/roots", srv); err != nil {
		return err
	}
	ctx := context.Background()
	admin, err := client.New(cfg.APIURL, nil, adminToken, httpsClient)
	if err != nil {
		return err
	}
	op, err := admin.CreateOperator(ctx, "bench-registrar", "registrar")
	if err != nil {
		return fmt.Errorf("creating the registrar: %w", err)
	}
	tok, err := admin.CreateToken(ctx, op.OperatorID, "24h", nil)
	if err != nil {
		return fmt.Errorf("creating the registrar's token: %w", err)
	}
	registrar, err := client.New(cfg.APIURL, nil, tok.Token, httpsClient)
	if err != nil {
		return err
	}
	enroller, err := client.New(cfg.APIURL, nil, code.Token{}, httpsClient)
	if err != nil {
		return err
	}

	var issued []*pki.Certificate // kept for the OCSP requests
	var issuer *pki.Certificate
	total := 0
	var issueRows []levelResult
	for _, c := range caClients {
		csrs, err := makeCSRs(perLevel)
		if err != nil {
			return err
		}
		res, certs, err := issueLevel(ctx, registrar, enroller, csrs, c, issueWindow, pid)
		if err != nil {
			return fmt.Errorf("issuance at %d clients: %w\n%s", c, err, lastLines(srv.stderr.String(), 5))
		}
		total += res.n
		for _, ic := range certs {
			if len(issued) < 256 {
				issued = append(issued, ic.Certificate)
			}
		}
		issueRows = append(issueRows, res)
		if issuer == nil && len(certs) > 0 {
			issuer = certs[0].issuer
		}
	}
	if len(issued) == 0 || issuer == nil {
		return errors.New("no certificate issued")
	}

	reqs := make([][]byte, len(issued))
	for i, c := range issued {
		nonce := make([]byte, 16)
		rand.Read(nonce)
		if reqs[i], err = pki.CreateOCSPRequest(c, issuer, &pki.OCSPRequestOptions{Nonce: nonce}); err != nil {
			return err
		}
	}
	var ocspRows []levelResult
	for _, c := range caClients {
		res, err := ocspLevel(ctx, plainClient, cfg.PublicHTTPURL+publish.PathOCSP, reqs, issuer, c, ocspWindow, pid)
		if err != nil {
			return fmt.Errorf("OCSP at %d clients: %w\n%s", c, err, lastLines(srv.stderr.String(), 5))
		}
		ocspRows = append(ocspRows, res)
	}

	// Fill up to the target count for the RSS figure, CSRs made between
	// batches (untimed), 16 clients.
	fillStart := time.Now()
	capped := false
	for total < target {
		if time.Since(fillStart) > timeCap {
			capped = true
			break
		}
		csrs, err := makeCSRs(min(chunk, target-total))
		if err != nil {
			return err
		}
		res, _, err := issueLevel(ctx, registrar, enroller, csrs, 16, time.Hour, pid)
		if err != nil {
			return fmt.Errorf("issuing up to %d certificates: %w\n%s", target, err, lastLines(srv.stderr.String(), 5))
		}
		total += res.n
	}
	rss, hwm, err := procMem(pid)
	if err != nil {
		return err
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CA over HTTP\tclients\tcount\tper second\tp50\tp99\tserver CPU per op\t")
	for _, rows := range []struct {
		name string
		rs   []levelResult
	}{{"issuance (register + enroll)", issueRows}, {"OCSP response (POST)", ocspRows}} {
		for _, r := range rows.rs {
			note := ""
			if !r.stoppedByTime {
				note = " (all pre-made CSRs used)"
			}
			fmt.Fprintf(w, "%s\t%d\t%d%s\t%.1f/s\t%.1f ms\t%.1f ms\t%.2f ms\t\n", rows.name, r.clients, r.n, note, r.perSec,
				ms(r.p50), ms(r.p99), ms(r.cpuPerOp))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	capNote := ""
	if capped {
		capNote = fmt.Sprintf(" (stopped by the %s time cap before CA_BENCH_CERTS=%d)", timeCap, target)
	}
	fmt.Printf("CA server RSS after %d certificates issued%s: VmRSS %.1f MiB, VmHWM %.1f MiB\n\n", total, capNote, float64(rss)/1024, float64(hwm)/1024)
	fmt.Println("What the CA rows time (wall clock of this process for rates and latencies):")
	for _, d := range caDoc {
		fmt.Println("  - " + d)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// makeCSRs makes n PKCS#10 requests, each for a fresh Go GOST key (the
// CA certifies a key only once).
func makeCSRs(n int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		k, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
		if err != nil {
			return nil, err
		}
		if out[i], err = pki.CreateCertificateRequest(rand.Reader, &pki.CertificateRequest{Subject: pki.Name{CommonName: "bench"}}, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type issuedCert struct {
	*pki.Certificate
	issuer *pki.Certificate
}

// issueLevel runs clients workers, each registering an order and enrolling
// the next CSR, until the CSRs are used up or window has passed.
func issueLevel(ctx context.Context, registrar, enroller *client.Client, csrs [][]byte, clients int, window time.Duration, pid int) (levelResult, []issuedCert, error) {
	id := client.Identity{Surname: "Петрова", GivenName: "Анна", SNILS: "08765430300", INN: "773301001840"}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var certs []issuedCert
	var firstErr error
	cpu0, err := procCPU(pid)
	if err != nil {
		return levelResult{}, nil, err
	}
	start := time.Now()
	deadline := start.Add(window)
	var byTime atomic.Bool
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(csrs) {
					return
				}
				if time.Now().After(deadline) {
					byTime.Store(true)
					return
				}
				t0 := time.Now()
				reg, err := registrar.Register(ctx, id)
				var iss *client.Issued
				if err == nil {
					iss, err = enroller.Enroll(ctx, reg.Code, csrs[i])
				}
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat = append(lat, d)
				if len(certs) < 256 && len(iss.Chain) > 0 {
					certs = append(certs, issuedCert{iss.Certificate, iss.Chain[0]})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return levelResult{}, nil, firstErr
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return levelResult{}, nil, err
	}
	res, err := summarize(clients, lat, elapsed, cpu1-cpu0)
	res.stoppedByTime = byTime.Load()
	return res, certs, err
}

// ocspLevel posts the pre-built requests, cycled, from clients workers for
// window.
func ocspLevel(ctx context.Context, hc *http.Client, url string, reqs [][]byte, issuer *pki.Certificate, clients int, window time.Duration, pid int) (levelResult, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	checked := false
	cpu0, err := procCPU(pid)
	if err != nil {
		return levelResult{}, err
	}
	start := time.Now()
	deadline := start.Add(window)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1)-1) % len(reqs)
				t0 := time.Now()
				body, err := postOCSP(ctx, hc, url, reqs[i])
				d := time.Since(t0)
				mu.Lock()
				if err == nil && !checked {
					checked = true
					err = checkGood(body, issuer)
				}
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return levelResult{}, firstErr
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return levelResult{}, err
	}
	res, err := summarize(clients, lat, elapsed, cpu1-cpu0)
	res.stoppedByTime = true
	return res, err
}

func postOCSP(ctx context.Context, hc *http.Client, url string, req []byte) ([]byte, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", publish.TypeOCSPRequest)
	resp, err := hc.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != publish.TypeOCSPResponse {
		return nil, fmt.Errorf("OCSP: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	return body, nil
}

func checkGood(der []byte, issuer *pki.Certificate) error {
	r, err := pki.ParseOCSPResponse(der, issuer)
	if err != nil {
		return err
	}
	if len(r.Responses) != 1 || r.Responses[0].Status != pki.OCSPGood {
		return fmt.Errorf("OCSP: %d responses, want one saying good", len(r.Responses))
	}
	return nil
}

// summarize refuses a level with no operation or a zero or infinite rate.
func summarize(clients int, lat []time.Duration, elapsed, cpu time.Duration) (levelResult, error) {
	if len(lat) == 0 {
		return levelResult{}, fmt.Errorf("%d clients: no operation completed", clients)
	}
	slices.Sort(lat)
	r := levelResult{
		clients:  clients,
		n:        len(lat),
		perSec:   float64(len(lat)) / elapsed.Seconds(),
		p50:      lat[len(lat)/2],
		p99:      lat[min(len(lat)-1, len(lat)*99/100)],
		cpuPerOp: cpu / time.Duration(len(lat)),
	}
	if !(r.perSec > 0) || math.IsInf(r.perSec, 0) || !(cpu > 0) {
		return r, fmt.Errorf("%d clients: %v ops/s with %v of server CPU: a zero or infinite measurement", clients, r.perSec, cpu)
	}
	return r, nil
}

// procCPU is the process's user+system CPU time from /proc/PID/stat
// (fields 14 and 15, in USER_HZ = 100 ticks per second on Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it
	// start after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// procMem returns VmRSS and VmHWM in KiB from /proc/PID/status.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// waitUp polls url until it answers 200 (the server is ready), the server
// exits, or two minutes pass.
func waitUp(c *http.Client, url string, s *caServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("gostkey-ca serve exited: %v\n%s", err, lastLines(s.stderr.String(), 5))
		case <-ctx.Done():
			return fmt.Errorf("gostkey-ca serve did not come up in 2 minutes\n%s", lastLines(s.stderr.String(), 5))
		case <-time.After(delay):
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
