package pki

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// order2X is the x coordinate of the point (x, 0) of order 2 on each
// cofactor-4 curve: the root of x³ + a·x + b mod p, as the gost package's
// tests find it ([q]R for a point R of the curve). The test checks that it
// is one.
var order2X = map[*gost.Curve]string{
	gost.CurveTC26256A: "100FE73F595FF158E974B44D478D9588744FE5C192AC47EA63075DCE7A14AAA",
	gost.CurveTC26512C: "9A628F975594ECEFD89BA28A2539FFB79C8AB238AEED0851FA5C1ABB02B80B44" +
		"C6734501B83A011DD625CD0B5145091A6D9ACD4B1F5C5B1E21B2B249DDFD1271",
}

// order2Point returns X_le ‖ Y_le of the point of order 2 of c.
func order2Point(t *testing.T, c *gost.Curve) []byte {
	t.Helper()
	x, _ := new(big.Int).SetString(order2X[c], 16)
	rhs := new(big.Int).Mul(x, x)
	rhs.Add(rhs, c.A).Mul(rhs, x).Add(rhs, c.B).Mod(rhs, c.P)
	if rhs.Sign() != 0 {
		t.Fatalf("%s: (x, 0) is not on the curve", c.Name)
	}
	raw := make([]byte, 2*c.Size())
	x.FillBytes(raw[:c.Size()])
	for i, j := 0, c.Size()-1; i < j; i, j = i+1, j-1 {
		raw[i], raw[j] = raw[j], raw[i]
	}
	return raw
}

// signed is the outer structure of a certificate or a request.
type signed struct {
	TBS       asn1.RawValue
	Algorithm asn1.RawValue
	Signature asn1.BitString
}

// swapKey replaces the public key point inside the DER of a signed
// object (same length, so no length changes) and returns the new DER and
// its TBS part.
func swapKey(t *testing.T, der, oldPoint, newPoint []byte) (out, tbs []byte) {
	t.Helper()
	if bytes.Count(der, oldPoint) != 1 {
		t.Fatal("the key point is not in the DER exactly once")
	}
	out = bytes.Replace(der, oldPoint, newPoint, 1)
	var s signed
	if _, err := asn1.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	return out, s.TBS.FullBytes
}

// forgeForOrder2 makes a signature over tbs that verifies, under the
// pre-subgroup-check equations, against the key of order 2: with k·G as
// the point, r = x(k·G) mod q and s = k·e mod q, so that z1·G + z2·T =
// k·G whenever z2 = -r/e mod q is even (tries until it is).
func forgeForOrder2(t *testing.T, c *gost.Curve, tbs []byte) []byte {
	t.Helper()
	h := c.Hash.New()
	h.Write(tbs)
	digest := h.Sum(nil)
	e := new(big.Int).SetBytes(reversed(digest))
	e.Mod(e, c.Q)
	if e.Sign() == 0 {
		e.SetInt64(1)
	}
	for range 64 {
		k, err := gost.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		kk := new(big.Int).SetBytes(reversed(k.Bytes()))
		r := new(big.Int).Mod(k.X, c.Q)
		s := new(big.Int).Mul(kk, e)
		s.Mod(s, c.Q)
		z2 := new(big.Int).ModInverse(e, c.Q)
		z2.Mul(z2, r).Neg(z2).Mod(z2, c.Q)
		if r.Sign() == 0 || s.Sign() == 0 || z2.Bit(0) != 0 {
			continue
		}
		sig := make([]byte, 2*c.Size())
		s.FillBytes(sig[:c.Size()])
		r.FillBytes(sig[c.Size():])
		return sig
	}
	t.Fatal("no even z2 in 64 tries")
	return nil
}

func reversed(b []byte) []byte {
	out := bytes.Clone(b)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TestRequestWithSmallOrderKeyRefused: a PKCS#10 request whose key is the
// point of order 2, with a signature forged without any private key, is
// refused when parsed (it used to parse and pass CheckSignature).
func TestRequestWithSmallOrderKeyRefused(t *testing.T) {
	for c := range order2X {
		t.Run(c.Name, func(t *testing.T) {
			key, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, err := CreateCertificateRequest(rand.Reader, &CertificateRequest{Subject: leafTemplate().Subject}, key)
			if err != nil {
				t.Fatal(err)
			}
			bad := order2Point(t, c)
			forged, tbs := swapKey(t, der, key.PublicKey.Bytes(), bad)
			sig := forgeForOrder2(t, c, tbs)
			copy(forged[len(forged)-len(sig):], sig)

			r, err := ParseCertificateRequest(forged)
			if !errors.Is(err, gost.ErrNotInSubgroup) {
				t.Fatalf("ParseCertificateRequest: error %v (request parsed: %t); want an error wrapping gost.ErrNotInSubgroup", err, r != nil)
			}
			var s signed
			if _, err := asn1.Unmarshal(forged, &s); err != nil {
				t.Fatal(err)
			}
			var info struct {
				Version int
				Subject asn1.RawValue
				SPKI    asn1.RawValue
				Rest    asn1.RawValue `asn1:"optional,tag:0"`
			}
			if _, err := asn1.Unmarshal(s.TBS.FullBytes, &info); err != nil {
				t.Fatal(err)
			}
			if _, err := ParsePublicKey(info.SPKI.FullBytes); !errors.Is(err, gost.ErrNotInSubgroup) {
				t.Fatalf("ParsePublicKey error %v, want gost.ErrNotInSubgroup", err)
			}
		})
	}
}

// TestCertificateWithSmallOrderKeyRefused: a certificate for the point of
// order 2, properly signed by a genuine CA, is refused when parsed, and
// the CA cannot be made to certify it.
func TestCertificateWithSmallOrderKeyRefused(t *testing.T) {
	for c := range order2X {
		t.Run(c.Name, func(t *testing.T) {
			ca, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := leafTemplate()
			caDER, err := CreateCertificate(rand.Reader, caTemplate("CA"), nil, ca.Public(), ca)
			if err != nil {
				t.Fatal(err)
			}
			caCert, err := ParseCertificate(caDER)
			if err != nil {
				t.Fatal(err)
			}
			der, err := CreateCertificate(rand.Reader, tmpl, caCert, leaf.Public(), ca)
			if err != nil {
				t.Fatal(err)
			}
			bad := order2Point(t, c)
			forged, tbs := swapKey(t, der, leaf.PublicKey.Bytes(), bad)
			sig, err := Sign(rand.Reader, ca, defaultAlg(t, c), tbs)
			if err != nil {
				t.Fatal(err)
			}
			copy(forged[len(forged)-len(sig):], sig)
			if cert, err := ParseCertificate(forged); !errors.Is(err, gost.ErrNotInSubgroup) {
				t.Fatalf("ParseCertificate: error %v (certificate parsed: %t); want an error wrapping gost.ErrNotInSubgroup", err, cert != nil)
			}
			badKey := &gost.PublicKey{Curve: c, X: new(big.Int).SetBytes(reversed(bad[:c.Size()])), Y: new(big.Int)}
			if _, err := CreateCertificate(rand.Reader, tmpl, caCert, badKey, ca); !errors.Is(err, gost.ErrNotInSubgroup) {
				t.Fatalf("CreateCertificate for the order-2 key: %v, want gost.ErrNotInSubgroup", err)
			}
		})
	}
}

func defaultAlg(t *testing.T, c *gost.Curve) SignatureAlgorithm {
	t.Helper()
	alg, err := DefaultSignatureAlgorithm(&gost.PublicKey{Curve: c})
	if err != nil {
		t.Fatal(err)
	}
	return alg
}
