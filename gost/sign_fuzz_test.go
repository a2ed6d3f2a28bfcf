package gost_test

import (
	"bytes"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// FuzzVerify feeds arbitrary public keys, digests and signatures to every
// curve: nothing may panic, and a signature made by us must keep verifying
// only for its own digest.
func FuzzVerify(f *testing.F) {
	tc := rfc7091[0]
	f.Add(uint8(9), append(le(f, tc.qx, 32), le(f, tc.qy, 32)...), le(f, tc.e, 32), unhex(f, tc.s+tc.r))
	f.Add(uint8(0), make([]byte, 64), make([]byte, 32), make([]byte, 64))
	f.Add(uint8(13), bytes.Repeat([]byte{0xff}, 128), bytes.Repeat([]byte{0xff}, 64), bytes.Repeat([]byte{0xff}, 128))
	curves := gost.Curves()
	f.Fuzz(func(t *testing.T, which uint8, pubRaw, digest, sig []byte) {
		c := curves[int(which)%len(curves)]
		pub, err := gost.NewPublicKey(c, pubRaw)
		if err != nil {
			// Also a key built by hand, bypassing the checks, must not panic.
			pub = &gost.PublicKey{Curve: c, X: c.X, Y: c.Y}
		}
		pub.Verify(digest, sig)
		if !bytes.Equal(pub.Bytes(), pubRaw) && err == nil {
			t.Fatalf("public key does not round-trip: %x", pubRaw)
		}
	})
}

// FuzzNewKeys feeds arbitrary bytes to NewPublicKey and NewPrivateKey on
// every curve: malformed input must fail cleanly, and accepted keys must
// round-trip and sign verifiably.
func FuzzNewKeys(f *testing.F) {
	f.Add(uint8(0), []byte{1})
	f.Add(uint8(0), bytes.Repeat([]byte{0xff}, 32))
	f.Add(uint8(10), bytes.Repeat([]byte{0x01}, 64))
	f.Add(uint8(3), bytes.Repeat([]byte{0x07}, 64))
	curves := gost.Curves()
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		c := curves[int(which)%len(curves)]
		if pub, err := gost.NewPublicKey(c, raw); err == nil {
			if !bytes.Equal(pub.Bytes(), raw) || !gost.RefOnCurve(c, pub.X, pub.Y) {
				t.Fatalf("accepted public key %x is not a curve point that round-trips", raw)
			}
		}
		priv, err := gost.NewPrivateKey(c, raw)
		if err != nil {
			return
		}
		if !bytes.Equal(priv.Bytes(), raw) {
			t.Fatalf("private key does not round-trip: %x", raw)
		}
		digest := bytes.Repeat([]byte{0x5a}, c.Hash.Size())
		sig, ok := gost.SignDigestWithK(priv, digest, raw)
		if !ok {
			return // k = d happened to give r or s = 0
		}
		if !priv.PublicKey.Verify(digest, sig) {
			t.Fatalf("signature with d = k = %x does not verify", raw)
		}
	})
}
