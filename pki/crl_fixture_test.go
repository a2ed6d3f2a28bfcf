package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

// revKeySpec is one key type the revocation interop tests run on: every GOST
// parameter set `openssl genpkey` with the gost engine can make, ECDSA
// P-256 and RSA.
type revKeySpec struct {
	name    string
	genpkey []string
	// ocspMD is openssl's digest flag for Streebog CertIDs, with the
	// matching CertIDHash; empty for non-GOST keys.
	ocspMD   string
	ocspHash CertIDHash
	// full runs every variant (delta CRLs, responder ID forms, openssl's
	// trust options, tampering); the other specs run what depends on the
	// key: signatures and key hashes both ways. This keeps the run short
	// on a shared machine.
	full bool
}

var revKeySpecs = []revKeySpec{
	revGOST256Spec("A", true), revGOST256Spec("B", false), revGOST256Spec("C", false), revGOST256Spec("XA", false),
	revGOST256Spec("XB", false), revGOST256Spec("TCA", false), revGOST256Spec("TCB", false), revGOST256Spec("TCC", false),
	revGOST256Spec("TCD", false), revGOST512Spec("A", false), revGOST512Spec("B", false), revGOST512Spec("C", true),
	{name: "ecdsa-p256", genpkey: []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
		ocspMD: "-sha256", ocspHash: CertIDSHA256, full: true},
	{name: "rsa-2048", genpkey: []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"},
		ocspMD: "-sha384", ocspHash: CertIDSHA384},
}

func revGOST256Spec(ps string, full bool) revKeySpec {
	return revKeySpec{name: "gost256-" + ps, genpkey: []string{"-algorithm", "gost2012_256", "-pkeyopt", "paramset:" + ps},
		ocspMD: "-md_gost12_256", ocspHash: CertIDStreebog256, full: full}
}

func revGOST512Spec(ps string, full bool) revKeySpec {
	return revKeySpec{name: "gost512-" + ps, genpkey: []string{"-algorithm", "gost2012_512", "-pkeyopt", "paramset:" + ps},
		ocspMD: "-md_gost12_512", ocspHash: CertIDStreebog512, full: full}
}

// revPKI is a CA made by openssl with an openssl database, and
// certificates it issued from one leaf key:
//   - revoked: revoked in the database with keyCompromise and a compromise time;
//   - superseded: revoked in the database as superseded (full specs only);
//   - good: valid in the database (full specs only: the others ask
//     OpenSSL's responder about the revoked one alone);
//   - responder: with id-kp-OCSPSigning (a delegated OCSP responder).
type revPKI struct {
	dir                                  string
	caPath, caKeyPath, configPath        string
	ca                                   *Certificate
	caSigner                             crypto.Signer
	leafKeyPath                          string
	leafSigner                           crypto.Signer
	revoked, superseded, good, responder *revIssued
}

type revIssued struct {
	path string
	cert *Certificate
}

// revCompromiseTime is the invalidity date openssl's database records for the
// revoked certificate.
var revCompromiseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newRevPKI(t *testing.T, spec revKeySpec) *revPKI {
	t.Helper()
	testkit.RequireOpenSSL(t)
	dir := t.TempDir()
	p := &revPKI{
		dir:        dir,
		caPath:     filepath.Join(dir, "ca.pem"),
		caKeyPath:  filepath.Join(dir, "ca.key"),
		configPath: filepath.Join(dir, "ca.cnf"),
	}
	run := func(args ...string) { testkit.OpenSSL(t, nil, args...) }
	run(append([]string{"genpkey", "-out", p.caKeyPath}, spec.genpkey...)...)
	run("req", "-x509", "-new", "-key", p.caKeyPath, "-subj", "/O=gostkey tests/CN=Revocation CA "+spec.name,
		"-days", "30", "-set_serial", "1", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
		"-addext", "basicConstraints=critical,CA:true", "-addext", "subjectKeyIdentifier=hash", "-out", p.caPath)
	p.ca = revParseCertFile(t, p.caPath)
	p.caSigner = revLoadSigner(t, p.caKeyPath)

	p.leafKeyPath = filepath.Join(dir, "leaf.key")
	run(append([]string{"genpkey", "-out", p.leafKeyPath}, spec.genpkey...)...)
	p.leafSigner = revLoadSigner(t, p.leafKeyPath)
	csr := filepath.Join(dir, "leaf.csr")
	run("req", "-new", "-key", p.leafKeyPath, "-subj", "/CN=leaf", "-out", csr)
	issue := func(name, serial, ext string) *revIssued {
		extPath := filepath.Join(dir, name+".ext")
		revWriteFile(t, extPath, ext)
		out := filepath.Join(dir, name+".pem")
		run("x509", "-req", "-in", csr, "-CA", p.caPath, "-CAkey", p.caKeyPath, "-set_serial", serial,
			"-days", "10", "-extfile", extPath, "-out", out)
		return &revIssued{path: out, cert: revParseCertFile(t, out)}
	}
	// The leaves name the distribution point the delta CRL is scoped to
	// (RFC 5280 §6.3.3: a CRL with one covers only such certificates).
	leafExt := "keyUsage=critical,digitalSignature\ncrlDistributionPoints=URI:http://ca.test/revocation.crl\n"
	p.revoked = issue("revoked", "0x1001", leafExt)
	p.good = issue("good", "0x1003", leafExt)
	p.responder = issue("responder", "0x1004", "keyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n")

	// A minimal `openssl ca` setup: database, CRL number, the CA files.
	revWriteFile(t, filepath.Join(dir, "index.txt"), "")
	revWriteFile(t, filepath.Join(dir, "crlnumber"), "1000\n")
	revWriteFile(t, p.configPath, fmt.Sprintf(`.include %s
[ca]
default_ca = testca
[testca]
database = %s
crlnumber = %s
certificate = %s
private_key = %s
default_md = default
default_crl_days = 7
unique_subject = no
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
# A delta CRL scoped by a critical distribution point (openssl ca -gencrl
# -crlexts delta_ext); openssl has no syntax for deltaCRL but DER.
[delta_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp
deltaCRL = critical, DER:02:02:0f:ff
[idp]
fullname = URI:http://ca.test/revocation.crl
`, testkit.OpenSSLConfig(), filepath.Join(dir, "index.txt"), filepath.Join(dir, "crlnumber"), p.caPath, p.caKeyPath))
	ca := func(args ...string) { run(append([]string{"ca", "-config", p.configPath, "-batch"}, args...)...) }
	ca("-revoke", p.revoked.path, "-crl_compromise", revCompromiseTime.Format("20060102150405Z"))
	if spec.full {
		p.superseded = issue("superseded", "0x1002", leafExt)
		ca("-revoke", p.superseded.path, "-crl_reason", "superseded")
		ca("-valid", p.good.path)
	}
	return p
}

func revWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func revParseCertFile(t *testing.T, path string) *Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(data)
	if err != nil || len(certs) != 1 {
		t.Fatalf("parsing %s: %v (%d certificates)", path, err, len(certs))
	}
	return certs[0]
}

// revLoadSigner reads an openssl PKCS#8 private key: GOST keys through the
// gost package, ECDSA and RSA through the standard library.
func revLoadSigner(t *testing.T, path string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return k.(crypto.Signer)
	}
	k, err := gost.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// revOpenSSLCombined runs openssl with the gost engine and returns its
// standard output and error together: some commands (crl -verify) report
// a failed verification only there, with exit status 0.
func revOpenSSLCombined(t *testing.T, args ...string) (string, error) {
	t.Helper()
	testkit.RequireOpenSSL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+testkit.OpenSSLConfig())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func revPEMFile(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	revWriteFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
	return path
}

func revDERFile(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	revWriteFile(t, path, string(der))
	return path
}

func revMustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}
