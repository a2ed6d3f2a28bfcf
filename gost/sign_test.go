package gost_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// le returns the Size-byte little-endian form of a big-endian hex integer.
func le(t testing.TB, hexBE string, size int) []byte {
	t.Helper()
	v, ok := new(big.Int).SetString(hexBE, 16)
	if !ok {
		t.Fatalf("bad hex %q", hexBE)
	}
	b := v.FillBytes(make([]byte, size))
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 7091 §7 (GOST R 34.10-2012 Appendix A), fact sheet §6.2. The standard
// gives e directly; a digest whose little-endian value is e reproduces it.
var rfc7091 = []struct {
	name                  string
	curve                 *gost.Curve
	d, qx, qy, e, k, r, s string
}{
	{
		name:  "256",
		curve: gost.CurveTest256,
		d:     "7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28",
		qx:    "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
		qy:    "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
		e:     "2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5",
		k:     "77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3",
		r:     "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493",
		s:     "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40",
	},
	{
		name:  "512",
		curve: gost.CurveTest512,
		d: "0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B1020" +
			"72E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4",
		qx: "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD" +
			"5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
		qy: "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61" +
			"EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC",
		e: "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C591" +
			"7184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C",
		k: "0359E7F4B1410FEACC570456C6801496946312120B39D019D455986E364F3658" +
			"86748ED7A44B3E794434006011842286212273A6D14CF70EA3AF71BB1AE679F1",
		r: "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD3" +
			"5492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36",
		s: "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5" +
			"823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A",
	},
}

func TestRFC7091Examples(t *testing.T) {
	for _, tc := range rfc7091 {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.curve
			n := c.Size()
			priv, err := gost.NewPrivateKey(c, le(t, tc.d, n))
			if err != nil {
				t.Fatal(err)
			}
			wantPub := append(le(t, tc.qx, n), le(t, tc.qy, n)...)
			if got := priv.PublicKey.Bytes(); !bytes.Equal(got, wantPub) {
				t.Fatalf("public key\n got %x\nwant %x", got, wantPub)
			}
			digest := le(t, tc.e, n)
			sig, ok := gost.SignDigestWithK(priv, digest, le(t, tc.k, n))
			if !ok {
				t.Fatal("signing with the example's k failed")
			}
			want := unhex(t, tc.s+tc.r)
			if !bytes.Equal(sig, want) {
				t.Fatalf("signature\n got %x\nwant %x", sig, want)
			}
			if !priv.PublicKey.Verify(digest, want) {
				t.Fatal("the example signature does not verify")
			}
			pub, err := gost.NewPublicKey(c, wantPub)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Verify(digest, want) || !pub.Equal(&priv.PublicKey) {
				t.Fatal("decoded public key disagrees")
			}
		})
	}
}

// TestRFC9215Example1Digest checks the digest-to-e rule on a real digest:
// RFC 9215 example 1 is signed with the RFC 7091 key and k.
func TestRFC9215Example1Digest(t *testing.T) {
	tc := rfc7091[0]
	priv, err := gost.NewPrivateKey(tc.curve, le(t, tc.d, 32))
	if err != nil {
		t.Fatal(err)
	}
	digest := unhex(t, "afecc67f740bfc461f87bfa2f5e4185e68dde304efe6a98b777cdc031ffd8743")
	sig := unhex(t, "4d53f012fe081776507d4d9bb81f00efdb4eefd4ab83bac4bacf735173cfa81c"+
		"41aa28d2f1ab148280cd9ed56feda41974053554a42767b83ad043fd39dc0493")
	if !priv.PublicKey.Verify(digest, sig) {
		t.Fatal("RFC 9215 example 1 signature does not verify")
	}
	got, ok := gost.SignDigestWithK(priv, digest, le(t, tc.k, 32))
	if !ok || !bytes.Equal(got, sig) {
		t.Fatalf("signature\n got %x\nwant %x", got, sig)
	}
}

func TestSignVerifyAllCurves(t *testing.T) {
	for _, c := range gost.Curves() {
		t.Run(c.Name, func(t *testing.T) {
			priv, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			again, err := gost.NewPrivateKey(c, priv.Bytes())
			if err != nil || !again.Equal(priv) {
				t.Fatalf("private key does not round-trip: %v", err)
			}
			pub, err := gost.NewPublicKey(c, priv.PublicKey.Bytes())
			if err != nil || !pub.Equal(priv.Public()) {
				t.Fatalf("public key does not round-trip: %v", err)
			}
			digest := make([]byte, c.Hash.Size())
			rand.Read(digest)
			for _, opts := range []crypto.SignerOpts{nil, &gost.SignerOpts{Hash: c.Hash}} {
				sig, err := priv.Sign(nil, digest, opts)
				if err != nil {
					t.Fatal(err)
				}
				if len(sig) != 2*c.Size() {
					t.Fatalf("signature is %d bytes", len(sig))
				}
				if !pub.Verify(digest, sig) {
					t.Fatal("signature does not verify")
				}
				for _, i := range []int{0, c.Size() - 1, c.Size(), 2*c.Size() - 1} {
					bad := bytes.Clone(sig)
					bad[i] ^= 1
					if pub.Verify(digest, bad) {
						t.Fatalf("signature with byte %d flipped verifies", i)
					}
				}
				bad := bytes.Clone(digest)
				bad[0] ^= 1
				if pub.Verify(bad, sig) {
					t.Fatal("signature verifies for another digest")
				}
			}
		})
	}
}

func TestDigestReducedModQ(t *testing.T) {
	// e = LE(digest) mod q: digests congruent mod q share signatures, and a
	// digest ≡ 0 signs as e = 1.
	for _, c := range []*gost.Curve{gost.CurveTC26256A, gost.CurveTC26512C, gost.CurveTC26512A} {
		priv, err := gost.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		n := c.Size()
		small := []byte{5}
		big5 := new(big.Int).Add(c.Q, big.NewInt(5))
		if big5.BitLen() > 8*n {
			continue
		}
		k := le(t, "1234567", n)
		s1, _ := gost.SignDigestWithK(priv, append(small, make([]byte, n-1)...), k)
		s2, _ := gost.SignDigestWithK(priv, le(t, big5.Text(16), n), k)
		if !bytes.Equal(s1, s2) {
			t.Errorf("%s: digests equal mod q sign differently", c.Name)
		}
		one := append([]byte{1}, make([]byte, n-1)...)
		s3, _ := gost.SignDigestWithK(priv, make([]byte, n), k)
		s4, _ := gost.SignDigestWithK(priv, one, k)
		if !bytes.Equal(s3, s4) || !priv.PublicKey.Verify(make([]byte, n), s3) {
			t.Errorf("%s: zero digest is not signed as e = 1", c.Name)
		}
	}
}

func TestSignRejects(t *testing.T) {
	priv, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d32 := make([]byte, 32)
	for name, f := range map[string]func() error{
		"short digest": func() error { _, err := priv.Sign(rand.Reader, d32[:31], nil); return err },
		"512 opts": func() error {
			_, err := priv.Sign(rand.Reader, d32, &gost.SignerOpts{Hash: gost.Streebog512})
			return err
		},
		"crypto.Hash":  func() error { _, err := priv.Sign(rand.Reader, d32, crypto.SHA256); return err },
		"nil opts ptr": func() error { _, err := priv.Sign(rand.Reader, d32, (*gost.SignerOpts)(nil)); return err },
		"no entropy":   func() error { _, err := priv.Sign(bytes.NewReader(nil), d32, nil); return err },
		"zero key":     func() error { _, err := new(gost.PrivateKey).Sign(rand.Reader, d32, nil); return err },
	} {
		if f() == nil {
			t.Errorf("%s: Sign succeeded", name)
		}
	}
}

func TestVerifyRejectsOutOfRange(t *testing.T) {
	c := gost.CurveTest256
	tc := rfc7091[0]
	pub, err := gost.NewPublicKey(c, append(le(t, tc.qx, 32), le(t, tc.qy, 32)...))
	if err != nil {
		t.Fatal(err)
	}
	digest := le(t, tc.e, 32)
	q := c.Q.FillBytes(make([]byte, 32))
	s, r := unhex(t, tc.s), unhex(t, tc.r)
	// r + q and s + q do not fit, but r and s replaced by 0 or q must fail.
	for name, sig := range map[string][]byte{
		"s = 0":  append(make([]byte, 32), r...),
		"r = 0":  append(bytes.Clone(s), make([]byte, 32)...),
		"s = q":  append(bytes.Clone(q), r...),
		"r = q":  append(bytes.Clone(s), q...),
		"r ‖ s":  append(bytes.Clone(r), s...),
		"short":  append(bytes.Clone(s), r[:31]...),
		"long":   append(append(bytes.Clone(s), r...), 0),
		"empty":  nil,
		"s only": s,
	} {
		if pub.Verify(digest, sig) {
			t.Errorf("%s: verifies", name)
		}
	}
	if pub.Verify(digest[:31], unhex(t, tc.s+tc.r)) {
		t.Error("short digest verifies")
	}
}

func TestNewKeyRejects(t *testing.T) {
	c := gost.CurveTC26256A
	q := le(t, c.Q.Text(16), 32)
	qMinus1 := le(t, new(big.Int).Sub(c.Q, big.NewInt(1)).Text(16), 32)
	if _, err := gost.NewPrivateKey(c, qMinus1); err != nil {
		t.Errorf("d = q-1 rejected: %v", err)
	}
	for name, d := range map[string][]byte{
		"zero": make([]byte, 32), "q": q, "all ones": bytes.Repeat([]byte{0xff}, 32),
		"short": qMinus1[:31], "long": append(bytes.Clone(qMinus1), 0),
	} {
		if _, err := gost.NewPrivateKey(c, d); err == nil {
			t.Errorf("NewPrivateKey(%s) succeeded", name)
		}
	}
	g := append(le(t, c.X.Text(16), 32), le(t, c.Y.Text(16), 32)...)
	if _, err := gost.NewPublicKey(c, g); err != nil {
		t.Errorf("base point rejected: %v", err)
	}
	offCurve := bytes.Clone(g)
	offCurve[0] ^= 1
	// An unreduced coordinate (x + p, which fits in 32 bytes on CryptoPro-B)
	// names a point on the curve but is not its encoding.
	b := gost.CurveCryptoProB
	pPlusX := append(le(t, new(big.Int).Add(b.P, b.X).Text(16), 32), le(t, b.Y.Text(16), 32)...)
	for name, raw := range map[string][]byte{
		"off curve": offCurve, "zero": make([]byte, 64), "short": g[:63], "long": append(bytes.Clone(g), 0),
		"nil": nil,
	} {
		if _, err := gost.NewPublicKey(c, raw); err == nil {
			t.Errorf("NewPublicKey(%s) succeeded", name)
		}
	}
	if _, err := gost.NewPublicKey(b, pPlusX); err == nil {
		t.Error("unreduced x accepted")
	}
	if _, err := gost.NewPublicKey(gost.CurveTC26512A, g); err == nil {
		t.Error("256-bit point accepted on a 512-bit curve")
	}
}

var benchCurves = []*gost.Curve{gost.CurveTC26256A, gost.CurveTC26512A}

func BenchmarkSign(b *testing.B) {
	for _, c := range benchCurves {
		b.Run(c.Name, func(b *testing.B) {
			priv, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			digest := make([]byte, c.Hash.Size())
			rand.Read(digest)
			for b.Loop() {
				if _, err := priv.Sign(rand.Reader, digest, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, c := range benchCurves {
		b.Run(c.Name, func(b *testing.B) {
			priv, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			digest := make([]byte, c.Hash.Size())
			rand.Read(digest)
			sig, err := priv.Sign(rand.Reader, digest, nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if !priv.PublicKey.Verify(digest, sig) {
					b.Fatal("does not verify")
				}
			}
		})
	}
}

// TestSignDifferential recomputes r = x(k·G) mod q and s = r·d + k·e mod q
// with the math/big reference for random keys, nonces and digests on every
// curve, including k = q-2 and digests at or above q.
func TestSignDifferential(t *testing.T) {
	for _, c := range gost.Curves() {
		n := c.Size()
		qMinus1 := new(big.Int).Sub(c.Q, big.NewInt(1))
		for i := range 3 {
			priv, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := rand.Int(rand.Reader, qMinus1)
			k.Add(k, big.NewInt(1))
			digest := make([]byte, n)
			rand.Read(digest)
			switch i {
			case 1:
				// Not q-1: CryptoPro-C's base point has x = 0, so (q-1)·G
				// gives r = 0 there.
				k.Sub(qMinus1, big.NewInt(1))
				for j := range digest {
					digest[j] = 0xff
				}
			case 2:
				digest = le(t, c.Q.Text(16), n)
				if c.Q.BitLen() > 8*n {
					digest = make([]byte, n)
				}
			}
			sig, ok := gost.SignDigestWithK(priv, digest, le(t, k.Text(16), n))
			if !ok {
				t.Fatalf("%s: case %d: r or s is zero (k = %x, digest %x)", c.Name, i, k, digest)
			}
			d := new(big.Int).SetBytes(reverse(priv.Bytes()))
			e := new(big.Int).SetBytes(reverse(digest))
			e.Mod(e, c.Q)
			if e.Sign() == 0 {
				e.SetInt64(1)
			}
			r := new(big.Int).Mod(gost.RefMul(c, k, gost.NewRefPoint(c.X, c.Y)).X(), c.Q)
			s := new(big.Int).Mul(r, d)
			s.Add(s, new(big.Int).Mul(k, e)).Mod(s, c.Q)
			want := append(s.FillBytes(make([]byte, n)), r.FillBytes(make([]byte, n))...)
			if !bytes.Equal(sig, want) {
				t.Fatalf("%s: k = %x\n got %x\nwant %x", c.Name, k, sig, want)
			}
		}
	}
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[len(b)-1-i] = v
	}
	return out
}

// TestSignRetriesOnZeroR: on CryptoPro-C the base point has x = 0, so the
// nonce k = q-1 gives r = 0; signing must refuse it. (Sign's nonces are
// derived, not read, so that it then takes another one is checked by
// TestHedgedNonceAttempts.)
func TestSignRetriesOnZeroR(t *testing.T) {
	c := gost.CurveCryptoProC
	priv, err := gost.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	kBad := le(t, new(big.Int).Sub(c.Q, big.NewInt(1)).Text(16), 32)
	if _, ok := gost.SignDigestWithK(priv, digest, kBad); ok {
		t.Fatal("signed with r = 0")
	}
}
