package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

// keySpec is one key type the revocation interop tests run on: every GOST
// parameter set `openssl genpkey` with the gost engine can make, and ECDSA
// P-256.
type keySpec struct {
	name    string
	genpkey []string
	// ocspMD is openssl's digest flag for Streebog CertIDs, with the
	// matching CertIDHash; empty for non-GOST keys.
	ocspMD   string
	ocspHash CertIDHash
}

var keySpecs = []keySpec{
	gost256Spec("A"), gost256Spec("B"), gost256Spec("C"), gost256Spec("XA"), gost256Spec("XB"),
	gost256Spec("TCA"), gost256Spec("TCB"), gost256Spec("TCC"), gost256Spec("TCD"),
	gost512Spec("A"), gost512Spec("B"), gost512Spec("C"),
	{name: "ecdsa-p256", genpkey: []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, ocspMD: "-sha256", ocspHash: CertIDSHA256},
}

func gost256Spec(ps string) keySpec {
	return keySpec{name: "gost256-" + ps, genpkey: []string{"-algorithm", "gost2012_256", "-pkeyopt", "paramset:" + ps},
		ocspMD: "-md_gost12_256", ocspHash: CertIDStreebog256}
}

func gost512Spec(ps string) keySpec {
	return keySpec{name: "gost512-" + ps, genpkey: []string{"-algorithm", "gost2012_512", "-pkeyopt", "paramset:" + ps},
		ocspMD: "-md_gost12_512", ocspHash: CertIDStreebog512}
}

// testPKI is a CA made by openssl with an openssl database, and
// certificates it issued from one leaf key:
//   - revoked: revoked in the database with keyCompromise and a compromise time;
//   - superseded: revoked in the database as superseded;
//   - good: valid in the database;
//   - responder: valid, with id-kp-OCSPSigning (a delegated OCSP responder).
type testPKI struct {
	dir                                  string
	caPath, caKeyPath, configPath        string
	ca                                   *Certificate
	caSigner                             crypto.Signer
	leafKeyPath                          string
	leafSigner                           crypto.Signer
	revoked, superseded, good, responder *issued
}

type issued struct {
	path string
	cert *Certificate
}

// compromiseTime is the invalidity date openssl's database records for the
// revoked certificate.
var compromiseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestPKI(t *testing.T, spec keySpec) *testPKI {
	t.Helper()
	testkit.RequireOpenSSL(t)
	dir := t.TempDir()
	p := &testPKI{
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
	p.ca = parseCertFile(t, p.caPath)
	p.caSigner = loadSigner(t, p.caKeyPath)

	p.leafKeyPath = filepath.Join(dir, "leaf.key")
	run(append([]string{"genpkey", "-out", p.leafKeyPath}, spec.genpkey...)...)
	p.leafSigner = loadSigner(t, p.leafKeyPath)
	csr := filepath.Join(dir, "leaf.csr")
	run("req", "-new", "-key", p.leafKeyPath, "-subj", "/CN=leaf", "-out", csr)
	issue := func(name, serial, ext string) *issued {
		extPath := filepath.Join(dir, name+".ext")
		writeFile(t, extPath, ext)
		out := filepath.Join(dir, name+".pem")
		run("x509", "-req", "-in", csr, "-CA", p.caPath, "-CAkey", p.caKeyPath, "-set_serial", serial,
			"-days", "10", "-extfile", extPath, "-out", out)
		return &issued{path: out, cert: parseCertFile(t, out)}
	}
	p.revoked = issue("revoked", "0x1001", "keyUsage=critical,digitalSignature\n")
	p.superseded = issue("superseded", "0x1002", "keyUsage=critical,digitalSignature\n")
	p.good = issue("good", "0x1003", "keyUsage=critical,digitalSignature\n")
	p.responder = issue("responder", "0x1004", "keyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n")

	// A minimal `openssl ca` setup: database, CRL number, the CA files.
	writeFile(t, filepath.Join(dir, "index.txt"), "")
	writeFile(t, filepath.Join(dir, "crlnumber"), "1000\n")
	writeFile(t, p.configPath, fmt.Sprintf(`.include %s
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
`, testkit.OpenSSLConfig(), filepath.Join(dir, "index.txt"), filepath.Join(dir, "crlnumber"), p.caPath, p.caKeyPath))
	ca := func(args ...string) { run(append([]string{"ca", "-config", p.configPath, "-batch"}, args...)...) }
	ca("-revoke", p.revoked.path, "-crl_compromise", compromiseTime.Format("20060102150405Z"))
	ca("-revoke", p.superseded.path, "-crl_reason", "superseded")
	ca("-valid", p.good.path)
	ca("-valid", p.responder.path)
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func parseCertFile(t *testing.T, path string) *Certificate {
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

// loadSigner reads an openssl PKCS#8 private key: GOST keys through the
// gost package, ECDSA and RSA through the standard library.
func loadSigner(t *testing.T, path string) crypto.Signer {
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

// opensslCombined runs openssl with the gost engine and returns its
// standard output and error together: some commands (crl -verify) report
// a failed verification only there, with exit status 0.
func opensslCombined(t *testing.T, args ...string) (string, error) {
	t.Helper()
	testkit.RequireOpenSSL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+testkit.OpenSSLConfig())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func pemFile(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
	return path
}

func derFile(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, string(der))
	return path
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

func hexSerial(s string) *big.Int {
	n, ok := new(big.Int).SetString(strings.TrimPrefix(s, "0x"), 16)
	if !ok {
		panic("bad serial " + s)
	}
	return n
}
