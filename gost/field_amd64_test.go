//go:build !purego

package gost

import (
	"math/big"
	"testing"
)

// TestMulWithoutMulx runs the assembly's fallback path (CPUs without
// BMI2/ADX) against the portable code.
func TestMulWithoutMulx(t *testing.T) {
	saved := hasMulx
	hasMulx = false
	defer func() { hasMulx = saved }()
	for name, f := range distinctFields() {
		r := new(big.Int).Lsh(big.NewInt(1), uint(64*f.n))
		x := feFromBig(randomBelow(t, r))
		y := feFromBig(randomBelow(t, f.mod))
		var got, want fe
		f.mul(&got, &x, &y)
		f.mulGeneric(&want, &x, &y)
		if got != want {
			t.Fatalf("%s: fallback mul(%x, %x) = %x, want %x", name, x, y, got, want)
		}
		f.sqr(&got, &y)
		f.mulGeneric(&want, &y, &y)
		if got != want {
			t.Fatalf("%s: fallback sqr(%x) = %x, want %x", name, y, got, want)
		}
	}
}
