package gost

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// p8Parts builds PrivateKeyInfo variants without the code under test.
type p8Parts struct {
	version int64
	alg     asn1.ObjectIdentifier
	params  []byte // DER of the parameters; nil leaves them out
	key     []byte // privateKey OCTET STRING contents
	extra   []byte // DER appended after privateKey (attributes, junk)
}

func (p p8Parts) der() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(p.version)
		b.AddBytes(algorithmID(p.alg, p.params))
		b.AddASN1OctetString(p.key)
		b.AddBytes(p.extra)
	})
	return b.BytesOrPanic()
}

// wantPKCS8 is the exact PrivateKeyInfo gost-engine writes for d on c.
func wantPKCS8(c *Curve, d []byte, withDigest bool) []byte {
	return p8Parts{alg: c.Hash.PublicKeyOID(), params: keyParams(c, withDigest), key: d}.der()
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, v := range b {
		r[len(b)-1-i] = v
	}
	return r
}

// integerDER is d (little-endian) as a DER INTEGER, big-endian.
func integerDER(d []byte) []byte {
	be := bytes.TrimLeft(reversed(d), "\x00")
	if len(be) == 0 || be[0]&0x80 != 0 {
		be = append([]byte{0}, be...)
	}
	return append([]byte{0x02, byte(len(be))}, be...)
}

// maskedGostKey is gost-engine's MASKED_GOST_KEY holding masked, with a
// public key that gost-engine ignores.
func maskedGostKey(masked []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(masked)
		b.AddASN1OctetString(make([]byte, 2*len(masked)))
	})
	return b.BytesOrPanic()
}

func leBig(b []byte) *big.Int { return new(big.Int).SetBytes(reversed(b)) }

func bigLE(v *big.Int, size int) []byte { return reversed(v.FillBytes(make([]byte, size))) }

// maskKey writes d as CryptoPro does: d·(m1·…·mn)⁻¹ mod q ‖ m1 ‖ … ‖ mn.
func maskKey(t testing.TB, c *Curve, d []byte, masks int) []byte {
	t.Helper()
	prod := big.NewInt(1)
	var tail []byte
	for range masks {
		m := make([]byte, c.Size())
		if _, err := rand.Read(m); err != nil {
			t.Fatal(err)
		}
		tail = append(tail, m...)
		prod.Mul(prod, leBig(m)).Mod(prod, c.Q)
	}
	d0 := new(big.Int).Mul(leBig(d), new(big.Int).ModInverse(prod, c.Q))
	return append(bigLE(d0.Mod(d0, c.Q), c.Size()), tail...)
}

func TestUnmask(t *testing.T) {
	for _, c := range Curves() {
		size := c.Size()
		ff := bytes.Repeat([]byte{0xff}, size)
		qMinus1 := bigLE(new(big.Int).Sub(c.Q, big.NewInt(1)), size)
		random := make([]byte, 4*size)
		if _, err := rand.Read(random); err != nil {
			t.Fatal(err)
		}
		inputs := [][]byte{
			random[:2*size], random[:3*size], random,
			append(bytes.Clone(ff), ff...), append(bytes.Clone(qMinus1), qMinus1...),
			append(bigLE(c.Q, size), random[:size]...), append(bytes.Clone(random[:size]), ff...),
		}
		for i, in := range inputs {
			want := big.NewInt(1)
			for off := 0; off < len(in); off += size {
				want.Mul(want, leBig(in[off:off+size]))
			}
			want.Mod(want, c.Q)
			if got := unmask(c, in); !bytes.Equal(got, bigLE(want, size)) {
				t.Errorf("%s, input %d: unmask\n got %x\nwant %x", c.Name, i, got, bigLE(want, size))
			}
		}
	}
}

// TestOpenSSLFixtures reads the keys gost-engine wrote into testdata (one
// per parameter set it can generate, which is all of them) and checks the
// exact bytes both ways; TestOpenSSLInterop does the same with fresh keys.
func TestOpenSSLFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "encoding", "*.spki.der"))
	if err != nil || len(files) != len(Curves()) {
		t.Fatalf("%d SPKI fixtures for %d curves: %v", len(files), len(Curves()), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".spki.der")
		t.Run(name, func(t *testing.T) {
			spki := readTestdata(t, name+".spki.der")
			p8 := readTestdata(t, name+".p8.der")
			checkOpenSSLKey(t, p8, spki)
		})
	}
}

// checkOpenSSLKey parses a PKCS#8 key and its SPKI as gost-engine wrote
// them, and checks that we read the same key and write the same bytes,
// but for digestParamSet where gost-engine departs from RFC 9215.
func checkOpenSSLKey(t *testing.T, p8, spki []byte) *PrivateKey {
	t.Helper()
	priv, err := ParsePKCS8PrivateKey(p8)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	c := priv.Curve
	if pub.Curve != c {
		t.Fatalf("SPKI curve %s, PKCS#8 curve %s", pub.Curve.Name, c.Name)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("the public key computed from the PKCS#8 scalar differs from OpenSSL's SPKI")
	}
	rule := digestParamSetRule[c.OID.String()]
	if want := wantSPKI(c, pub.Bytes(), rule.gostEngine); !bytes.Equal(spki, want) {
		t.Fatalf("OpenSSL's SPKI is not what this test expects of gost-engine:\n got %x\nwant %x", spki, want)
	}
	if want := wantPKCS8(c, priv.Bytes(), rule.gostEngine); !bytes.Equal(p8, want) {
		t.Fatal("OpenSSL's PKCS#8 is not what this test expects of gost-engine") // no key bytes in test output either
	}
	gotSPKI, err := MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantSPKI(c, pub.Bytes(), rule.ours); !bytes.Equal(gotSPKI, want) {
		t.Fatalf("our SPKI\n got %x\nwant %x", gotSPKI, want)
	}
	gotP8, err := MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantPKCS8(c, priv.Bytes(), rule.ours); !bytes.Equal(gotP8, want) {
		t.Fatal("our PKCS#8 differs from the expected form")
	}
	if rule.ours == rule.gostEngine && (!bytes.Equal(gotSPKI, spki) || !bytes.Equal(gotP8, p8)) {
		t.Fatal("our encoding differs from gost-engine's where the rules agree")
	}
	return priv
}

func TestParsePKCS8Forms(t *testing.T) {
	legacy := readTestdata(t, "256-tc26-a-legacy-wrap.p8.der")
	want, err := ParsePKCS8PrivateKey(readTestdata(t, "512-tc26-c.p8.der"))
	if err != nil {
		t.Fatal(err)
	}
	c, d := want.Curve, want.Bytes()
	base := p8Parts{alg: OIDPublicKey512, params: oidSeq(c.OID), key: d}
	with := func(f func(p *p8Parts)) []byte { p := base; f(&p); return p.der() }
	dShort := bytes.Clone(d)
	dShort[len(d)-1] = 0 // a scalar whose INTEGER is shorter than the key
	wantShort, err := NewPrivateKey(c, dShort)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		der  []byte
		want *PrivateKey
	}{
		{"raw little-endian (gost-engine)", base.der(), want},
		{"wrapped OCTET STRING (LEGACY_PK_WRAP)", with(func(p *p8Parts) { p.key = octetString(d) }), want},
		{"INTEGER", with(func(p *p8Parts) { p.key = integerDER(d) }), want},
		{"short INTEGER", with(func(p *p8Parts) { p.key = integerDER(dShort) }), wantShort},
		{"digestParamSet present", with(func(p *p8Parts) { p.params = oidSeq(c.OID, OIDStreebog512) }), want},
		{"attributes", with(func(p *p8Parts) { p.extra = []byte{0xa0, 0x00} }), want},
		{"masked, one mask", with(func(p *p8Parts) { p.key = maskKey(t, c, d, 1) }), want},
		{"masked, three masks", with(func(p *p8Parts) { p.key = maskKey(t, c, d, 3) }), want},
		{"MASKED_GOST_KEY", with(func(p *p8Parts) { p.key = maskedGostKey(maskKey(t, c, d, 2)) }), want},
		{"MASKED_GOST_KEY, no mask", with(func(p *p8Parts) { p.key = maskedGostKey(d) }), want},
		{"LEGACY_PK_WRAP written by gost-engine", legacy, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePKCS8PrivateKey(tt.der)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !got.Equal(tt.want) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

func TestParsePKCS8Rejects(t *testing.T) {
	priv, err := ParsePKCS8PrivateKey(readTestdata(t, "256-tc26-a.p8.der"))
	if err != nil {
		t.Fatal(err)
	}
	c, d := priv.Curve, priv.Bytes()
	q := reversed(c.Q.FillBytes(make([]byte, c.Size())))
	base := p8Parts{alg: OIDPublicKey256, params: oidSeq(c.OID), key: d}
	with := func(f func(p *p8Parts)) []byte { p := base; f(&p); return p.der() }
	ff := bytes.Repeat([]byte{0xff}, 32)
	negative := append([]byte{0x02, 0x20}, reversed(d)...)
	negative[2] |= 0x80
	nonMinimal := append([]byte{0x02, 0x21, 0x00}, reversed(d)...)
	nonMinimal[3] &= 0x7f
	var nb cryptobyte.Builder
	nb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddBytes(algorithmID(OIDPublicKey256, oidSeq(c.OID)))
		b.AddBytes(integerDER(d))
	})
	notOctets := nb.BytesOrPanic()

	tests := []struct {
		name    string
		der     []byte
		wantErr error
		wantMsg string
	}{
		{"empty input", nil, ErrMalformedKey, "not a DER SEQUENCE"},
		{"trailing data", append(base.der(), 0), ErrMalformedKey, "trailing data"},
		{"version 1", with(func(p *p8Parts) { p.version = 1 }), ErrMalformedKey, "version 1"},
		{"unknown algorithm", with(func(p *p8Parts) { p.alg = oidGost2001Key }), ErrUnknownKeyAlgorithm, "1.2.643.2.2.19"},
		{"parameters missing", with(func(p *p8Parts) { p.params = nil }), ErrMalformedKey, "parameters are missing"},
		{"512-bit OID on a 256-bit set", with(func(p *p8Parts) { p.alg = OIDPublicKey512 }), ErrParamSetMismatch, "256-bit parameter set"},
		{"unknown parameter set", with(func(p *p8Parts) { p.params = oidSeq(asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 9}) }), ErrUnknownParamSet, "1.2.643.7.1.2.1.2.9"},
		{"junk after privateKey", with(func(p *p8Parts) { p.extra = []byte{0x05, 0x00} }), ErrMalformedKey, "after privateKey"},
		{"two attribute sets", with(func(p *p8Parts) { p.extra = []byte{0xa0, 0x00, 0xa0, 0x00} }), ErrMalformedKey, "after privateKey"},
		{"d = 0", with(func(p *p8Parts) { p.key = make([]byte, 32) }), ErrBadPrivateKey, "out of range"},
		{"d = q", with(func(p *p8Parts) { p.key = q }), ErrBadPrivateKey, "out of range"},
		{"d = 2^256-1", with(func(p *p8Parts) { p.key = ff }), ErrBadPrivateKey, "out of range"},
		{"31 bytes", with(func(p *p8Parts) { p.key = d[:31] }), ErrMalformedKey, "no form gost-engine reads"},
		{"masked key, product 0", with(func(p *p8Parts) { p.key = append(bytes.Clone(d), make([]byte, 32)...) }), ErrBadPrivateKey, "out of range"},
		{"MASKED_GOST_KEY, 33 bytes", with(func(p *p8Parts) { p.key = maskedGostKey(append(bytes.Clone(d), 1)) }), ErrBadPrivateKey, "not a multiple of 32"},
		{"MASKED_GOST_KEY without public key", with(func(p *p8Parts) { p.key = append([]byte{0x30, 0x22}, octetString(d)...) }), ErrMalformedKey, "two OCTET STRINGs"},
		{"wrapped, 31 bytes", with(func(p *p8Parts) { p.key = octetString(d[:31]) }), ErrBadPrivateKey, "31 bytes"},
		{"wrapped, 64 bytes over q", with(func(p *p8Parts) { p.key = octetString(append(bytes.Clone(d), d...)) }), ErrBadPrivateKey, "longer than 32 bytes"},
		{"wrapped, trailing byte", with(func(p *p8Parts) { p.key = append(octetString(d), 0) }), ErrMalformedKey, "exactly one"},
		{"negative INTEGER", with(func(p *p8Parts) { p.key = negative }), ErrBadPrivateKey, "negative"},
		{"non-minimal INTEGER", with(func(p *p8Parts) { p.key = nonMinimal }), ErrMalformedKey, "minimally"},
		{"INTEGER over q", with(func(p *p8Parts) { p.key = integerDER(ff) }), ErrBadPrivateKey, "out of range"},
		{"empty privateKey", with(func(p *p8Parts) { p.key = nil }), ErrMalformedKey, "holds 0 bytes"},
		{"privateKey not an OCTET STRING", notOctets, ErrMalformedKey, "privateKey is not a DER OCTET STRING"},
	}
	secrets := []string{hex.EncodeToString(d), hex.EncodeToString(reversed(d)), string(d)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePKCS8PrivateKey(tt.der)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("error %q does not mention %q", msg, tt.wantMsg)
			}
			for _, s := range secrets {
				if strings.Contains(strings.ToLower(msg), s) {
					t.Fatal("the error message contains the private key")
				}
			}
		})
	}
}

func TestMarshalPKCS8PrivateKeyRejects(t *testing.T) {
	if _, err := MarshalPKCS8PrivateKey(nil); !errors.Is(err, ErrBadPrivateKey) {
		t.Fatalf("nil key: %v", err)
	}
	if _, err := MarshalPKCS8PrivateKey(&PrivateKey{}); !errors.Is(err, ErrUnknownParamSet) {
		t.Fatalf("key without a curve: %v", err)
	}
	noScalar := &PrivateKey{PublicKey: PublicKey{Curve: CurveTC26256A}}
	if _, err := MarshalPKCS8PrivateKey(noScalar); !errors.Is(err, ErrBadPrivateKey) {
		t.Fatalf("key without a scalar: %v", err)
	}
}

func FuzzParsePKCS8PrivateKey(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "encoding", "*.p8.der"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no PKCS#8 seeds: %v", err)
	}
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		priv, err := ParsePKCS8PrivateKey(der)
		if err != nil {
			return
		}
		out, err := MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatalf("a parsed key does not marshal: %v", err)
		}
		back, err := ParsePKCS8PrivateKey(out)
		if err != nil {
			t.Fatalf("our own output does not parse: %v", err)
		}
		if !back.Equal(priv) || !back.PublicKey.Equal(priv.Public()) {
			t.Fatal("re-parsed key differs")
		}
		if again, err := MarshalPKCS8PrivateKey(back); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("marshalling is not stable: %v", err)
		}
	})
}
