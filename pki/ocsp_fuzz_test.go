package pki

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseOCSPRequest(f *testing.F) {
	revAddSeeds(f, "ocsp")
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseOCSPRequest(data)
		if err != nil {
			return
		}
		if len(req.CertIDs) == 0 {
			t.Fatal("parsed a request without CertIDs")
		}
	})
}

func FuzzParseOCSPResponse(f *testing.F) {
	revAddSeeds(f, "ocsp")
	for _, s := range []OCSPResponseStatus{OCSPMalformedRequest, OCSPTryLater, OCSPUnauthorized} {
		der, err := CreateOCSPErrorResponse(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseOCSPResponse(data, nil)
		if err != nil {
			return
		}
		for _, c := range r.Certificates {
			// Verification must fail cleanly, never panic, whatever
			// the response holds.
			_ = r.CheckSignatureFrom(c)
		}
	})
}

// TestOCSPSeedsParse keeps the committed seeds meaningful: requests and
// responses OpenSSL made parse as such.
func TestOCSPSeedsParse(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "ocsp", "*.der"))
	if len(paths) == 0 {
		t.Fatal("no OCSP seeds")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(p, ".req.der"):
			if _, err := ParseOCSPRequest(data); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		case strings.HasSuffix(p, ".resp.der"):
			r, err := ParseOCSPResponse(data, nil)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			// Each responder sent the certificate it signed with; the
			// CA's own verifies the response it signed directly.
			if len(r.Certificates) != 1 {
				t.Errorf("%s: %d certificates", p, len(r.Certificates))
				continue
			}
			if strings.Contains(p, "delegated") {
				continue
			}
			if err := r.CheckSignatureFrom(r.Certificates[0]); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
}

// FuzzReadOCSPHTTPRequest feeds the responder's request reader both
// forms: a GET whose path is the fuzzed string under the responder's
// prefix, and a POST whose body is the fuzzed bytes. Neither panics, a
// request read names a certificate, and a POST body reads exactly as
// ParseOCSPRequest reads it.
func FuzzReadOCSPHTTPRequest(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "ocsp", "*.req.der"))
	if len(paths) == 0 {
		f.Fatal("no OCSP request seeds")
	}
	for _, p := range paths {
		der, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		b64 := base64.StdEncoding.EncodeToString(der)
		f.Add(url.PathEscape(b64), der)
		f.Add(strings.ReplaceAll(url.PathEscape(b64), "%2F", "/"), []byte(b64))
	}
	f.Add("%zz", []byte{})
	f.Add("..%2F..%2F", []byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if u, err := url.ParseRequestURI("/ocsp/" + path); err == nil {
			req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}
			if r, err := ReadOCSPHTTPRequest(req, "/ocsp/"); err == nil && len(r.CertIDs) == 0 {
				t.Fatal("GET: a request without CertIDs")
			}
		}
		req := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/ocsp/"},
			Header: http.Header{"Content-Type": {"application/ocsp-request"}}, Body: io.NopCloser(bytes.NewReader(body))}
		r, err := ReadOCSPHTTPRequest(req, "/ocsp/")
		if err == nil && len(r.CertIDs) == 0 {
			t.Fatal("POST: a request without CertIDs")
		}
		if _, direct := ParseOCSPRequest(body); len(body) <= ocspMaxRequestSize && (err == nil) != (direct == nil) {
			t.Fatalf("POST read %v, ParseOCSPRequest %v", err, direct)
		}
	})
}
