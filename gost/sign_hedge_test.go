package gost

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"testing"
)

// zeroReader is the worst random source: all zeros, for ever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// wantHedgedNonce recomputes the documented derivation on its own:
// candidates Streebog-512(tag ‖ d ‖ digest ‖ fresh ‖ attempt ‖ counter),
// Size bytes each (taken in order from the concatenated blocks), masked to
// the bit length of Q, the first in [1, Q-1] kept.
func wantHedgedNonce(t *testing.T, priv *PrivateKey, digest, fresh []byte, attempt byte) *big.Int {
	t.Helper()
	c := priv.Curve
	var stream []byte
	for ctr := uint32(0); ctr < 64; ctr++ {
		h := New512()
		h.Write([]byte("gostkey: GOST R 34.10-2012 hedged nonce v1\x00"))
		h.Write(priv.d)
		h.Write(digest)
		h.Write(fresh)
		h.Write([]byte{attempt})
		h.Write(binary.BigEndian.AppendUint32(nil, ctr))
		stream = h.Sum(stream)
	}
	for off := 0; off+c.size <= len(stream); off += c.size {
		cand := bytes.Clone(stream[off : off+c.size])
		cand[c.size-1] &= byte(0xff >> (uint(8*c.size-c.Q.BitLen()) & 7))
		k := leInt(cand)
		if k.Sign() > 0 && k.Cmp(c.Q) < 0 {
			return k
		}
	}
	t.Fatal("no candidate in range")
	return nil
}

func sigR(c *Curve, sig []byte) *big.Int { return new(big.Int).SetBytes(sig[c.size:]) }

// TestHedgedNonceDerivation: the nonce Sign uses is exactly the documented
// function of the key, the digest and the fresh bytes, and the signature
// is the one that nonce gives.
func TestHedgedNonceDerivation(t *testing.T) {
	for _, c := range []*Curve{CurveTC26256A, CurveTC26256B, CurveTC26512A, CurveTC26512C} {
		priv, err := GenerateKey(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		digest := bytes.Repeat([]byte{0xa5}, c.Hash.Size())
		fresh := bytes.Repeat([]byte{0x3c}, c.size)
		sig, err := priv.Sign(bytes.NewReader(fresh), digest, nil)
		if err != nil {
			t.Fatal(err)
		}
		k := wantHedgedNonce(t, priv, digest, fresh, 0)
		want, ok := priv.signWith(leBytesOf(k, c.size), digest)
		if !ok || !bytes.Equal(sig, want) {
			t.Fatalf("%s: signature is not the one of the documented nonce", c.Name)
		}
		wantR := new(big.Int).Mod(refMul(c, k, refPoint{c.X, c.Y}).x, c.Q)
		if sigR(c, sig).Cmp(wantR) != 0 {
			t.Fatalf("%s: r ≠ x(k·G) mod q for the documented k", c.Name)
		}
	}
}

func leBytesOf(v *big.Int, size int) []byte {
	out := make([]byte, size)
	leFill(out, v)
	return out
}

// TestHedgedNonceZeroRNG: with an all-zero random source, signatures still
// verify, nonces differ between digests and between keys (r differs), and
// the same key and digest give the same signature: the nonce is then a
// secret function of them, never a constant.
func TestHedgedNonceZeroRNG(t *testing.T) {
	for _, c := range []*Curve{CurveTC26256A, CurveTC26512A} {
		priv, err := GenerateKey(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		other, err := GenerateKey(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i := range 16 {
			digest := make([]byte, c.Hash.Size())
			digest[0] = byte(i)
			sig, err := priv.Sign(zeroReader{}, digest, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !priv.PublicKey.Verify(digest, sig) {
				t.Fatalf("%s: signature with a zero RNG does not verify", c.Name)
			}
			r := sigR(c, sig).String()
			if seen[r] {
				t.Fatalf("%s: digest %d repeats a nonce under a zero RNG", c.Name, i)
			}
			seen[r] = true
			again, err := priv.Sign(zeroReader{}, digest, nil)
			if err != nil || !bytes.Equal(again, sig) {
				t.Fatalf("%s: same key, digest and randomness gave another signature", c.Name)
			}
			fresh, err := priv.Sign(nil, digest, nil)
			if err != nil || bytes.Equal(fresh, sig) {
				t.Fatalf("%s: crypto/rand did not change the nonce", c.Name)
			}
			theirs, err := other.Sign(zeroReader{}, digest, nil)
			if err != nil {
				t.Fatal(err)
			}
			if seen[sigR(c, theirs).String()] {
				t.Fatalf("%s: two keys share a nonce under a zero RNG", c.Name)
			}
		}
	}
}

// TestHedgedNonceAttempts: a retry (after r = 0 or s = 0) takes another
// nonce even when the random source repeats itself.
func TestHedgedNonceAttempts(t *testing.T) {
	priv, err := GenerateKey(CurveCryptoProC, nil)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	k0, err := priv.hedgedNonce(zeroReader{}, digest, 0)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := priv.hedgedNonce(zeroReader{}, digest, 1)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k0, k1) {
		t.Fatal("attempts 0 and 1 share a nonce")
	}
	if priv.Curve.ops.scalarInRange(k0) != 1 || priv.Curve.ops.scalarInRange(k1) != 1 {
		t.Fatal("nonce out of range")
	}
}

// TestHedgedNonceReadError: a random source that fails is an error, not
// a silently deterministic signature.
func TestHedgedNonceReadError(t *testing.T) {
	priv, err := GenerateKey(CurveTC26256A, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := priv.Sign(bytes.NewReader(make([]byte, 5)), make([]byte, 32), nil); err == nil {
		t.Fatal("Sign succeeded on a short random source")
	}
}
