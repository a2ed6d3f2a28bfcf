package gost_test

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

// Minimal PKCS#8 and SPKI shapes as gost-engine writes them (fact sheet
// §2.3, §3), enough to take the raw key bytes out without depending on the
// package's own encoders.
type algID struct {
	Algorithm asn1.ObjectIdentifier
	Params    struct {
		ParamSet asn1.ObjectIdentifier
		Rest     asn1.RawValue `asn1:"optional"`
	}
}

type pkcs8 struct {
	Version    int
	Algorithm  algID
	PrivateKey []byte
}

type spki struct {
	Algorithm algID
	PublicKey asn1.BitString
}

// openSSLParamset are gost-engine's names for the parameter sets it will
// not take by OID (fact sheet §1); the others go by OID.
var openSSLParamset = map[*gost.Curve]string{
	gost.CurveTC26256A: "TCA", gost.CurveTC26256B: "TCB", gost.CurveTC26256C: "TCC", gost.CurveTC26256D: "TCD",
	gost.CurveCryptoProA: "A", gost.CurveCryptoProB: "B", gost.CurveCryptoProC: "C",
	gost.CurveCryptoProXchA: "XA", gost.CurveCryptoProXchB: "XB",
	gost.CurveTC26512A: "A", gost.CurveTC26512B: "B", gost.CurveTC26512C: "C",
}

// openSSLKey makes a key on c with openssl and returns its files and the
// raw d (little-endian) and X_le ‖ Y_le.
func openSSLKey(t *testing.T, c *gost.Curve, dir string) (keyPEM, pubPEM string, d, pub []byte) {
	t.Helper()
	alg := "gost2012_256"
	if c.Size() == 64 {
		alg = "gost2012_512"
	}
	keyPEM = filepath.Join(dir, "key.pem")
	pubPEM = filepath.Join(dir, "pub.pem")
	paramset, ok := openSSLParamset[c]
	if !ok {
		paramset = c.OID.String()
	}
	testkit.OpenSSL(t, nil, "genpkey", "-algorithm", alg, "-pkeyopt", "paramset:"+paramset, "-out", keyPEM)
	testkit.OpenSSL(t, nil, "pkey", "-in", keyPEM, "-pubout", "-out", pubPEM)

	var pk pkcs8
	if _, err := asn1.Unmarshal(testkit.OpenSSL(t, nil, "pkey", "-in", keyPEM, "-outform", "DER"), &pk); err != nil {
		t.Fatalf("PKCS#8 from openssl: %v", err)
	}
	if !pk.Algorithm.Params.ParamSet.Equal(c.OID) || !pk.Algorithm.Algorithm.Equal(c.Hash.PublicKeyOID()) {
		t.Fatalf("openssl made a key with %v/%v, want %v/%v", pk.Algorithm.Algorithm, pk.Algorithm.Params.ParamSet, c.Hash.PublicKeyOID(), c.OID)
	}
	var sp spki
	if _, err := asn1.Unmarshal(testkit.OpenSSL(t, nil, "pkey", "-in", keyPEM, "-pubout", "-outform", "DER"), &sp); err != nil {
		t.Fatalf("SPKI from openssl: %v", err)
	}
	if _, err := asn1.Unmarshal(sp.PublicKey.Bytes, &pub); err != nil {
		t.Fatalf("SPKI key OCTET STRING: %v", err)
	}
	return keyPEM, pubPEM, pk.PrivateKey, pub
}

// TestOpenSSLCrossCheck runs, for every curve, one OpenSSL key both ways:
// our public key from OpenSSL's d equals OpenSSL's, we verify OpenSSL's
// signatures, and OpenSSL verifies ours.
func TestOpenSSLCrossCheck(t *testing.T) {
	testkit.RequireOpenSSL(t)
	for _, c := range gost.Curves() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			keyPEM, pubPEM, d, pubRaw := openSSLKey(t, c, dir)
			priv, err := gost.NewPrivateKey(c, d)
			if err != nil {
				t.Fatalf("NewPrivateKey(openssl's d): %v", err)
			}
			if got := priv.PublicKey.Bytes(); !bytes.Equal(got, pubRaw) {
				t.Fatalf("public key from openssl's d\n got %x\nwant %x", got, pubRaw)
			}
			pub, err := gost.NewPublicKey(c, pubRaw)
			if err != nil {
				t.Fatalf("NewPublicKey(openssl's key): %v", err)
			}
			// A digest above q on the 256-bit curves exercises the reduction.
			digests := [][]byte{bytes.Repeat([]byte{0xff}, c.Hash.Size()), make([]byte, c.Hash.Size())}
			rand.Read(digests[1])
			for i, digest := range digests {
				in := filepath.Join(dir, "digest")
				if err := os.WriteFile(in, digest, 0o600); err != nil {
					t.Fatal(err)
				}
				theirs := testkit.OpenSSL(t, nil, "pkeyutl", "-sign", "-inkey", keyPEM, "-in", in)
				if !pub.Verify(digest, theirs) {
					t.Errorf("digest %d: openssl's signature %x does not verify", i, theirs)
				}
				// Our nonces are hedged: signatures made with an all-zero
				// random source must be just as valid.
				for srcName, src := range map[string]io.Reader{"crypto/rand": rand.Reader, "zero RNG": zeroRNG{}} {
					ours, err := priv.Sign(src, digest, nil)
					if err != nil {
						t.Fatal(err)
					}
					sigFile := filepath.Join(dir, "sig")
					if err := os.WriteFile(sigFile, ours, 0o600); err != nil {
						t.Fatal(err)
					}
					if _, err := testkit.TryOpenSSL(t, nil, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-in", in, "-sigfile", sigFile); err != nil {
						t.Errorf("digest %d, %s: openssl rejects our signature %x: %v", i, srcName, ours, err)
					}
					// And the judge must be able to say no.
					ours[len(ours)-1] ^= 1
					if err := os.WriteFile(sigFile, ours, 0o600); err != nil {
						t.Fatal(err)
					}
					if _, err := testkit.TryOpenSSL(t, nil, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-in", in, "-sigfile", sigFile); err == nil {
						t.Errorf("digest %d, %s: openssl accepts a corrupted signature", i, srcName)
					}
				}
			}
		})
	}
}

// zeroRNG is an all-zero random source.
type zeroRNG struct{}

func (zeroRNG) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
