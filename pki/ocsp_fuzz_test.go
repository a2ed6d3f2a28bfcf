package pki

import (
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
