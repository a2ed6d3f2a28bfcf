package pki

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.VectorsDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseVectors(t *testing.T) {
	tests := []struct {
		file, issuerFile string // issuerFile "": self-signed
		serial           int64
		subject          string
		alg              SignatureAlgorithm
		keyBits          int
		isCA             bool
	}{
		{"rfc9215_ex1.der", "", 10, "CN=Example", GOST256, 256, true},
		{"rfc9215_ex2.der", "", 10, "CN=Example", GOST256, 256, true},
		{"rfc9215_ex3.der", "", 11, "CN=Example", GOST512, 512, true},
		{"tc26_root256_cert.pem", "", 26000001, "CN=CA TK26: GOST 34.10-12 256-bit,O=TK26", GOST256, 256, false},
		{"tc26_sender256_cert.pem", "tc26_root256_cert.pem", 26000002, "CN=ORIGINATOR: GOST 34.10-12 256-bit,O=TK26", GOST256, 256, false},
		{"tc26_sender512_cert.pem", "tc26_root256_cert.pem", 26000004, "CN=ORIGINATOR: GOST 34.10-12 512-bit,O=TK26", GOST256, 512, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			certs, err := ParseCertificates(readVector(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			c := certs[0]
			if c.SerialNumber.Int64() != tt.serial || c.Subject.String() != tt.subject || c.SignatureAlgorithm != tt.alg || c.IsCA != tt.isCA || c.Version != 3 {
				t.Errorf("serial %v subject %q alg %v CA %v version %d", c.SerialNumber, c.Subject.String(), c.SignatureAlgorithm, c.IsCA, c.Version)
			}
			k, ok := c.PublicKey.(*gost.PublicKey)
			if !ok || 8*k.Curve.Size() != tt.keyBits {
				t.Fatalf("public key %T", c.PublicKey)
			}
			issuer := c
			if tt.issuerFile != "" {
				ic, err := ParseCertificates(readVector(t, tt.issuerFile))
				if err != nil {
					t.Fatal(err)
				}
				issuer = ic[0]
			}
			if err := c.CheckSignatureFrom(issuer); err != nil {
				t.Fatalf("signature: %v", err)
			}
			bad := append([]byte(nil), c.Raw...)
			bad[len(bad)-5] ^= 0x01
			bc, err := ParseCertificate(bad)
			if err != nil {
				t.Fatal(err)
			}
			if err := bc.CheckSignatureFrom(issuer); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("altered signature: %v", err)
			}
		})
	}
}

func TestTC26ChainLikeOpenSSL(t *testing.T) {
	// The TC26 root has no basicConstraints: OpenSSL says "invalid CA
	// certificate" and so must we.
	root, _ := ParseCertificates(readVector(t, "tc26_root256_cert.pem"))
	leaf, _ := ParseCertificates(readVector(t, "tc26_sender256_cert.pem"))
	_, err := leaf[0].Verify(VerifyOptions{Roots: root, CurrentTime: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	var ce *CertificateInvalidError
	if !errors.As(err, &ce) || ce.Reason != NotAuthorizedToSign || !ce.Cert.Equal(root[0]) {
		t.Fatalf("got %v, want NotAuthorizedToSign on the root", err)
	}
}

// testCert is a certificate with the key that can sign for it.
type testCert struct {
	cert *Certificate
	key  crypto.Signer
}

func issue(t testing.TB, tmpl *Certificate, parent *testCert, key crypto.Signer) *testCert {
	t.Helper()
	var parentCert *Certificate
	signer := key
	if parent != nil {
		parentCert, signer = parent.cert, parent.key
	}
	der, err := CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{c, key}
}

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func caTemplate(cn string) *Certificate {
	return &Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               Name{Country: "RU", Organization: "Тестовый УЦ", CommonName: cn, OGRN: "1027700132195", INNLE: "7707083893"},
		NotBefore:             testNow.Add(-24 * time.Hour),
		NotAfter:              testNow.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectSignTool:       "gostkey",
	}
}

func leafTemplate() *Certificate {
	return &Certificate{
		SerialNumber: new(big.Int).SetBytes(bytes.Repeat([]byte{0x7f}, 20)),
		Subject: Name{
			Country: "RU", Province: "77 г. Москва", Locality: "Москва", Street: "ул. Тверская, д. 1",
			CommonName: "Иванов Иван Иванович", Surname: "Иванов", GivenName: "Иван Иванович", Title: "Инженер",
			SNILS: "11223344595", INN: "500100732259", Email: "ivanov@example.ru",
		},
		NotBefore:                testNow.Add(-time.Hour),
		NotAfter:                 testNow.Add(365 * 24 * time.Hour),
		KeyUsage:                 x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:              []asn1.ObjectIdentifier{OIDExtKeyUsageClientAuth, OIDExtKeyUsageEmailProtection},
		BasicConstraintsValid:    true,
		CRLDistributionPoints:    []string{"http://127.0.0.1:8080/v1/crl"},
		OCSPServer:               []string{"http://127.0.0.1:8080/v1/ocsp"},
		IssuingCertificateURL:    []string{"http://127.0.0.1:8080/v1/roots"},
		EmailAddresses:           []string{"ivanov@example.ru"},
		DNSNames:                 []string{"localhost"},
		IPAddresses:              []net.IP{net.IPv4(127, 0, 0, 1).To4()},
		PolicyIdentifiers:        []asn1.ObjectIdentifier{OIDPolicyKC1, OIDPolicyKC2},
		SubjectSignTool:          "СКЗИ «gostkey»",
		IssuerSignTool:           &IssuerSignTool{"СКЗИ «gostkey»", "ПАК «gostkey-ca»", "Сертификат СФ/124-0000", "Сертификат СФ/128-0000"},
		PrivateKeyUsageNotBefore: testNow.Add(-time.Hour).Truncate(time.Second),
		PrivateKeyUsageNotAfter:  testNow.Add(365 * 24 * time.Hour).Truncate(time.Second),
	}
}

func TestCreateCertificateRoundTrip(t *testing.T) {
	for _, name := range []string{"streebog256", "streebog512", "p256", "rsa"} {
		t.Run(name, func(t *testing.T) {
			key := testKey(t, name)
			root := issue(t, caTemplate("Тестовый корневой УЦ"), nil, key)
			tmpl := leafTemplate()
			leaf := issue(t, tmpl, root, testKey(t, "streebog256"))
			c := leaf.cert

			alg, _ := DefaultSignatureAlgorithm(key.Public())
			if c.SignatureAlgorithm != alg || root.cert.SignatureAlgorithm != alg {
				t.Errorf("signature algorithm %v, want %v", c.SignatureAlgorithm, alg)
			}
			if !bytes.Equal(c.RawIssuer, root.cert.RawSubject) || !reflect.DeepEqual(c.Issuer.Attributes, root.cert.Subject.Attributes) {
				t.Error("issuer is not the root's subject")
			}
			if !bytes.Equal(root.cert.RawIssuer, root.cert.RawSubject) {
				t.Error("root is not self-issued")
			}
			rootKeyID, _ := KeyID(key.Public())
			if !bytes.Equal(root.cert.SubjectKeyId, rootKeyID) || !bytes.Equal(root.cert.AuthorityKeyId, rootKeyID) || !bytes.Equal(c.AuthorityKeyId, rootKeyID) {
				t.Error("key identifiers do not chain")
			}
			leafKeyID, _ := KeyID(leaf.key.Public())
			if !bytes.Equal(c.SubjectKeyId, leafKeyID) {
				t.Error("leaf SKI is not KeyID")
			}
			if !publicKeysEqual(c.PublicKey, leaf.key.Public()) {
				t.Error("public key differs")
			}
			got := *c
			want := *tmpl
			want.SignatureAlgorithm, want.SubjectKeyId, want.AuthorityKeyId = alg, leafKeyID, rootKeyID
			want.MaxPathLen = -1
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"SerialNumber", got.SerialNumber, want.SerialNumber},
				{"Subject", got.Subject.String(), want.Subject.String()},
				{"NotBefore", got.NotBefore, want.NotBefore.Truncate(time.Second)},
				{"NotAfter", got.NotAfter, want.NotAfter.Truncate(time.Second)},
				{"KeyUsage", got.KeyUsage, want.KeyUsage},
				{"ExtKeyUsage", got.ExtKeyUsage, want.ExtKeyUsage},
				{"BasicConstraints", []any{got.BasicConstraintsValid, got.IsCA, got.MaxPathLen}, []any{true, false, -1}},
				{"CRLDistributionPoints", got.CRLDistributionPoints, want.CRLDistributionPoints},
				{"OCSPServer", got.OCSPServer, want.OCSPServer},
				{"IssuingCertificateURL", got.IssuingCertificateURL, want.IssuingCertificateURL},
				{"EmailAddresses", got.EmailAddresses, want.EmailAddresses},
				{"DNSNames", got.DNSNames, want.DNSNames},
				{"IPAddresses", got.IPAddresses, want.IPAddresses},
				{"PolicyIdentifiers", got.PolicyIdentifiers, want.PolicyIdentifiers},
				{"SubjectSignTool", got.SubjectSignTool, want.SubjectSignTool},
				{"IssuerSignTool", got.IssuerSignTool, want.IssuerSignTool},
				{"PrivateKeyUsageNotBefore", got.PrivateKeyUsageNotBefore, want.PrivateKeyUsageNotBefore},
				{"PrivateKeyUsageNotAfter", got.PrivateKeyUsageNotAfter, want.PrivateKeyUsageNotAfter},
				{"UnhandledCriticalExtensions", len(got.UnhandledCriticalExtensions), 0},
				{"Version", got.Version, 3},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			if err := c.Subject.ValidateQualified(); err != nil {
				t.Error(err)
			}
			chain, err := c.Verify(VerifyOptions{Roots: []*Certificate{root.cert}, CurrentTime: testNow, KeyUsage: x509.KeyUsageDigitalSignature})
			if err != nil || len(chain) != 2 {
				t.Fatalf("Verify: %v (%d certificates)", err, len(chain))
			}
			// crypto/x509 reads the structure the same way.
			xc, err := x509.ParseCertificate(c.Raw)
			if err != nil {
				t.Fatalf("crypto/x509: %v", err)
			}
			if xc.SerialNumber.Cmp(c.SerialNumber) != 0 || xc.KeyUsage != c.KeyUsage || !reflect.DeepEqual(xc.CRLDistributionPoints, c.CRLDistributionPoints) {
				t.Error("crypto/x509 reads different fields")
			}
			// Where crypto/x509 can check the signature (ECDSA, RSA roots), it
			// accepts the chain as ours does.
			if !alg.IsGOST() {
				xroot, err := x509.ParseCertificate(root.cert.Raw)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				pool.AddCert(xroot)
				if _, err := xc.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("crypto/x509 Verify: %v", err)
				}
			}
		})
	}
}

func TestCreateCertificateGOSTAlgorithmIdentifierHasNoParameters(t *testing.T) {
	for _, tt := range []struct {
		key string
		ai  string
	}{{"streebog256", "300a06082a85030701010302"}, {"streebog512", "300a06082a85030701010303"}} {
		root := issue(t, caTemplate("root"), nil, testKey(t, tt.key))
		ai, _ := hex.DecodeString(tt.ai)
		if n := bytes.Count(root.cert.Raw, ai); n != 2 {
			t.Errorf("%s: AlgorithmIdentifier without parameters appears %d times, want 2", tt.key, n)
		}
		if bytes.Contains(root.cert.Raw, append(append([]byte{0x30, 0x0c}, ai[2:]...), 0x05, 0x00)) {
			t.Errorf("%s: NULL parameters written", tt.key)
		}
	}
}

func TestCreateCertificateRejects(t *testing.T) {
	key := testKey(t, "streebog256")
	other := testKey(t, "streebog512")
	root := issue(t, caTemplate("root"), nil, key)
	tests := []struct {
		name   string
		mod    func(*Certificate)
		parent *Certificate
		signer crypto.Signer
	}{
		{"zero serial", func(c *Certificate) { c.SerialNumber = big.NewInt(0) }, nil, key},
		{"negative serial", func(c *Certificate) { c.SerialNumber = big.NewInt(-5) }, nil, key},
		{"21-byte serial", func(c *Certificate) { c.SerialNumber = new(big.Int).Lsh(big.NewInt(1), 159) }, nil, key},
		{"no NotAfter", func(c *Certificate) { c.NotAfter = time.Time{} }, nil, key},
		{"NotAfter before NotBefore", func(c *Certificate) { c.NotAfter = c.NotBefore.Add(-time.Second) }, nil, key},
		{"self-signed by another key", func(*Certificate) {}, nil, other},
		{"signer is not the parent", func(*Certificate) {}, root.cert, other},
		{"algorithm does not fit the key", func(c *Certificate) { c.SignatureAlgorithm = GOST512 }, nil, key},
		{"pathLen without CA", func(c *Certificate) { c.IsCA, c.MaxPathLen = false, 2 }, nil, key},
		{"bad SNILS characters", func(c *Certificate) { c.Subject.SNILS = "112-233-445 95" }, nil, key},
		{"duplicate extra extension", func(c *Certificate) {
			e := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}
			c.ExtraExtensions = []pkix.Extension{e, e}
		}, nil, key},
	}
	for _, tt := range tests {
		tmpl := caTemplate("x")
		tt.mod(tmpl)
		if _, err := CreateCertificate(rand.Reader, tmpl, tt.parent, key.Public(), tt.signer); err == nil {
			t.Errorf("%s: certificate created", tt.name)
		}
	}
	// The largest serial that fits: 20 bytes, top bit clear.
	tmpl := caTemplate("x")
	tmpl.SerialNumber = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
	if _, err := CreateCertificate(rand.Reader, tmpl, nil, key.Public(), key); err != nil {
		t.Errorf("20-byte serial: %v", err)
	}
}

func TestNewSerialNumber(t *testing.T) {
	for i := 0; i < 50; i++ {
		n, err := NewSerialNumber(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSerial(n); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := caTemplate("x")
	tmpl.SerialNumber = nil
	key := testKey(t, "p256")
	c := issue(t, tmpl, nil, key)
	if c.cert.SerialNumber.Sign() <= 0 {
		t.Fatal("no serial")
	}
}

func TestExtraExtensionsOverride(t *testing.T) {
	key := testKey(t, "p256")
	tmpl := caTemplate("x")
	custom := pkix.Extension{Id: OIDExtensionSubjectSignTool, Value: []byte{0x0c, 0x03, 'a', 'b', 'c'}}
	unknown := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 643, 999, 1}, Critical: true, Value: []byte{5, 0}}
	tmpl.ExtraExtensions = []pkix.Extension{custom, unknown}
	c := issue(t, tmpl, nil, key).cert
	if c.SubjectSignTool != "abc" {
		t.Errorf("SubjectSignTool = %q", c.SubjectSignTool)
	}
	if len(c.UnhandledCriticalExtensions) != 1 || !c.UnhandledCriticalExtensions[0].Equal(unknown.Id) {
		t.Errorf("unhandled critical = %v", c.UnhandledCriticalExtensions)
	}
}

func TestParseCertificatesForms(t *testing.T) {
	a := issue(t, caTemplate("a"), nil, testKey(t, "p256")).cert
	b := issue(t, caTemplate("b"), nil, testKey(t, "streebog256")).cert
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})...)
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Raw})...)
	for name, data := range map[string][]byte{"PEM": pemData, "DER": append(append([]byte(nil), a.Raw...), b.Raw...)} {
		certs, err := ParseCertificates(data)
		if err != nil || len(certs) != 2 || !certs[0].Equal(a) || !certs[1].Equal(b) {
			t.Errorf("%s: %d certificates, %v", name, len(certs), err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("-----BEGIN X-----\n-----END X-----\n"), {0x30, 0x03, 1, 2}} {
		if _, err := ParseCertificates(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := ParseCertificate(append(append([]byte(nil), a.Raw...), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func TestValidityTimeEncoding(t *testing.T) {
	// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
	tmpl := caTemplate("x")
	tmpl.NotBefore = time.Date(2049, 12, 31, 23, 59, 59, 0, time.FixedZone("MSK", 3*3600))
	tmpl.NotAfter = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	c := issue(t, tmpl, nil, testKey(t, "p256")).cert
	if !c.NotBefore.Equal(tmpl.NotBefore) || !c.NotAfter.Equal(tmpl.NotAfter) {
		t.Fatalf("validity %v – %v", c.NotBefore, c.NotAfter)
	}
	if !bytes.Contains(c.RawTBSCertificate, []byte("\x17\x0d491231205959Z\x18\x0f20500101000000Z")) {
		t.Fatal("validity not written as UTCTime (in UTC), then GeneralizedTime")
	}
}

func TestParseCertificateUnsupportedKey(t *testing.T) {
	// An Ed25519 certificate: parsed for display, with the key and the
	// algorithm left unknown, and refused when checked.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ed"},
		NotBefore: testNow, NotAfter: testNow.Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ed"}}, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicKey != nil || c.SignatureAlgorithm != UnknownSignatureAlgorithm || c.Subject.CommonName != "ed" {
		t.Fatalf("key %T, algorithm %v", c.PublicKey, c.SignatureAlgorithm)
	}
	if err := c.CheckSignatureFrom(c); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("CheckSignatureFrom: %v", err)
	}
	_, err = c.Verify(VerifyOptions{Roots: []*Certificate{c}, CurrentTime: testNow})
	if err != nil {
		t.Errorf("a trusted root is its own chain whatever its algorithm: %v", err)
	}
	var b bytes.Buffer
	if err := c.Describe(&b); err != nil || !bytes.Contains(b.Bytes(), []byte("unsupported algorithm 1.3.101.112")) {
		t.Errorf("Describe: %v\n%s", err, b.String())
	}
	if _, err := ParsePublicKey(c.RawSubjectPublicKeyInfo); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("ParsePublicKey: %v", err)
	}
}
