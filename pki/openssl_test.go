package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

// opensslKeyKind is how `openssl genpkey`/`req -newkey` names a key type.
type opensslKeyKind struct {
	name      string // for file names and subjects
	algorithm string // gost2012_256, gost2012_512, ec
	paramset  string // -pkeyopt value
	curve     *gost.Curve
}

// gost-engine's paramset names by curve OID (fact sheet §1): for 256-bit
// keys A/B/C are CryptoPro A/B/C, XA/XB the exchange sets, TCA…TCD the
// TC26 sets; for 512-bit keys A/B/C are TC26-512 A/B/C. The test curves
// have no name there.
var opensslParamsets = map[string]string{
	"1.2.643.2.2.35.1":    "gost2012_256:A",
	"1.2.643.2.2.35.2":    "gost2012_256:B",
	"1.2.643.2.2.35.3":    "gost2012_256:C",
	"1.2.643.2.2.36.0":    "gost2012_256:XA",
	"1.2.643.2.2.36.1":    "gost2012_256:XB",
	"1.2.643.7.1.2.1.1.1": "gost2012_256:TCA",
	"1.2.643.7.1.2.1.1.2": "gost2012_256:TCB",
	"1.2.643.7.1.2.1.1.3": "gost2012_256:TCC",
	"1.2.643.7.1.2.1.1.4": "gost2012_256:TCD",
	"1.2.643.7.1.2.1.2.1": "gost2012_512:A",
	"1.2.643.7.1.2.1.2.2": "gost2012_512:B",
	"1.2.643.7.1.2.1.2.3": "gost2012_512:C",
}

// opensslKinds lists every curve of gost.Curves() that OpenSSL can make
// keys on, then ECDSA P-256.
func opensslKinds(t *testing.T) []opensslKeyKind {
	t.Helper()
	var kinds []opensslKeyKind
	for _, c := range gost.Curves() {
		spec, ok := opensslParamsets[c.OID.String()]
		if !ok {
			continue
		}
		alg, ps, _ := strings.Cut(spec, ":")
		kinds = append(kinds, opensslKeyKind{name: strings.ReplaceAll(alg, "gost2012_", "gost") + ps, algorithm: alg, paramset: "paramset:" + ps, curve: c})
	}
	if len(kinds) < 12 {
		t.Fatalf("only %d curves OpenSSL can make keys on; gost.Curves() lacks some", len(kinds))
	}
	return append(kinds, opensslKeyKind{name: "p256", algorithm: "ec", paramset: "ec_paramgen_curve:P-256"})
}

func pemFile(t *testing.T, dir, name, typ string, der ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	for _, d := range der {
		if err := pem.Encode(&b, &pem.Block{Type: typ, Bytes: d}); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenSSLAcceptsOurObjects: for every curve, a self-signed root and a
// leaf issued by it (for the next curve's key), made by us, pass `openssl
// verify -check_ss_sig`, and a request made by us passes `openssl req
// -verify`.
func TestOpenSSLAcceptsOurObjects(t *testing.T) {
	testkit.RequireOpenSSL(t)
	kinds := opensslKinds(t)
	dir := t.TempDir()
	keys := make([]crypto.Signer, len(kinds))
	for i, k := range kinds {
		var err error
		if k.curve != nil {
			keys[i], err = gost.GenerateKey(k.curve, rand.Reader)
		} else {
			keys[i], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var rootsDER [][]byte
	var files []string
	for i, k := range kinds {
		rt := caTemplate("Корень " + k.name)
		rt.NotBefore, rt.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		root := issue(t, rt, nil, keys[i])
		lt := leafTemplate()
		lt.Subject.CommonName += " " + k.name
		lt.NotBefore, lt.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
		leaf := issue(t, lt, root, keys[(i+1)%len(keys)])
		rootsDER = append(rootsDER, root.cert.Raw)
		files = append(files, pemFile(t, dir, "root-"+k.name+".pem", "CERTIFICATE", root.cert.Raw),
			pemFile(t, dir, "leaf-"+k.name+".pem", "CERTIFICATE", leaf.cert.Raw))
	}
	roots := pemFile(t, dir, "roots.pem", "CERTIFICATE", rootsDER...)
	out := string(testkit.OpenSSL(t, nil, append([]string{"verify", "-check_ss_sig", "-CAfile", roots}, files...)...))
	for _, f := range files {
		if !strings.Contains(out, f+": OK") {
			t.Errorf("openssl verify did not accept %s:\n%s", filepath.Base(f), out)
		}
	}

	// OpenSSL reads our qualified attributes by their names.
	subj := string(testkit.OpenSSL(t, nil, "x509", "-in", files[1], "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"))
	for _, want := range []string{"SNILS=11223344595", "INN=500100732259", "CN=Иванов Иван Иванович"} {
		if !strings.Contains(subj, want) {
			t.Errorf("openssl sees subject %q, without %q", subj, want)
		}
	}

	// Through an intermediate, OpenSSL and Verify agree: accepted under a
	// root without a path length limit, refused under pathLen 0.
	for _, limited := range []bool{false, true} {
		rt := caTemplate("Корень с промежуточным")
		rt.NotBefore, rt.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		rt.MaxPathLenZero = limited
		root := issue(t, rt, nil, keys[0])
		it := caTemplate("Промежуточный УЦ")
		it.NotBefore, it.NotAfter = rt.NotBefore, rt.NotAfter
		inter := issue(t, it, root, keys[len(keys)-1])
		lt := leafTemplate()
		lt.NotBefore, lt.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
		leaf := issue(t, lt, inter, keys[1])
		_, err := testkit.TryOpenSSL(t, nil, "verify", "-CAfile", pemFile(t, dir, "root3.pem", "CERTIFICATE", root.cert.Raw),
			"-untrusted", pemFile(t, dir, "inter3.pem", "CERTIFICATE", inter.cert.Raw), pemFile(t, dir, "leaf3.pem", "CERTIFICATE", leaf.cert.Raw))
		_, ourErr := leaf.cert.Verify(VerifyOptions{Roots: []*Certificate{root.cert}, Intermediates: []*Certificate{inter.cert}})
		var ce *CertificateInvalidError
		switch {
		case !limited && (err != nil || ourErr != nil):
			t.Errorf("three-certificate chain: openssl %v, ours %v", err, ourErr)
		case limited && (err == nil || !errors.As(ourErr, &ce) || ce.Reason != TooManyIntermediates):
			t.Errorf("pathLen 0 exceeded: openssl %v, ours %v", err, ourErr)
		}
	}

	// OpenSSL decodes our qualified-profile extensions as we meant them.
	text := string(testkit.OpenSSL(t, nil, "x509", "-in", files[1], "-noout", "-text"))
	for _, want := range []string{
		"Policy: Class of Signing Tool KC1", "Policy: Class of Signing Tool KC2",
		"Signing Tool of Subject: \n                СКЗИ «gostkey»",
		"cATool      : ПАК «gostkey-ca»", "cAToolCert  : Сертификат СФ/128-0000",
		"Private Key Usage Period: \n                Not Before: Jun  1 11:00:00 2026 GMT, Not After: Jun  1 12:00:00 2027 GMT",
		"OCSP - URI:http://127.0.0.1:8080/v1/ocsp", "URI:http://127.0.0.1:8080/v1/crl",
		"X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation, Key Encipherment",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q", want)
		}
	}

	// A changed signature byte must make OpenSSL refuse the leaf.
	leafDER, _ := pem.Decode(mustRead(t, files[1]))
	bad := append([]byte(nil), leafDER.Bytes...)
	bad[len(bad)-3] ^= 1
	badFile := pemFile(t, dir, "bad.pem", "CERTIFICATE", bad)
	if _, err := testkit.TryOpenSSL(t, nil, "verify", "-CAfile", roots, badFile); err == nil {
		t.Error("openssl verify accepted a leaf with an altered signature")
	}

	for i, k := range kinds {
		csr, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{
			Subject:         leafTemplate().Subject,
			KeyUsage:        x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			ExtKeyUsage:     []asn1.ObjectIdentifier{OIDExtKeyUsageClientAuth},
			SubjectSignTool: "СКЗИ «gostkey»",
		}, keys[i])
		if err != nil {
			t.Fatal(err)
		}
		f := pemFile(t, dir, "req-"+k.name+".pem", "CERTIFICATE REQUEST", csr)
		if out := opensslReqVerify(t, f); !strings.Contains(out, "verify OK") {
			t.Errorf("%s: openssl req -verify: %s", k.name, out)
		}
		if i == 0 {
			bad := append([]byte(nil), csr...)
			bad[len(bad)-2] ^= 1
			if out := opensslReqVerify(t, pemFile(t, dir, "bad-req.pem", "CERTIFICATE REQUEST", bad)); !strings.Contains(out, "verify failure") {
				t.Errorf("openssl req -verify on an altered request: %s", out)
			}
		}
	}
}

// opensslReqVerify runs `openssl req -verify` and returns what it says:
// OpenSSL 3.0 exits 0 even when the signature fails, and reports on
// standard error, which testkit does not return on success.
func opensslReqVerify(t *testing.T, file string) string {
	t.Helper()
	out, err := revOpenSSLCombined(t, "req", "-verify", "-noout", "-in", file)
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return out
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const opensslLeafExtensions = `basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment
extendedKeyUsage = clientAuth,emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 1.2.643.100.113.1,1.2.643.100.113.2
crlDistributionPoints = URI:http://127.0.0.1/crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1/ocsp,caIssuers;URI:http://127.0.0.1/root.crt
subjectSignTool = СКЗИ gostkey
issuerSignTool = signTool:СКЗИ gostkey,cATool:ПАК gostkey-ca,signToolCert:СФ/124-1,cAToolCert:СФ/128-2
subjectAltName = email:ivanov@example.ru
`

// TestWeVerifyOpenSSLObjects: for every curve, OpenSSL makes a self-signed
// root, a request with the qualified attributes, and a leaf from that
// request with the qualified extensions; we parse them into typed fields
// and verify them.
func TestWeVerifyOpenSSLObjects(t *testing.T) {
	testkit.RequireOpenSSL(t)
	dir := t.TempDir()
	extFile := filepath.Join(dir, "leaf.ext")
	if err := os.WriteFile(extFile, []byte(opensslLeafExtensions), 0o600); err != nil {
		t.Fatal(err)
	}
	const subject = "/C=RU/ST=77 г. Москва/L=Москва/CN=Иванов Иван Иванович/SN=Иванов/GN=Иван Иванович/SNILS=11223344595/INN=500100732259/OGRN=1027700132195"
	for _, k := range opensslKinds(t) {
		t.Run(k.name, func(t *testing.T) {
			p := func(s string) string { return filepath.Join(dir, k.name+"-"+s) }
			testkit.OpenSSL(t, nil, "req", "-new", "-x509", "-utf8", "-newkey", k.algorithm, "-pkeyopt", k.paramset, "-nodes",
				"-keyout", p("root.key"), "-out", p("root.pem"), "-days", "2", "-subj", "/C=RU/O=Тестовый УЦ/CN=OpenSSL "+k.name,
				"-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
				"-addext", "subjectKeyIdentifier=hash")
			testkit.OpenSSL(t, nil, "req", "-new", "-utf8", "-newkey", k.algorithm, "-pkeyopt", k.paramset, "-nodes",
				"-keyout", p("leaf.key"), "-out", p("req.pem"), "-subj", subject,
				"-addext", "keyUsage=critical,digitalSignature,nonRepudiation", "-addext", "subjectSignTool=СКЗИ gostkey")
			testkit.OpenSSL(t, nil, "x509", "-req", "-in", p("req.pem"), "-CA", p("root.pem"), "-CAkey", p("root.key"),
				"-set_serial", "0x1234567890abcdef", "-days", "1", "-extfile", extFile, "-out", p("leaf.pem"))

			roots, err := ParseCertificates(mustRead(t, p("root.pem")))
			if err != nil {
				t.Fatal(err)
			}
			root := roots[0]
			if err := root.CheckSignatureFrom(root); err != nil {
				t.Fatalf("root self-signature: %v", err)
			}
			if !root.IsCA || root.MaxPathLen != 0 || !root.MaxPathLenZero || root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("root constraints: CA %v pathLen %d/%v usage %v", root.IsCA, root.MaxPathLen, root.MaxPathLenZero, root.KeyUsage)
			}
			leaves, err := ParseCertificates(mustRead(t, p("leaf.pem")))
			if err != nil {
				t.Fatal(err)
			}
			leaf := leaves[0]
			chain, err := leaf.Verify(VerifyOptions{Roots: roots, KeyUsage: x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []asn1.ObjectIdentifier{OIDExtKeyUsageEmailProtection}})
			if err != nil || len(chain) != 2 {
				t.Fatalf("Verify: %v", err)
			}
			wantSig := ECDSAWithSHA256
			if k.curve != nil {
				wantSig, _ = DefaultSignatureAlgorithm(&gost.PublicKey{Curve: k.curve})
				if pk, ok := leaf.PublicKey.(*gost.PublicKey); !ok || pk.Curve != k.curve {
					t.Errorf("leaf key %T on another curve", leaf.PublicKey)
				}
			}
			if leaf.SignatureAlgorithm != wantSig {
				t.Errorf("signature algorithm %v, want %v", leaf.SignatureAlgorithm, wantSig)
			}
			s := leaf.Subject
			if s.SNILS != "11223344595" || s.INN != "500100732259" || s.OGRN != "1027700132195" || s.Surname != "Иванов" ||
				s.GivenName != "Иван Иванович" || s.CommonName != "Иванов Иван Иванович" || s.Province != "77 г. Москва" {
				t.Errorf("subject %+v", s)
			}
			if err := s.ValidateQualified(); err != nil {
				t.Error(err)
			}
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"serial", leaf.SerialNumber.Text(16), "1234567890abcdef"},
				{"KeyUsage", leaf.KeyUsage, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment},
				{"ExtKeyUsage", leaf.ExtKeyUsage, []asn1.ObjectIdentifier{OIDExtKeyUsageClientAuth, OIDExtKeyUsageEmailProtection}},
				{"PolicyIdentifiers", leaf.PolicyIdentifiers, []asn1.ObjectIdentifier{OIDPolicyKC1, OIDPolicyKC2}},
				{"CRLDistributionPoints", leaf.CRLDistributionPoints, []string{"http://127.0.0.1/crl"}},
				{"OCSPServer", leaf.OCSPServer, []string{"http://127.0.0.1/ocsp"}},
				{"IssuingCertificateURL", leaf.IssuingCertificateURL, []string{"http://127.0.0.1/root.crt"}},
				{"SubjectSignTool", leaf.SubjectSignTool, "СКЗИ gostkey"},
				{"IssuerSignTool", leaf.IssuerSignTool, &IssuerSignTool{"СКЗИ gostkey", "ПАК gostkey-ca", "СФ/124-1", "СФ/128-2"}},
				{"EmailAddresses", leaf.EmailAddresses, []string{"ivanov@example.ru"}},
				{"AuthorityKeyId", fmt.Sprintf("%x", leaf.AuthorityKeyId), fmt.Sprintf("%x", root.SubjectKeyId)},
				{"SubjectKeyId is KeyID", fmt.Sprintf("%x", leaf.SubjectKeyId), fmt.Sprintf("%x", mustKeyID(t, leaf.PublicKey))},
				{"unhandled critical", len(leaf.UnhandledCriticalExtensions), 0},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}

			req, err := ParseCertificateRequest(mustRead(t, p("req.pem")))
			if err != nil {
				t.Fatal(err)
			}
			if err := req.CheckSignature(); err != nil {
				t.Fatalf("request signature: %v", err)
			}
			if req.Subject.SNILS != "11223344595" || req.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment || req.SubjectSignTool != "СКЗИ gostkey" {
				t.Errorf("request: subject %+v, usage %v, tool %q", req.Subject, req.KeyUsage, req.SubjectSignTool)
			}
			if !publicKeysEqual(req.PublicKey, leaf.PublicKey) {
				t.Error("request and leaf keys differ")
			}
		})
	}
}

func mustKeyID(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	id, err := KeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
