package gost

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gostkey/gostkey/internal/testkit"
)

// digestParamSetRule records, per parameter set, whether the
// AlgorithmIdentifier carries digestParamSet: in our output (RFC 9215 as the
// fact sheet §2.2 reads it) and in gost-engine 3.0.1's (as observed), which
// also writes it for the 512-bit A, B and Test sets, against the SHOULD.
var digestParamSetRule = map[string]struct{ ours, gostEngine bool }{
	"1.2.643.7.1.2.1.1.1": {false, false}, // TC26-256-A: SHOULD omit
	"1.2.643.7.1.2.1.1.2": {false, false}, // TC26-256-B..D: MUST omit
	"1.2.643.7.1.2.1.1.3": {false, false},
	"1.2.643.7.1.2.1.1.4": {false, false},
	"1.2.643.2.2.35.1":    {true, true}, // CryptoPro A/B/C, XchA/XchB: MUST include
	"1.2.643.2.2.35.2":    {true, true},
	"1.2.643.2.2.35.3":    {true, true},
	"1.2.643.2.2.36.0":    {true, true},
	"1.2.643.2.2.36.1":    {true, true},
	"1.2.643.2.2.35.0":    {true, true},  // 2001 test set: as RFC 9215 example 1
	"1.2.643.7.1.2.1.2.1": {false, true}, // 512: SHOULD omit
	"1.2.643.7.1.2.1.2.2": {false, true},
	"1.2.643.7.1.2.1.2.3": {false, false},
	"1.2.643.7.1.2.1.2.0": {false, true},
}

var (
	oidGost2001Key     = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 19}
	oidGost94ParamSet  = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 30, 1}
	oidGost28147Params = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 31, 1}
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "encoding", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readVector reads a certificate from the repository's standard vectors,
// PEM or DER.
func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.VectorsDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(b); block != nil {
		return block.Bytes
	}
	return b
}

// certSPKI cuts the SubjectPublicKeyInfo out of a DER certificate.
func certSPKI(t testing.TB, der []byte) []byte {
	t.Helper()
	var cert struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &cert); err != nil || len(rest) != 0 {
		t.Fatalf("certificate: %v (%d trailing bytes)", err, len(rest))
	}
	var tbs struct {
		Version  int `asn1:"optional,explicit,default:0,tag:0"`
		Serial   *big.Int
		SigAlg   asn1.RawValue
		Issuer   asn1.RawValue
		Validity asn1.RawValue
		Subject  asn1.RawValue
		SPKI     asn1.RawValue
	}
	if _, err := asn1.Unmarshal(cert.TBS.FullBytes, &tbs); err != nil {
		t.Fatalf("tbsCertificate: %v", err)
	}
	return tbs.SPKI.FullBytes
}

// beToLE turns big-endian hex into a little-endian field of size bytes.
func beToLE(t testing.TB, s string, size int) []byte {
	t.Helper()
	b := new(big.Int).SetBytes(mustHex(t, s)).FillBytes(make([]byte, size))
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// oidSeq is the DER of SEQUENCE { oids... }, the GOST key parameters.
func oidSeq(oids ...asn1.ObjectIdentifier) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, o := range oids {
			b.AddASN1ObjectIdentifier(o)
		}
	})
	return b.BytesOrPanic()
}

// spkiParts builds SubjectPublicKeyInfo variants, right or wrong, without
// going through the code under test.
type spkiParts struct {
	alg    asn1.ObjectIdentifier
	params []byte // DER of the parameters; nil leaves them out
	unused byte
	key    []byte // BIT STRING contents after the unused-bits byte
}

// algorithmID is the DER of SEQUENCE { alg, params }; params is DER or nil.
func algorithmID(alg asn1.ObjectIdentifier, params []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(alg)
		b.AddBytes(params)
	})
	return b.BytesOrPanic()
}

func (p spkiParts) der() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(algorithmID(p.alg, p.params))
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
			b.AddUint8(p.unused)
			b.AddBytes(p.key)
		})
	})
	return b.BytesOrPanic()
}

func octetString(v []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1OctetString(v)
	return b.BytesOrPanic()
}

// keyParams is the parameters SEQUENCE for c, with or without digestParamSet.
func keyParams(c *Curve, withDigest bool) []byte {
	if withDigest {
		return oidSeq(c.OID, c.Hash.DigestOID())
	}
	return oidSeq(c.OID)
}

// wantSPKI is the exact SubjectPublicKeyInfo of point on c.
func wantSPKI(c *Curve, point []byte, withDigest bool) []byte {
	return spkiParts{alg: c.Hash.PublicKeyOID(), params: keyParams(c, withDigest), key: octetString(point)}.der()
}

// TestStandardCertificateKeys parses the SPKI of the RFC 9215 example
// certificates, whose bytes our output must reproduce exactly, and of the
// TC26 reference certificates, which carry digestParamSet where RFC 9215
// says to leave it out: we read them and write the RFC form.
func TestStandardCertificateKeys(t *testing.T) {
	tests := []struct {
		file       string
		curve      *Curve
		qx, qy     string // fact sheet §6.2, big-endian; empty: not given there
		withDigest bool   // in the certificate
	}{
		{"rfc9215_ex1.der", CurveTest256,
			"7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
			"26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA", true},
		{"rfc9215_ex2.der", CurveTC26256A, "", "", false},
		{"rfc9215_ex3.der", CurveTest512,
			"115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
			"37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC", false},
		{"tc26_root256_cert.pem", CurveTC26256A, "", "", true},
		{"tc26_sender256_cert.pem", CurveTC26256A, "", "", true},
		{"tc26_sender512_cert.pem", CurveTC26512A, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			spki := certSPKI(t, readVector(t, tt.file))
			pub, err := ParsePKIXPublicKey(spki)
			if err != nil {
				t.Fatal(err)
			}
			if pub.Curve != tt.curve {
				t.Fatalf("curve %s, want %s", pub.Curve.Name, tt.curve.Name)
			}
			if tt.qx != "" {
				want := append(beToLE(t, tt.qx, tt.curve.Size()), beToLE(t, tt.qy, tt.curve.Size())...)
				if !bytes.Equal(pub.Bytes(), want) {
					t.Fatalf("point\n got %x\nwant %x", pub.Bytes(), want)
				}
			}
			if want := wantSPKI(tt.curve, pub.Bytes(), tt.withDigest); !bytes.Equal(spki, want) {
				t.Fatalf("the certificate's SPKI is not the form this test expects:\n got %x\nwant %x", spki, want)
			}
			got, err := MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantSPKI(tt.curve, pub.Bytes(), digestParamSetRule[tt.curve.OID.String()].ours); !bytes.Equal(got, want) {
				t.Fatalf("re-marshalled SPKI\n got %x\nwant %x", got, want)
			}
			if strings.HasPrefix(tt.file, "rfc9215") && !bytes.Equal(got, spki) {
				t.Fatal("re-marshalled SPKI differs from the RFC 9215 example")
			}
		})
	}
}

// TestMarshalPKIXPublicKeyForms checks every curve's exact output against
// the digestParamSet rule, and the two header forms the fact sheet spells out.
func TestMarshalPKIXPublicKeyForms(t *testing.T) {
	prefixes := map[*Curve]string{
		CurveTC26256A: "305e301706082a85030701010101300b06092a85030701020101010343000440",
		CurveTC26512C: "3081a0301706082a85030701010102300b06092a8503070102010203038184000481" + "80",
	}
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			rule, ok := digestParamSetRule[c.OID.String()]
			if !ok {
				t.Fatalf("no digestParamSet rule for %v in this test", c.OID)
			}
			priv, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalPKIXPublicKey(&priv.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantSPKI(c, priv.PublicKey.Bytes(), rule.ours); !bytes.Equal(got, want) {
				t.Fatalf("SPKI\n got %x\nwant %x", got, want)
			}
			if p, ok := prefixes[c]; ok && !strings.HasPrefix(hex.EncodeToString(got), p) {
				t.Fatalf("SPKI %x does not start with %s", got, p)
			}
			back, err := ParsePKIXPublicKey(got)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equal(&priv.PublicKey) {
				t.Fatal("parsed key differs from the marshalled one")
			}
		})
	}
}

func TestMarshalPKIXPublicKeyRejects(t *testing.T) {
	priv, err := GenerateKey(CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := CurveTC26256A
	foreign := &Curve{Name: "lookalike", OID: c.OID, Hash: c.Hash, P: c.P, A: c.A, B: c.B, Q: c.Q, X: c.X, Y: c.Y, Cofactor: c.Cofactor}
	tests := []struct {
		name string
		pub  *PublicKey
		want error
	}{
		{"nil key", nil, ErrBadPublicKey},
		{"no curve", &PublicKey{X: priv.X, Y: priv.Y}, ErrUnknownParamSet},
		{"curve not from this package", &PublicKey{Curve: foreign, X: priv.X, Y: priv.Y}, ErrUnknownParamSet},
		{"missing coordinate", &PublicKey{Curve: CurveTC26256A, X: priv.X}, ErrBadPublicKey},
		{"coordinate out of range", &PublicKey{Curve: CurveTC26256A, X: CurveTC26256A.P, Y: priv.Y}, ErrBadPublicKey},
		{"off the curve", &PublicKey{Curve: CurveTC26256A, X: priv.X, Y: new(big.Int).Add(priv.Y, big.NewInt(1))}, ErrBadPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := MarshalPKIXPublicKey(tt.pub); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParsePKIXPublicKey(t *testing.T) {
	// Valid points on a 256-bit and a 512-bit curve, from RFC 9215.
	pub256, err := ParsePKIXPublicKey(certSPKI(t, readVector(t, "rfc9215_ex1.der")))
	if err != nil {
		t.Fatal(err)
	}
	pub512, err := ParsePKIXPublicKey(certSPKI(t, readVector(t, "rfc9215_ex3.der")))
	if err != nil {
		t.Fatal(err)
	}
	c256, c512 := pub256.Curve, pub512.Curve
	pt256, pt512 := pub256.Bytes(), pub512.Bytes()
	good := spkiParts{alg: OIDPublicKey256, params: oidSeq(c256.OID, OIDStreebog256), key: octetString(pt256)}
	with := func(f func(p *spkiParts)) []byte { p := good; f(&p); return p.der() }
	offCurve := bytes.Clone(pt256)
	offCurve[40] ^= 1
	nonMinimal := good.der()
	nonMinimal = append([]byte{0x30, 0x81}, nonMinimal[1:]...)
	indefinite := append(append([]byte{0x30, 0x80}, good.der()[2:]...), 0, 0)

	tests := []struct {
		name    string
		der     []byte
		want    *PublicKey // nil: an error is expected
		wantErr error
		wantMsg string
	}{
		{"digestParamSet present", good.der(), pub256, nil, ""},
		{"digestParamSet absent", with(func(p *spkiParts) { p.params = oidSeq(c256.OID) }), pub256, nil, ""},
		{"GOST R 34.11-94 digestParamSet", with(func(p *spkiParts) { p.params = oidSeq(c256.OID, oidGost94ParamSet) }), pub256, nil, ""},
		{"RFC 4491 encryptionParamSet", with(func(p *spkiParts) { p.params = oidSeq(c256.OID, oidGost94ParamSet, oidGost28147Params) }), pub256, nil, ""},
		{"512-bit, digestParamSet absent", spkiParts{alg: OIDPublicKey512, params: oidSeq(c512.OID), key: octetString(pt512)}.der(), pub512, nil, ""},
		{"512-bit, digestParamSet present", spkiParts{alg: OIDPublicKey512, params: oidSeq(c512.OID, OIDStreebog512), key: octetString(pt512)}.der(), pub512, nil, ""},

		{"empty input", nil, nil, ErrMalformedKey, "not a DER SEQUENCE"},
		{"trailing data", append(good.der(), 0), nil, ErrMalformedKey, "trailing data"},
		{"non-minimal length", nonMinimal, nil, ErrMalformedKey, "not a DER SEQUENCE"},
		{"indefinite length", indefinite, nil, ErrMalformedKey, "not a DER SEQUENCE"},
		{"GOST 2001 algorithm", with(func(p *spkiParts) { p.alg = oidGost2001Key }), nil, ErrUnknownKeyAlgorithm, "1.2.643.2.2.19"},
		{"ECDSA algorithm", with(func(p *spkiParts) { p.alg = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1} }), nil, ErrUnknownKeyAlgorithm, "1.2.840.10045.2.1"},
		{"unknown parameter set", with(func(p *spkiParts) { p.params = oidSeq(asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 1, 9}) }), nil, ErrUnknownParamSet, "1.2.643.7.1.2.1.1.9"},
		{"256-bit set under the 512-bit OID", with(func(p *spkiParts) { p.alg = OIDPublicKey512 }), nil, ErrParamSetMismatch, "256-bit parameter set"},
		{"512-bit set under the 256-bit OID", spkiParts{alg: OIDPublicKey256, params: oidSeq(c512.OID), key: octetString(pt512)}.der(), nil, ErrParamSetMismatch, "512-bit parameter set"},
		{"parameters missing", with(func(p *spkiParts) { p.params = nil }), nil, ErrMalformedKey, "parameters are missing"},
		{"parameters NULL", with(func(p *spkiParts) { p.params = []byte{5, 0} }), nil, ErrMalformedKey, "not a DER SEQUENCE"},
		{"parameters empty", with(func(p *spkiParts) { p.params = oidSeq() }), nil, ErrMalformedKey, "publicKeyParamSet"},
		{"digestParamSet not an OID", with(func(p *spkiParts) { p.params = mustHex(t, "300b06072a85030202230005"+"00") }), nil, ErrMalformedKey, "digestParamSet"},
		{"four parameter OIDs", with(func(p *spkiParts) { p.params = oidSeq(c256.OID, OIDStreebog256, OIDStreebog256, OIDStreebog256) }), nil, ErrMalformedKey, "extra fields"},
		{"point too short", with(func(p *spkiParts) { p.key = octetString(pt256[:63]) }), nil, ErrBadPublicKey, "63-byte point"},
		{"512-bit point on a 256-bit set", with(func(p *spkiParts) { p.key = octetString(pt512) }), nil, ErrBadPublicKey, "128-byte point"},
		{"point off the curve", with(func(p *spkiParts) { p.key = octetString(offCurve) }), nil, ErrBadPublicKey, ""},
		{"point at zero", with(func(p *spkiParts) { p.key = octetString(make([]byte, 64)) }), nil, ErrBadPublicKey, ""},
		{"unused bits", with(func(p *spkiParts) { p.unused = 1; p.key = append(octetString(pt256[:63]), 0x80) }), nil, ErrMalformedKey, "1 unused bits"},
		{"raw point in the BIT STRING", with(func(p *spkiParts) { p.key = pt256 }), nil, ErrMalformedKey, "OCTET STRING"},
		{"data after the OCTET STRING", with(func(p *spkiParts) { p.key = append(octetString(pt256), 0) }), nil, ErrMalformedKey, "OCTET STRING"},
		{"empty BIT STRING", with(func(p *spkiParts) { p.unused = 0; p.key = nil }), nil, ErrMalformedKey, "OCTET STRING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePKIXPublicKey(tt.der)
			if tt.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(tt.want) {
					t.Fatal("parsed a different key")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func FuzzParsePKIXPublicKey(f *testing.F) {
	for _, name := range []string{"rfc9215_ex1.der", "rfc9215_ex2.der", "rfc9215_ex3.der", "tc26_sender512_cert.pem"} {
		f.Add(certSPKI(f, readVector(f, name)))
	}
	files, err := filepath.Glob(filepath.Join("testdata", "encoding", "*.spki.der"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no SPKI seeds: %v", err)
	}
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		pub, err := ParsePKIXPublicKey(der)
		if err != nil {
			return
		}
		out, err := MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("a parsed key does not marshal: %v", err)
		}
		back, err := ParsePKIXPublicKey(out)
		if err != nil {
			t.Fatalf("our own output does not parse: %v", err)
		}
		if !back.Equal(pub) {
			t.Fatal("re-parsed key differs")
		}
		if again, err := MarshalPKIXPublicKey(back); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("marshalling is not stable: %v", err)
		}
	})
}
