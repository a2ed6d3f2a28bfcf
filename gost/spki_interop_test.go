package gost

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

// opensslGenpkey gives, per parameter set OID, gost-engine's genpkey
// algorithm and the paramset name it takes. It makes keys on every set:
// the 2001 test set is its "0", and the 512-bit test set, which has no
// short name, goes by OID (256-bit sets are not accepted by OID).
var opensslGenpkey = map[string][2]string{
	"1.2.643.7.1.2.1.1.1": {"gost2012_256", "TCA"},
	"1.2.643.7.1.2.1.1.2": {"gost2012_256", "TCB"},
	"1.2.643.7.1.2.1.1.3": {"gost2012_256", "TCC"},
	"1.2.643.7.1.2.1.1.4": {"gost2012_256", "TCD"},
	"1.2.643.2.2.35.1":    {"gost2012_256", "A"},
	"1.2.643.2.2.35.2":    {"gost2012_256", "B"},
	"1.2.643.2.2.35.3":    {"gost2012_256", "C"},
	"1.2.643.2.2.36.0":    {"gost2012_256", "XA"},
	"1.2.643.2.2.36.1":    {"gost2012_256", "XB"},
	"1.2.643.2.2.35.0":    {"gost2012_256", "0"},
	"1.2.643.7.1.2.1.2.1": {"gost2012_512", "A"},
	"1.2.643.7.1.2.1.2.2": {"gost2012_512", "B"},
	"1.2.643.7.1.2.1.2.3": {"gost2012_512", "C"},
	"1.2.643.7.1.2.1.2.0": {"gost2012_512", "1.2.643.7.1.2.1.2.0"},
}

// TestOpenSSLInterop: on every curve, one key made by OpenSSL that we read
// and re-encode (checkOpenSSLKey), and one made by us that OpenSSL reads,
// both as PKCS#8 (it must derive our public key from our d) and as SPKI.
func TestOpenSSLInterop(t *testing.T) {
	testkit.RequireOpenSSL(t)
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			gen, ok := opensslGenpkey[c.OID.String()]
			if !ok {
				t.Fatalf("no openssl paramset for %v in this test", c.OID)
			}
			p8 := testkit.OpenSSL(t, nil, "genpkey", "-algorithm", gen[0], "-pkeyopt", "paramset:"+gen[1], "-outform", "DER")
			spki := testkit.OpenSSL(t, p8, "pkey", "-inform", "DER", "-pubout", "-outform", "DER")
			if priv := checkOpenSSLKey(t, p8, spki); priv.Curve != c {
				t.Fatalf("OpenSSL's key is on %s", priv.Curve.Name)
			}

			ours, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ourP8, err := MarshalPKCS8PrivateKey(ours)
			if err != nil {
				t.Fatal(err)
			}
			ourSPKI, err := MarshalPKIXPublicKey(&ours.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			// OpenSSL writes the key back in its own form, digestParamSet included where gost-engine puts it.
			want := wantSPKI(c, ours.PublicKey.Bytes(), digestParamSetRule[c.OID.String()].gostEngine)
			if got := testkit.OpenSSL(t, ourP8, "pkey", "-inform", "DER", "-pubout", "-outform", "DER"); !bytes.Equal(got, want) {
				t.Fatalf("OpenSSL derives a different public key from our PKCS#8:\n got %x\nwant %x", got, want)
			}
			if got := testkit.OpenSSL(t, ourSPKI, "pkey", "-pubin", "-inform", "DER", "-pubout", "-outform", "DER"); !bytes.Equal(got, want) {
				t.Fatalf("OpenSSL reads a different key from our SPKI:\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestOpenSSLReadsPKCS8Forms shows that OpenSSL gives each accepted
// privateKey form the meaning ParsePKCS8PrivateKey gives it.
func TestOpenSSLReadsPKCS8Forms(t *testing.T) {
	testkit.RequireOpenSSL(t)
	for _, c := range []*Curve{CurveTC26256A, CurveTC26512C} {
		priv, err := GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		d := priv.Bytes()
		want := wantSPKI(c, priv.PublicKey.Bytes(), digestParamSetRule[c.OID.String()].gostEngine)
		forms := map[string][]byte{
			"wrapped":         octetString(d),
			"INTEGER":         integerDER(d),
			"masked":          maskKey(t, c, d, 2),
			"MASKED_GOST_KEY": maskedGostKey(maskKey(t, c, d, 1)),
		}
		for name, key := range forms {
			t.Run(c.Name+"/"+name, func(t *testing.T) {
				der := p8Parts{alg: c.Hash.PublicKeyOID(), params: keyParams(c, false), key: key}.der()
				got, err := ParsePKCS8PrivateKey(der)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(priv) {
					t.Fatal("we read a different key")
				}
				if pub := testkit.OpenSSL(t, der, "pkey", "-inform", "DER", "-pubout", "-outform", "DER"); !bytes.Equal(pub, want) {
					t.Fatalf("OpenSSL reads a different key:\n got %x\nwant %x", pub, want)
				}
			})
		}
	}
}
