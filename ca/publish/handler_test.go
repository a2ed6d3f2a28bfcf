package publish

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gostkey/gostkey/pki"
)

func TestHandlerPaths(t *testing.T) {
	e := newEnv(t, CRLConfig{})
	srv := e.server(t)
	roots, err := pki.ParseCertificates(fetch(t, srv.URL+PathRoots, http.StatusOK, TypePEM))
	if err != nil || len(roots) != 1 || !bytes.Equal(roots[0].Raw, e.pki.root.Raw) {
		t.Fatalf("roots: %v, %v", roots, err)
	}
	if got := fetch(t, srv.URL+PathIssuerCert, http.StatusOK, TypeCert); !bytes.Equal(got, e.pki.issuer.Raw) {
		t.Error("issuing.crt is not the issuing CA's DER")
	}
	if got := fetch(t, srv.URL+PathRootCert, http.StatusOK, TypeCert); !bytes.Equal(got, e.pki.root.Raw) {
		t.Error("root.crt is not the root's DER")
	}
	fetch(t, srv.URL+"/crl/other.crl", http.StatusNotFound, "")
	fetch(t, srv.URL+"/", http.StatusNotFound, "")

	if err := e.crl.Reissue(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A client holding CRL 1 revalidates and gets 304.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+PathCRL, nil)
	req.Header.Set("If-None-Match", `"1"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET of CRL 1: %s", resp.Status)
	}
	resp, err = http.Head(srv.URL + PathDeltaCRL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"2"` || resp.Header.Get("Content-Type") != TypeCRL {
		t.Errorf("HEAD delta: %s %q %q", resp.Status, resp.Header.Get("ETag"), resp.Header.Get("Content-Type"))
	}

	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPost, PathCRL, "GET, HEAD"},
		{http.MethodDelete, PathRoots, "GET, HEAD"},
		{http.MethodGet, PathOCSP, "POST"},
		{http.MethodPut, PathOCSP, "POST"},
		{http.MethodPost, PathOCSP + "/MA==", "GET"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %s, Allow %q", tc.method, tc.path, resp.Status, resp.Header.Get("Allow"))
		}
	}

	// An OCSP POST in another content type is malformedRequest.
	c := e.issue(t)
	der, err := pki.CreateOCSPRequest(c.cert, e.pki.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post(srv.URL+PathOCSP, "application/octet-stream", bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body.Bytes(), e.ocsp.malformed) {
		t.Errorf("OCSP POST as octet-stream: %x", body.Bytes())
	}

	// Without a publisher or responder the paths are 404.
	bare := httptest.NewServer(Handler(nil, nil, nil, nil, nil))
	defer bare.Close()
	for _, p := range []string{PathRoots, PathIssuerCert, PathRootCert, PathCRL, PathDeltaCRL, PathOCSP + "/MA=="} {
		fetch(t, bare.URL+p, http.StatusNotFound, "")
	}
}

// BenchmarkOCSP measures signed OCSP answers per second through the
// handler in-process (no network) at 1, 4 and 16 concurrent clients; each
// answer is a store read and a GOST signature with the Go key (the token's
// signature costs more). Not in the default run:
//
//	go test -run '^$' -bench OCSP ./ca/publish/
func BenchmarkOCSP(b *testing.B) {
	e := newEnv(b, CRLConfig{})
	h := Handler([]*pki.Certificate{e.pki.root}, e.pki.issuer, e.crl, e.ocsp, nil)
	c := e.issue(b)
	der, err := pki.CreateOCSPRequest(c.cert, e.pki.issuer, &pki.OCSPRequestOptions{Nonce: bytes.Repeat([]byte{1}, 16)})
	if err != nil {
		b.Fatal(err)
	}
	ask := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, PathOCSP, bytes.NewReader(der))
		req.Header.Set("Content-Type", TypeOCSPRequest)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	first := ask()
	if r, err := pki.ParseOCSPResponse(first.Body.Bytes(), e.pki.issuer); err != nil || r.Responses[0].Status != pki.OCSPGood {
		b.Fatalf("answer: %v", err)
	}
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var left, bad atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			b.ResetTimer()
			for range clients {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						// Answers differ only in their times and signature.
						if w := ask(); w.Code != http.StatusOK || w.Body.Len() != first.Body.Len() {
							bad.Add(1)
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if bad.Load() > 0 {
				b.Fatalf("%d failed answers", bad.Load())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
		})
	}
}
