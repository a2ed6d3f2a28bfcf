package gost_test

import (
	"crypto/rand"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// BenchmarkNewPublicKey times decoding and validating a public key (on
// the curve and, on the cofactor-4 curves, in the prime-order subgroup).
func BenchmarkNewPublicKey(b *testing.B) {
	for _, c := range subgroupBenchCurves {
		b.Run(c.Name, func(b *testing.B) {
			priv, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			raw := priv.PublicKey.Bytes()
			for b.Loop() {
				if _, err := gost.NewPublicKey(c, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseAndVerify times NewPublicKey followed by one Verify: the
// cost of a verification whose key is decoded for it alone.
func BenchmarkParseAndVerify(b *testing.B) {
	for _, c := range subgroupBenchCurves {
		b.Run(c.Name, func(b *testing.B) {
			priv, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			raw := priv.PublicKey.Bytes()
			digest := make([]byte, c.Hash.Size())
			rand.Read(digest)
			sig, err := priv.Sign(rand.Reader, digest, nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				pub, err := gost.NewPublicKey(c, raw)
				if err != nil {
					b.Fatal(err)
				}
				if !pub.Verify(digest, sig) {
					b.Fatal("does not verify")
				}
			}
		})
	}
}

// The cofactor-4 curves, where the subgroup check does work, and a
// cofactor-1 curve of each size for comparison.
var subgroupBenchCurves = []*gost.Curve{gost.CurveTC26256A, gost.CurveTC26256B, gost.CurveTC26512A, gost.CurveTC26512C}
