package cms

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gostkey/gostkey/pki"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func testdataCerts(t testing.TB, names ...string) []*pki.Certificate {
	t.Helper()
	var out []*pki.Certificate
	for _, name := range names {
		rest := readTestdata(t, name)
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			c, err := pki.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, c)
		}
	}
	return out
}

// The TC26 message both reference files sign (CP1251 "Контрольный пример
// для структуры SignedData.").
const tc26Message = "caeeedf2f0eeebfcedfbe920eff0e8ece5f020e4ebff20f1f2f0f3eaf2f3f0fb205369676e6564446174612e"

// TestReferenceTC26: the TC26 reference CMS (gost-engine tcl_tests/tc26_cms)
// parse to the expected structure and verify: a111 is GOST-512 with signed
// attributes, a121 GOST-256 without. The TC26 root is a v3 certificate
// without basicConstraints, which OpenSSL refuses as a CA ("invalid CA
// certificate") and so do we; the signer certificates themselves serve as
// trust anchors.
func TestReferenceTC26(t *testing.T) {
	tc26Root := testdataCerts(t, "tc26_root256_cert.pem")
	for _, tc := range []struct {
		file      string
		alg       pki.SignatureAlgorithm
		attrs     bool
		signerPEM string
	}{
		{"signed_a111.pem", pki.GOST512, true, "tc26_sender512_cert.pem"},
		{"signed_a121.pem", pki.GOST256, false, "tc26_sender256_cert.pem"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readTestdata(t, tc.file)
			sd, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(sd.Content) != tc26Message || sd.Detached || len(sd.Signers) != 1 || len(sd.Certificates) != 1 {
				t.Fatalf("structure: content %x, %d signers, %d certificates", sd.Content, len(sd.Signers), len(sd.Certificates))
			}
			if (sd.Signers[0].RawSignedAttrs != nil) != tc.attrs {
				t.Errorf("signed attributes present = %v", !tc.attrs)
			}
			signer := testdataCerts(t, tc.signerPEM)[0]
			roots := []*pki.Certificate{signer}
			res, err := Verify(data, nil, &VerifyOptions{Roots: roots})
			if err != nil {
				t.Fatal(err)
			}
			s := res.Signers[0]
			if s.Algorithm != tc.alg || !bytes.Equal(s.Certificate.Raw, signer.Raw) || len(s.Chain) != 1 || s.CAdES {
				t.Errorf("alg %v, chain %d, CAdES %v", s.Algorithm, len(s.Chain), s.CAdES)
			}
			// Tampering the content breaks it with the right reason.
			der, _ := unPEM(data)
			bad := flipAt(der, bytes.Index(der, sd.Content)+3)
			want := DigestMismatch
			if !tc.attrs {
				want = BadSignature
			}
			if _, err := Verify(bad, nil, &VerifyOptions{Roots: roots}); reasonOf(err) != want {
				t.Errorf("tampered: %v, want %v", err, want)
			}
			if _, err := Verify(data, nil, &VerifyOptions{Roots: tc26Root}); reasonOf(err) != ChainInvalid {
				t.Errorf("TC26 root without basicConstraints: %v", err)
			}
			// CAdES-BES requires the ESS attribute these files lack.
			if _, err := Verify(data, nil, &VerifyOptions{Roots: roots, RequireCAdES: true}); reasonOf(err) != MissingAttribute {
				t.Errorf("RequireCAdES: %v", err)
			}
		})
	}
}

// TestCommittedOpenSSLObjects: the OpenSSL-made objects under testdata (also
// the fuzz seeds) verify, including streamed BER and a co-signed file.
func TestCommittedOpenSSLObjects(t *testing.T) {
	roots := testdataCerts(t, "openssl_seed_certs.pem")
	content := readTestdata(t, "content.txt")
	for _, tc := range []struct {
		file     string
		detached bool
		signers  int
		cades    bool
	}{
		{"openssl_gost256_attached.der", false, 1, true},
		{"openssl_gost512_detached.pem", true, 1, true},
		{"openssl_gost256_noattr_detached.der", true, 1, false},
		{"openssl_gost512_stream_ber.der", false, 1, true},
		{"openssl_ecdsa_attached.der", false, 1, true},
		{"openssl_cosigned.der", false, 2, true},
	} {
		data := readTestdata(t, tc.file)
		var r *bytes.Reader
		if tc.detached {
			r = bytes.NewReader(content)
		}
		res, err := verifyReader(data, r, &VerifyOptions{Roots: roots, RequireCAdES: tc.cades})
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if len(res.Signers) != tc.signers || (!tc.detached && !bytes.Equal(res.Content, content)) {
			t.Errorf("%s: %d signers, content %q", tc.file, len(res.Signers), res.Content)
		}
	}
}

func TestParsePEMAndErrors(t *testing.T) {
	der, _ := unPEM(readTestdata(t, "signed_a121.pem"))
	for _, typ := range []string{"CMS", "PKCS7", "PKCS #7 SIGNED DATA"} {
		if _, err := Parse(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})); err != nil {
			t.Errorf("PEM %q: %v", typ, err)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
		{"broken PEM", []byte("-----BEGIN CMS-----\n!!!\n")},
		{"truncated", der[:len(der)-1]},
		{"trailing data", append(bytes.Clone(der), 0)},
		{"not signedData", []byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x00}},
	} {
		if _, err := Parse(tc.data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tc.name, err)
		}
	}
}

// TestBERToDER: indefinite lengths, long-form lengths and constructed
// OCTET STRINGs normalize to DER; DER passes through unchanged.
func TestBERToDER(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"DER unchanged", "300602010104010a", "300602010104010a"},
		{"indefinite SEQUENCE", "3080020101040161" + "0000", "3006020101040161"},
		{"long-form length", "30810302010a", "300302010a"},
		{"constructed OCTET STRING", "24800402616204016300" + "00", "0403616263"},
		{"nested indefinite", "3080a0802480040161000000000000", "3005a003040161"},
	} {
		in, _ := hex.DecodeString(tc.in)
		got, err := berToDER(in)
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("%s: %x, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"30", "3080", "308002010a", "3085ffffffffff", "0480"} {
		in, _ := hex.DecodeString(bad)
		if _, err := berToDER(in); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func fuzzSeeds(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".der" || (filepath.Ext(e.Name()) == ".pem" && !bytes.Contains([]byte(e.Name()), []byte("cert"))) {
			f.Add(readTestdata(f, e.Name()))
		}
	}
}

// FuzzParse: the SignedData parser never panics, and what it accepts
// re-parses from its own raw SignerInfos unchanged.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := Parse(data)
		if err != nil {
			return
		}
		for _, si := range sd.Signers {
			again, err := parseSignerInfo(si.Raw)
			if err != nil || !bytes.Equal(again.Signature, si.Signature) {
				t.Fatalf("SignerInfo does not re-parse: %v", err)
			}
		}
	})
}

// FuzzVerify: verification of arbitrary input, with the committed content
// as detached content where needed, never panics and never reports a
// signer valid without a certificate.
func FuzzVerify(f *testing.F) {
	fuzzSeeds(f)
	content := readTestdata(f, "content.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := Parse(data)
		if err != nil {
			return
		}
		var r *bytes.Reader
		if sd.Detached {
			r = bytes.NewReader(content)
		}
		res, _ := verifyReader(data, r, &VerifyOptions{SkipChainVerification: true})
		if res == nil {
			return
		}
		for _, s := range res.Signers {
			if s.Err == nil && s.Certificate == nil {
				t.Fatal("valid signer without certificate")
			}
		}
	})
}
