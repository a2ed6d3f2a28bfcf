package publish

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// fetch GETs url and checks the status and content type.
func fetch(t testing.TB, url string, status int, ctype string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %s %s, want %d", url, resp.Status, body, status)
	}
	if ctype != "" && resp.Header.Get("Content-Type") != ctype {
		t.Fatalf("GET %s: content type %q, want %q", url, resp.Header.Get("Content-Type"), ctype)
	}
	return body
}

// entries reads a CRL's entries as serial → reason.
func entries(t testing.TB, der []byte, issuer *pki.Certificate) (*pki.CRL, map[store.Serial]pki.CRLReason) {
	t.Helper()
	crl, err := pki.ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatal(err)
	}
	m := map[store.Serial]pki.CRLReason{}
	for _, rc := range crl.RevokedCertificates {
		s, ok := storeSerial(rc.SerialNumber)
		if !ok {
			t.Fatalf("CRL entry %v is not one of our serials", rc.SerialNumber)
		}
		m[s] = rc.ReasonCode
	}
	return crl, m
}

// applyDelta is what a relying party does with a delta CRL.
func applyDelta(base, delta map[store.Serial]pki.CRLReason) map[store.Serial]pki.CRLReason {
	out := maps.Clone(base)
	for s, r := range delta {
		if r == pki.ReasonRemoveFromCRL {
			delete(out, s)
		} else {
			out[s] = r
		}
	}
	return out
}

func wantEntries(t testing.TB, what string, got, want map[store.Serial]pki.CRLReason) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s lists %v, want %v", what, got, want)
	}
}

// opensslCRL has openssl verify and print a CRL; the output must say
// "verify OK" (OpenSSL 3.0's crl -verify exits 0 on a bad signature).
func opensslCRL(t testing.TB, p *testPKI, der []byte) string {
	t.Helper()
	path := testkit.WriteFile(t, "crl.der", der)
	out, err := openssl(t, "crl", "-inform", "DER", "-in", path, "-CAfile", p.chainPath, "-noout", "-verify", "-text")
	if err != nil {
		t.Fatalf("openssl crl: %v: %s", err, out)
	}
	if !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl -verify did not say verify OK:\n%s", out)
	}
	return out
}

func opensslSerial(s store.Serial) string {
	return "Serial Number: " + strings.ToUpper(hex.EncodeToString(s[:]))
}

func mustContain(t testing.TB, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in\n%s", what, w, out)
		}
	}
}

func TestCRLPublishOpenSSL(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	srv := e.server(t)
	ctx := context.Background()
	t0 := e.clock.Now()
	fetch(t, srv.URL+PathCRL, http.StatusServiceUnavailable, "")
	fetch(t, srv.URL+PathDeltaCRL, http.StatusServiceUnavailable, "")

	a, b, c, d := e.issue(t), e.issue(t), e.issue(t), e.issue(t)
	e.change(t, a.serial, store.ReasonKeyCompromise)
	e.change(t, b.serial, hold)
	e.change(t, d.serial, hold)
	r1, err := e.crl.reissue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r1.full.Number != 1 || r1.delta.Number != 2 || r1.delta.BaseNumber != 1 {
		t.Fatalf("first run: full %d, delta %d on %d; want 1, 2 on 1", r1.full.Number, r1.delta.Number, r1.delta.BaseNumber)
	}
	full := fetch(t, srv.URL+PathCRL, http.StatusOK, TypeCRL)
	delta := fetch(t, srv.URL+PathDeltaCRL, http.StatusOK, TypeCRL)
	if string(full) != string(r1.full.DER) || string(delta) != string(r1.delta.DER) {
		t.Fatal("the handler does not serve the CRLs just published")
	}

	out := opensslCRL(t, e.pki, full)
	mustContain(t, "full CRL", out, "X509v3 CRL Number", "Freshest CRL", "URI:http://127.0.0.1:8089/crl/issuing-delta.crl",
		opensslSerial(a.serial), "Key Compromise", opensslSerial(b.serial), "Certificate Hold", opensslSerial(d.serial))
	if strings.Contains(out, opensslSerial(c.serial)) || strings.Contains(out, "Delta CRL Indicator") {
		t.Errorf("full CRL lists the valid certificate or claims to be a delta:\n%s", out)
	}
	crl, got := entries(t, full, e.pki.issuer)
	wantEntries(t, "full CRL 1", got, map[store.Serial]pki.CRLReason{a.serial: pki.ReasonKeyCompromise, b.serial: pki.ReasonCertificateHold, d.serial: pki.ReasonCertificateHold})
	if crl.Number.Int64() != 1 || !crl.ThisUpdate.Equal(t0) || !crl.NextUpdate.Equal(t0.Add(DefaultCRLValidity)) ||
		!slices.Equal(crl.FreshestCRL, []string{"http://127.0.0.1:8089" + PathDeltaCRL}) {
		t.Errorf("full CRL: number %v, %v – %v, freshest %v", crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.FreshestCRL)
	}
	// The first delta is on the new full CRL itself: nothing changed.
	out = opensslCRL(t, e.pki, delta)
	mustContain(t, "delta CRL", out, "Delta CRL Indicator", "X509v3 CRL Number", "No Revoked Certificates")
	dcrl, got := entries(t, delta, e.pki.issuer)
	wantEntries(t, "delta CRL 2", got, map[store.Serial]pki.CRLReason{})
	if dcrl.BaseCRLNumber.Int64() != 1 || dcrl.Number.Int64() != 2 || len(dcrl.FreshestCRL) != 0 {
		t.Errorf("delta CRL: number %v base %v freshest %v", dcrl.Number, dcrl.BaseCRLNumber, dcrl.FreshestCRL)
	}

	// The judge reads the output: a CRL with a broken signature is refused.
	bad := slices.Clone(full)
	bad[len(bad)-5] ^= 0x40
	path := testkit.WriteFile(t, "bad.der", bad)
	out, _ = openssl(t, "crl", "-inform", "DER", "-in", path, "-CAfile", e.pki.chainPath, "-noout", "-verify")
	if strings.Contains(out, "verify OK") || !strings.Contains(out, "verify failure") {
		t.Fatalf("openssl accepted a CRL with a broken signature:\n%s", out)
	}

	// An hour on: d released, c superseded. The delta is still on CRL 1,
	// the oldest current, and lists just that: c added, d off the list.
	e.clock.Advance(time.Hour)
	e.change(t, d.serial, release)
	e.change(t, c.serial, store.ReasonSuperseded)
	r2, err := e.crl.reissue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r2.full.Number != 3 || r2.delta.Number != 4 || r2.delta.BaseNumber != 1 {
		t.Fatalf("second run: full %d, delta %d on %d; want 3, 4 on 1", r2.full.Number, r2.delta.Number, r2.delta.BaseNumber)
	}
	_, got = entries(t, fetch(t, srv.URL+PathCRL, http.StatusOK, TypeCRL), e.pki.issuer)
	wantEntries(t, "full CRL 3", got, map[store.Serial]pki.CRLReason{a.serial: pki.ReasonKeyCompromise, b.serial: pki.ReasonCertificateHold, c.serial: pki.ReasonSuperseded})
	delta = fetch(t, srv.URL+PathDeltaCRL, http.StatusOK, TypeCRL)
	mustContain(t, "delta CRL 4", opensslCRL(t, e.pki, delta), "Remove From CRL", opensslSerial(d.serial), "Superseded")
	_, got = entries(t, delta, e.pki.issuer)
	wantEntries(t, "delta CRL 4", got, map[store.Serial]pki.CRLReason{c.serial: pki.ReasonSuperseded, d.serial: pki.ReasonRemoveFromCRL})

	// A relying party holding CRL 1 and OpenSSL's delta support: with
	// delta 4, c is revoked and d (released) valid again; with CRL 1
	// alone, the other way round.
	crlPEM := func(der []byte) string {
		return testkit.WriteFile(t, "crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	}
	at := fmt.Sprint(e.clock.Now().Add(time.Minute).Unix())
	// -extended_crl: without it OpenSSL 3.0 may take the newer delta for
	// the complete CRL (get_crl_score skips deltas only in that mode).
	verify := func(c issued, crls ...[]byte) string {
		args := []string{"verify", "-CAfile", e.pki.chainPath, "-crl_check", "-extended_crl", "-use_deltas", "-attime", at}
		for _, der := range crls {
			args = append(args, "-CRLfile", crlPEM(der))
		}
		out, _ := openssl(t, append(args, certFile(t, c.cert))...)
		return out
	}
	for _, tc := range []struct {
		what    string
		c       issued
		crls    [][]byte
		revoked bool
	}{
		{"c on CRL 1 + delta 4", c, [][]byte{r1.full.DER, delta}, true},
		{"d on CRL 1 + delta 4", d, [][]byte{r1.full.DER, delta}, false},
		{"a on CRL 1 + delta 4", a, [][]byte{r1.full.DER, delta}, true},
		{"c on CRL 1", c, [][]byte{r1.full.DER}, false},
		{"d on CRL 1", d, [][]byte{r1.full.DER}, true},
	} {
		out := verify(tc.c, tc.crls...)
		if tc.revoked != strings.Contains(out, "certificate revoked") || !tc.revoked && !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify, %s: want revoked %v:\n%s", tc.what, tc.revoked, out)
		}
	}

	// At t0+24h30m CRL 1 has expired: the delta moves to CRL 3 (current
	// until t0+25h) and lists only what changed since it: b released, d
	// revoked for good. A revocation stamped a day back, before the base
	// was made (as a holder's signed request may be), is in the delta all
	// the same.
	e.clock.Advance(23*time.Hour + 30*time.Minute)
	e.change(t, b.serial, release)
	e.clock.Advance(-24 * time.Hour)
	e.change(t, d.serial, store.ReasonKeyCompromise)
	e.clock.Advance(24 * time.Hour)
	r3, err := e.crl.reissue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r3.full.Number != 5 || r3.delta.Number != 6 || r3.delta.BaseNumber != 3 {
		t.Fatalf("third run: full %d, delta %d on %d; want 5, 6 on 3", r3.full.Number, r3.delta.Number, r3.delta.BaseNumber)
	}
	_, got = entries(t, r3.delta.DER, e.pki.issuer)
	wantEntries(t, "delta CRL 6", got, map[store.Serial]pki.CRLReason{b.serial: pki.ReasonRemoveFromCRL, d.serial: pki.ReasonKeyCompromise})
	_, got = entries(t, r3.full.DER, e.pki.issuer)
	wantEntries(t, "full CRL 5", got, map[store.Serial]pki.CRLReason{a.serial: pki.ReasonKeyCompromise, c.serial: pki.ReasonSuperseded, d.serial: pki.ReasonKeyCompromise})

	// Each CRL has its audit record, in the chain, naming its DER.
	res, err := audit.Verify(ctx, e.store, audit.VerifyOptions{})
	if err != nil || res.Records != 6 {
		t.Fatalf("audit: %+v, %v; want 6 records", res, err)
	}
	var recs []store.AuditRecord
	if err := e.store.View(ctx, func(r store.Reader) error {
		recs, err = r.AuditRecords(ctx, 1, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		n := int64(i + 1)
		var det crlAuditDetails
		if err := json.Unmarshal(rec.Details, &det); err != nil {
			t.Fatal(err)
		}
		c := map[int64]store.CRL{1: r1.full, 2: r1.delta, 3: r2.full, 4: r2.delta, 5: r3.full, 6: r3.delta}[n]
		h := gost.New256()
		h.Write(c.DER)
		if rec.Action != "crl.publish" || rec.Object != fmt.Sprintf("crl/%d", n) || det.Number != n || det.Kind != c.Kind ||
			det.BaseNumber != c.BaseNumber || det.Streebog256 != hex.EncodeToString(h.Sum(nil)) {
			t.Errorf("audit record %d: %s %s %+v", rec.Seq, rec.Action, rec.Object, det)
		}
	}
}

// A certificate that expires drops off the full CRL, and its base entry is
// no change for the delta (it is not valid again).
func TestCRLExpiredEntry(t *testing.T) {
	e := newEnv(t, CRLConfig{Validity: 90 * 24 * time.Hour})
	ctx := context.Background()
	x, y := e.issue(t), e.issue(t)
	e.change(t, x.serial, store.ReasonKeyCompromise)
	e.change(t, y.serial, hold)
	if _, err := e.crl.reissue(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(x.cert.NotAfter.Sub(e.clock.Now()) + time.Hour)
	e.change(t, y.serial, release)
	r, err := e.crl.reissue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.delta.BaseNumber != 1 {
		t.Fatalf("delta on %d, want 1", r.delta.BaseNumber)
	}
	_, got := entries(t, r.full.DER, e.pki.issuer)
	wantEntries(t, "full CRL after expiry", got, map[store.Serial]pki.CRLReason{})
	_, got = entries(t, r.delta.DER, e.pki.issuer)
	wantEntries(t, "delta CRL after expiry", got, map[store.Serial]pki.CRLReason{y.serial: pki.ReasonRemoveFromCRL})
}

// A burst waiting on a run in progress shares one next run: the first
// caller's run is held at its first signature until the 49 others have
// joined the pending run, so exactly two runs sign, and each caller's CRL
// lists the revocation it committed before asking.
func TestReissueCoalesces(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	e.signer.gate, e.signer.entered = make(chan struct{}), make(chan struct{})
	queued := make(chan struct{}, 64)
	e.crl.queued = func() { queued <- struct{}{} }
	ctx := context.Background()
	const n = 50
	certs := make([]issued, n)
	for i := range certs {
		certs[i] = e.issue(t)
	}
	runs := make([]*crlRun, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	e.change(t, certs[0].serial, store.ReasonKeyCompromise)
	wg.Go(func() { runs[0], errs[0] = e.crl.reissue(ctx) })
	<-e.signer.entered
	<-queued
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if errs[i] = e.setStatus(certs[i].serial, store.ReasonAffiliationChanged); errs[i] == nil {
				runs[i], errs[i] = e.crl.reissue(ctx)
			}
		})
	}
	for i := 1; i < n; i++ {
		<-queued
	}
	close(e.signer.gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if got := e.signer.n.Load(); got != 4 {
		t.Errorf("%d CRL signatures for the burst, want 4 (two runs of full + delta)", got)
	}
	if runs[0].full.Number != 1 || runs[0].delta.Number != 2 {
		t.Errorf("first run: %d, %d", runs[0].full.Number, runs[0].delta.Number)
	}
	_, got := entries(t, runs[0].full.DER, e.pki.issuer)
	wantEntries(t, "the first run's CRL", got, map[store.Serial]pki.CRLReason{certs[0].serial: pki.ReasonKeyCompromise})
	want := map[store.Serial]pki.CRLReason{certs[0].serial: pki.ReasonKeyCompromise}
	for i := 1; i < n; i++ {
		want[certs[i].serial] = pki.ReasonAffiliationChanged
		if runs[i] != runs[1] {
			t.Fatalf("callers 1 and %d waited for different runs", i)
		}
	}
	if runs[1].full.Number != 3 || runs[1].delta.Number != 4 {
		t.Errorf("second run: %d, %d", runs[1].full.Number, runs[1].delta.Number)
	}
	_, got = entries(t, runs[1].full.DER, e.pki.issuer)
	wantEntries(t, "the second run's CRL", got, want)
}

// 50 concurrent revoke-then-Reissue calls, unsynchronized: every caller's
// revocation is in the CRL its call waited for, the stored CRL numbers
// strictly increase with their content, and OpenSSL accepts the last.
func TestReissueBurst(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	ctx := context.Background()
	const n = 50
	certs := make([]issued, n)
	for i := range certs {
		certs[i] = e.issue(t)
	}
	runs := make([]*crlRun, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if errs[i] = e.setStatus(certs[i].serial, store.ReasonCessationOfOperation); errs[i] == nil {
				runs[i], errs[i] = e.crl.reissue(ctx)
			}
		})
	}
	wg.Wait()
	distinct := map[*crlRun]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		distinct[runs[i]] = true
		crl, got := entries(t, runs[i].full.DER, e.pki.issuer)
		if _, ok := got[certs[i].serial]; !ok {
			t.Errorf("caller %d's revocation is not in CRL %v it waited for", i, crl.Number)
		}
	}
	signed := e.signer.n.Load()
	t.Logf("%d callers, %d signing runs", n, len(distinct))
	if signed != int64(2*len(distinct)) {
		t.Errorf("%d signatures for %d runs", signed, len(distinct))
	}
	// Stored CRLs: numbers 1…2k, full and delta in turn, each full CRL
	// listing at least what the one before it did.
	var last map[store.Serial]pki.CRLReason
	var latest store.CRL
	for num := int64(1); num <= int64(2*len(distinct)); num++ {
		var c store.CRL
		if err := e.store.View(ctx, func(r store.Reader) error {
			var err error
			c, err = r.CRL(ctx, num)
			return err
		}); err != nil {
			t.Fatalf("CRL %d: %v", num, err)
		}
		wantKind := store.CRLFull
		if num%2 == 0 {
			wantKind = store.CRLDelta
		}
		if c.Kind != wantKind {
			t.Fatalf("CRL %d is %s", num, c.Kind)
		}
		if c.Kind == store.CRLDelta {
			// The delta on its base gives the full CRL of the same run.
			var base store.CRL
			if err := e.store.View(ctx, func(r store.Reader) error {
				var err error
				base, err = r.CRL(ctx, c.BaseNumber)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			_, b := entries(t, base.DER, e.pki.issuer)
			_, d := entries(t, c.DER, e.pki.issuer)
			wantEntries(t, fmt.Sprintf("base %d + delta %d", c.BaseNumber, num), applyDelta(b, d), last)
			continue
		}
		crl, got := entries(t, c.DER, e.pki.issuer)
		if crl.Number.Int64() != num {
			t.Fatalf("CRL stored as %d says %v", num, crl.Number)
		}
		for s := range last {
			if _, ok := got[s]; !ok {
				t.Fatalf("CRL %d lost an entry of the one before", num)
			}
		}
		last, latest = got, c
	}
	if len(last) != n {
		t.Errorf("the last CRL lists %d, want %d", len(last), n)
	}
	out := opensslCRL(t, e.pki, latest.DER)
	var serials []string
	for _, c := range certs {
		serials = append(serials, opensslSerial(c.serial))
	}
	sort.Strings(serials)
	mustContain(t, "the last CRL", out, serials...)
}

// Run issues the first CRLs at once and then RenewBefore ahead of
// nextUpdate, following reissues made in between, and retries after a
// failure; all on the injected clock.
func TestRunSchedule(t *testing.T) {
	e := newEnv(t, CRLConfig{Validity: 24 * time.Hour, RenewBefore: 6 * time.Hour, Retry: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.crl.Run(ctx) }()
	t0 := e.clock.Now()
	latest := func() store.CRL {
		t.Helper()
		c, err := e.crl.Latest(ctx, store.CRLFull)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	expect := func(wait time.Duration, number int64, this time.Time) {
		t.Helper()
		if d := <-e.clock.waits; d != wait {
			t.Fatalf("Run waits %v, want %v", d, wait)
		}
		if c := latest(); c.Number != number || !c.ThisUpdate.Equal(this) {
			t.Fatalf("latest full CRL %d of %v, want %d of %v", c.Number, c.ThisUpdate, number, this)
		}
	}
	expect(18*time.Hour, 1, t0)
	e.clock.Advance(18 * time.Hour)
	expect(18*time.Hour, 3, t0.Add(18*time.Hour))

	// A revocation's reissue two hours later moves the schedule: when the
	// old timer fires, the next run is two hours off.
	e.clock.Advance(2 * time.Hour)
	if err := e.crl.Reissue(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(16 * time.Hour)
	expect(2*time.Hour, 5, t0.Add(20*time.Hour))

	// The token fails: Run retries a minute later, and catches up. The
	// failed run's numbers (7, 8) stay unused: numbers increase, with gaps.
	e.signer.fail.Store(true)
	e.clock.Advance(2 * time.Hour)
	expect(time.Minute, 5, t0.Add(20*time.Hour))
	e.signer.fail.Store(false)
	e.clock.Advance(time.Minute)
	expect(18*time.Hour, 9, t0.Add(38*time.Hour+time.Minute))

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Of processes sharing the database, the schedule's lease holder reissues:
// another waits while the lease is held, takes over when it runs out, and
// gives it up when its Run ends.
func TestRunLease(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	ctx := context.Background()
	if err := e.store.Tx(ctx, func(tx store.Tx) error {
		ok, err := tx.AcquireLease(ctx, crlScheduleLease, "other process", e.clock.Now(), 90*time.Second)
		if !ok && err == nil {
			err = errors.New("lease not taken")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.crl.Run(runCtx) }()
	for range 2 {
		if d := <-e.clock.waits; d != DefaultCRLRetry {
			t.Fatalf("Run waits %v beside a held lease, want %v", d, DefaultCRLRetry)
		}
		if _, err := e.crl.Latest(ctx, store.CRLFull); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a CRL was made beside the other holder's lease: %v", err)
		}
		e.clock.Advance(DefaultCRLRetry)
	}
	// 2 minutes on, the other's 90 s lease has run out.
	if d := <-e.clock.waits; d != DefaultCRLValidity/2 {
		t.Fatalf("Run waits %v after taking over, want %v", d, DefaultCRLValidity/2)
	}
	if c, err := e.crl.Latest(ctx, store.CRLFull); err != nil || c.Number != 1 {
		t.Fatalf("latest CRL after taking over: %d, %v", c.Number, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Given up: the other process takes it at once.
	if err := e.store.Tx(ctx, func(tx store.Tx) error {
		ok, err := tx.AcquireLease(ctx, crlScheduleLease, "other process", e.clock.Now(), time.Minute)
		if !ok && err == nil {
			err = errors.New("lease still held after Run ended")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCRLConfigAndDeps(t *testing.T) {
	p := sharedPKI(t)
	e := newEnv(t, CRLConfig{})
	deps := CRLDeps{Store: e.store, Journal: e.journal, Issuer: p.issuer, Signer: p.issuerKey}
	for name, tc := range map[string]struct {
		cfg  CRLConfig
		deps func(CRLDeps) CRLDeps
	}{
		"validity under a minute":   {CRLConfig{Validity: time.Second}, nil},
		"renew before ≥ validity":   {CRLConfig{Validity: time.Hour, RenewBefore: time.Hour}, nil},
		"negative retry":            {CRLConfig{Retry: -time.Second}, nil},
		"retry ≥ renew before":      {CRLConfig{Validity: time.Hour, RenewBefore: time.Minute, Retry: time.Minute}, nil},
		"no store":                  {CRLConfig{}, func(d CRLDeps) CRLDeps { d.Store = nil; return d }},
		"no journal":                {CRLConfig{}, func(d CRLDeps) CRLDeps { d.Journal = nil; return d }},
		"signer of another key":     {CRLConfig{}, func(d CRLDeps) CRLDeps { d.Signer = p.responderKey; return d }},
		"issuer that is not a CA":   {CRLConfig{}, func(d CRLDeps) CRLDeps { d.Issuer, d.Signer = p.responder, p.responderKey; return d }},
		"issuer without any signer": {CRLConfig{}, func(d CRLDeps) CRLDeps { d.Signer = nil; return d }},
	} {
		d := deps
		if tc.deps != nil {
			d = tc.deps(d)
		}
		if _, err := NewCRLPublisher(tc.cfg, d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewCRLPublisher(CRLConfig{}, deps); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
