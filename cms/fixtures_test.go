package cms

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// keyKinds are the key types openssl with the gost engine can generate
// (fact sheet §1: gost2012_256 A/B/C are CryptoPro A/B/C, XA/XB the Xch
// sets, TCA..TCD TC26-256 A..D; gost2012_512 A/B/C are TC26-512 A/B/C),
// plus ECDSA P-256 and RSA.
var keyKinds = []struct {
	name string
	args []string
}{
	{"gost256-A", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:A"}},
	{"gost256-B", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:B"}},
	{"gost256-C", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:C"}},
	{"gost256-XA", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:XA"}},
	{"gost256-XB", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:XB"}},
	{"gost256-TCA", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:TCA"}},
	{"gost256-TCB", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:TCB"}},
	{"gost256-TCC", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:TCC"}},
	{"gost256-TCD", []string{"-newkey", "gost2012_256", "-pkeyopt", "paramset:TCD"}},
	{"gost512-A", []string{"-newkey", "gost2012_512", "-pkeyopt", "paramset:A"}},
	{"gost512-B", []string{"-newkey", "gost2012_512", "-pkeyopt", "paramset:B"}},
	{"gost512-C", []string{"-newkey", "gost2012_512", "-pkeyopt", "paramset:C"}},
	{"ecdsa-p256", []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}},
	{"rsa-2048", []string{"-newkey", "rsa:2048"}},
}

// identity is a signer made by openssl: a leaf key and certificate issued
// by a root of the same key type, with the files openssl needs.
type identity struct {
	kind              string
	key, rootKey      crypto.Signer
	cert, root        *pki.Certificate
	certFile, keyFile string
	rootFile          string
}

var (
	fixtureMu   sync.Mutex
	fixtureDir  string
	identities  = map[string]*identity{}
	fixtureOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// newIdentity returns the (cached) identity for a key kind: one key per
// kind per test binary keeps the interop tests fast.
func newIdentity(t testing.TB, kind string) *identity {
	t.Helper()
	testkit.RequireOpenSSL(t)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if id, ok := identities[kind]; ok {
		return id
	}
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cms-fixtures-")
		if err != nil {
			t.Fatal(err)
		}
		fixtureDir = dir
	})
	var args []string
	for _, k := range keyKinds {
		if k.name == kind {
			args = k.args
		}
	}
	if args == nil {
		t.Fatalf("unknown key kind %q", kind)
	}
	p := func(name string) string { return filepath.Join(fixtureDir, kind+"-"+name) }
	id := &identity{kind: kind, certFile: p("leaf.pem"), keyFile: p("leaf.key"), rootFile: p("root.pem")}
	testkit.OpenSSL(t, nil, append([]string{"req", "-x509", "-nodes", "-keyout", p("root.key"), "-out", id.rootFile,
		"-subj", "/CN=cms test root " + kind, "-days", "3650",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"}, args...)...)
	testkit.OpenSSL(t, nil, append([]string{"req", "-x509", "-nodes", "-keyout", id.keyFile, "-out", id.certFile,
		"-CA", id.rootFile, "-CAkey", p("root.key"), "-subj", "/CN=cms test signer " + kind + "/O=gostkey", "-days", "365",
		"-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature,nonRepudiation",
		// An OCSP responder nobody listens on: revocation tests answer
		// through VerifyOptions.OCSPQuery.
		"-addext", "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp"}, args...)...)
	id.cert = loadCert(t, id.certFile)
	id.root = loadCert(t, id.rootFile)
	id.key = loadKey(t, id.keyFile)
	id.rootKey = loadKey(t, p("root.key"))
	identities[kind] = id
	return id
}

func pemBlock(t testing.TB, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", file)
	}
	return block.Bytes
}

func loadCert(t testing.TB, file string) *pki.Certificate {
	t.Helper()
	c, err := pki.ParseCertificate(pemBlock(t, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

func loadKey(t testing.TB, file string) crypto.Signer {
	t.Helper()
	der := pemBlock(t, file)
	if k, err := gost.ParsePKCS8PrivateKey(der); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return k.(crypto.Signer)
}
