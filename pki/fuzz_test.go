package pki

import (
	"bytes"
	"crypto/rand"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are the OpenSSL-made certificates or requests (kind
// "certificate" or "request") the fuzz targets start from, made once into
// testdata/openssl (see its README); the targets add the RFC 9215 and TC26
// vectors and objects we make.
func fuzzSeeds(f *testing.F, kind string) [][]byte {
	var seeds [][]byte
	patterns := []string{"req-*.der"}
	if kind == "certificate" {
		patterns = []string{"root-*.der", "leaf-*.der"}
	}
	var files []string
	for _, pat := range patterns {
		more, _ := filepath.Glob(filepath.Join("testdata", "openssl", pat))
		files = append(files, more...)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	if len(seeds) == 0 {
		f.Fatalf("no %s seeds in testdata/openssl", kind)
	}
	return seeds
}

func FuzzParseCertificate(f *testing.F) {
	for _, s := range fuzzSeeds(f, "certificate") {
		f.Add(s)
	}
	for _, v := range []string{"rfc9215_ex1.der", "rfc9215_ex2.der", "rfc9215_ex3.der", "tc26_root256_cert.pem", "tc26_sender256_cert.pem", "tc26_sender512_cert.pem"} {
		b := readVector(f, v)
		if block, _ := pem.Decode(b); block != nil {
			b = block.Bytes
		}
		f.Add(b)
	}
	root := issue(f, caTemplate("root"), nil, testKey(f, "streebog256"))
	f.Add(root.cert.Raw)
	f.Add(issue(f, leafTemplate(), root, testKey(f, "streebog512")).cert.Raw)
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Raw, der) {
			t.Fatal("Raw is not the input")
		}
		_ = c.Subject.String()
		_ = c.Issuer.String()
		if err := c.Describe(io.Discard); err != nil {
			t.Fatal(err)
		}
		// Self-verification exercises every check without panicking.
		_, _ = c.Verify(VerifyOptions{Roots: []*Certificate{c}})
		again, err := ParseCertificate(c.Raw)
		if err != nil || !again.Equal(c) {
			t.Fatalf("a parsed certificate does not parse again: %v", err)
		}
	})
}

func FuzzParseCertificateRequest(f *testing.F) {
	for _, s := range fuzzSeeds(f, "request") {
		f.Add(s)
	}
	der, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{Subject: leafTemplate().Subject, SubjectSignTool: "x", KeyUsage: 1}, testKey(f, "streebog256"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseCertificateRequest(data)
		if err != nil {
			return
		}
		_ = r.CheckSignature()
		if err := r.Describe(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseNameDER(f *testing.F) {
	for _, s := range fuzzSeeds(f, "certificate") {
		if c, err := ParseCertificate(s); err == nil {
			f.Add(c.RawSubject)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		n, err := ParseNameDER(der)
		if err != nil {
			return
		}
		_ = n.String()
		_ = n.ValidateQualified()
	})
}

// FuzzParseName checks that a name read from text and written as DER reads
// back, and that String's output parses to the same DER.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"/C=RU/CN=Иванов Иван/SNILS=11223344595/INN=500100732259",
		`INN=500100732259,SNILS=11223344595,CN=a\,b\+c\5C,C=RU`,
		"CN=x, 1.2.3.4=v, O=  spaced\\ ",
		"СНИЛС=11223344595,ИНН=007707083893",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		der, err := n.Marshal()
		if err != nil {
			return
		}
		parsed, err := ParseNameDER(der)
		if err != nil {
			t.Fatalf("our DER does not parse: %v", err)
		}
		back, err := ParseName(parsed.String())
		if err != nil {
			t.Fatalf("String %q does not parse: %v", parsed.String(), err)
		}
		der2, err := back.Marshal()
		if err != nil || !bytes.Equal(der, der2) {
			t.Fatalf("%q → %q does not round-trip: %v", s, parsed.String(), err)
		}
	})
}
