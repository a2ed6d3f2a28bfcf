package publish

import (
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// The root's CRL: signed by the root at once when Run starts, served at
// /crl/root.crl, reissued RenewBefore ahead of nextUpdate on the injected
// clock, each with a fresh number from the shared sequence and an audit
// record; openssl verifies it with the root.
func TestRootCRL(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	revoked := []pki.RevokedCertificate{{SerialNumber: big.NewInt(77), RevocationTime: e.clock.Now().Add(-time.Hour), ReasonCode: pki.ReasonCACompromise}}
	rc, err := NewRootCRLPublisher(RootCRLConfig{}, RootCRLDeps{Store: e.store, Journal: e.journal, Root: e.pki.root, Signer: e.pki.rootKey,
		Revoked: func(context.Context) ([]pki.RevokedCertificate, error) { return revoked, nil }, Now: e.clock.Now, After: e.clock.After})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRootCRLPublisher(RootCRLConfig{}, RootCRLDeps{Store: e.store, Journal: e.journal, Root: e.pki.root, Signer: e.pki.issuerKey}); err == nil {
		t.Fatal("a signer without the root's key was accepted")
	}
	hs := httptest.NewServer(Handler([]*pki.Certificate{e.pki.root}, e.pki.issuer, nil, nil, rc))
	t.Cleanup(hs.Close)
	srv := hs.URL
	if resp := get(t, srv+PathRootCRL); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("before the first CRL: %s; want 503", resp.Status)
	}
	done := make(chan error, 1)
	go func() { done <- rc.Run(ctx) }()
	// Run waits once the first CRL is out: until RenewBefore ahead of
	// nextUpdate, 15 days.
	if d := <-e.clock.waits; d != DefaultRootCRLValidity/2 {
		t.Fatalf("Run waits %v; want %v", d, DefaultRootCRLValidity/2)
	}
	first := rc.Latest()
	resp := get(t, srv+PathRootCRL)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != TypeCRL || string(body) != string(first.DER) {
		t.Fatalf("GET %s: %s %s, %d bytes", PathRootCRL, resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	crl, err := pki.ParseCRL(first.DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(e.pki.root); err != nil {
		t.Fatalf("root CRL signature: %v", err)
	}
	if crl.Number.Int64() != 1 || !crl.NextUpdate.Equal(crl.ThisUpdate.Add(DefaultRootCRLValidity)) ||
		len(crl.RevokedCertificates) != 1 || crl.RevokedCertificates[0].SerialNumber.Int64() != 77 {
		t.Fatalf("root CRL: number %v, %v to %v, entries %+v", crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.RevokedCertificates)
	}
	path := filepath.Join(t.TempDir(), "root.crl")
	if err := os.WriteFile(path, first.DER, 0o600); err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPath, pemCert(e.pki.root), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := openssl(t, "crl", "-inform", "DER", "-in", path, "-CAfile", rootPath, "-noout", "-verify"); err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl -verify: %v\n%s", err, out)
	}

	e.clock.Advance(DefaultRootCRLValidity / 2)
	<-e.clock.waits
	if second := rc.Latest(); second.Number != 2 || !second.ThisUpdate.Equal(first.ThisUpdate.Add(DefaultRootCRLValidity/2)) {
		t.Fatalf("after 15 days: CRL %d from %v; want 2 from %v", second.Number, second.ThisUpdate, first.ThisUpdate.Add(DefaultRootCRLValidity/2))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	res, err := audit.Verify(context.Background(), e.store, audit.VerifyOptions{})
	if err != nil || res.Records != 2 {
		t.Fatalf("audit: %+v, %v; want 2 records", res, err)
	}
	var recs []store.AuditRecord
	if err := e.store.View(context.Background(), func(r store.Reader) error {
		recs, err = r.AuditRecords(context.Background(), 1, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		var det crlAuditDetails
		if err := json.Unmarshal(rec.Details, &det); err != nil {
			t.Fatal(err)
		}
		if rec.Action != "crl.publish" || det.Kind != "root" || det.Number != int64(i+1) || det.Entries != 1 {
			t.Errorf("audit record %d: %s %+v", rec.Seq, rec.Action, det)
		}
	}
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
