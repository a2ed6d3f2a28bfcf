package pki

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// revAddSeeds adds every file of testdata/<dir> to the fuzz corpus: objects
// OpenSSL made (testdata/crl/make-seeds.sh).
func revAddSeeds(f *testing.F, dir string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.der"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata/%s: %v", dir, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzParseCRL(f *testing.F) {
	revAddSeeds(f, "crl")
	f.Fuzz(func(t *testing.T, data []byte) {
		crl, err := ParseCRL(data)
		if err != nil {
			return
		}
		if err := crl.Describe(io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, rc := range crl.RevokedCertificates {
			if got, ok := crl.Lookup(rc.SerialNumber); !ok || got.SerialNumber.Cmp(rc.SerialNumber) != 0 {
				t.Fatalf("Lookup(%v) misses a listed serial", rc.SerialNumber)
			}
		}
	})
}

// TestCRLSeedsParse keeps the committed seeds meaningful: each is an
// OpenSSL CRL with the entries make-seeds.sh revoked.
func TestCRLSeedsParse(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "crl", "*.der"))
	if len(paths) == 0 {
		t.Fatal("no CRL seeds")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := ParseCRL(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		wantNumber, wantBase := int64(0x1000), false
		if strings.HasSuffix(p, "-delta.crl.der") {
			wantNumber, wantBase = 0x1001, true
		}
		if len(crl.RevokedCertificates) != 2 || crl.Number == nil || crl.Number.Int64() != wantNumber || (crl.BaseCRLNumber != nil) != wantBase {
			t.Errorf("%s: %d entries, number %v, base %v", p, len(crl.RevokedCertificates), crl.Number, crl.BaseCRLNumber)
		}
	}
}
