//go:build !purego

package gost

import (
	"math/rand/v2"
	"testing"
)

// The assembly and the pure-Go compression functions must agree on any
// chaining value, counter and block.
func TestStreebogAsmMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(34, 11))
	for range 2000 {
		var h, n, m [8]uint64
		for i := range 8 {
			h[i], n[i], m[i] = rng.Uint64(), rng.Uint64(), rng.Uint64()
		}
		h1, h2 := h, h
		n1, m1 := n, m
		gGeneric(&h1, &n, &m)
		gBlockAMD64(&h2, &n1, &m1)
		if h1 != h2 {
			t.Fatalf("g(%x, %x, %x): generic %x, assembly %x", h, n, m, h1, h2)
		}
		if n1 != n || m1 != m {
			t.Fatal("assembly modified its inputs")
		}
	}
}

func BenchmarkStreebogBlock(b *testing.B) {
	var h, n, m [8]uint64
	b.Run("generic", func(b *testing.B) {
		b.SetBytes(BlockSize)
		for b.Loop() {
			gGeneric(&h, &n, &m)
		}
	})
	b.Run("amd64", func(b *testing.B) {
		b.SetBytes(BlockSize)
		for b.Loop() {
			gBlockAMD64(&h, &n, &m)
		}
	})
}
