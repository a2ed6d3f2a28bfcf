package gost_test

import (
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// randomPoint finds a point of the whole group (not only the subgroup).
func randomPoint(t *testing.T, c *gost.Curve) gost.RefPoint {
	for {
		x, err := rand.Int(rand.Reader, c.P)
		if err != nil {
			t.Fatal(err)
		}
		rhs := new(big.Int).Mul(x, x)
		rhs.Add(rhs, c.A).Mul(rhs, x).Add(rhs, c.B).Mod(rhs, c.P)
		if y := new(big.Int).ModSqrt(rhs, c.P); y != nil {
			return gost.NewRefPoint(x, y)
		}
	}
}

func TestCurveParameters(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range gost.Curves() {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.OID.String()] {
				t.Fatalf("OID %v listed twice", c.OID)
			}
			seen[c.OID.String()] = true
			if got, ok := gost.CurveByOID(c.OID); !ok || got != c {
				t.Fatalf("CurveByOID(%v) = %v, %v", c.OID, got, ok)
			}
			wantSize, wantHash := 32, gost.Streebog256
			if c.P.BitLen() > 256 {
				wantSize, wantHash = 64, gost.Streebog512
			}
			if c.Size() != wantSize || c.Hash != wantHash {
				t.Fatalf("Size() = %d, Hash = %v; want %d, %v", c.Size(), c.Hash, wantSize, wantHash)
			}
			if !c.P.ProbablyPrime(32) || !c.Q.ProbablyPrime(32) {
				t.Fatal("p or q is not prime")
			}
			if !gost.RefOnCurve(c, c.X, c.Y) {
				t.Fatal("base point is not on the curve")
			}
			if g := gost.RefMul(c, c.Q, gost.NewRefPoint(c.X, c.Y)); !g.IsInf() {
				t.Fatal("q·G is not the point at infinity")
			}
			// Hasse: |#E - (p+1)| <= 2·sqrt(p). With #E = h·q and a random
			// point R, (h·q)·R = O pins the group order.
			n := new(big.Int).Mul(c.Q, big.NewInt(int64(c.Cofactor)))
			diff := new(big.Int).Sub(n, new(big.Int).Add(c.P, big.NewInt(1)))
			diff.Mul(diff, diff)
			if diff.Cmp(new(big.Int).Lsh(c.P, 2)) > 0 {
				t.Fatalf("cofactor·q = %x is outside the Hasse interval", n)
			}
			if r := gost.RefMul(c, n, randomPoint(t, c)); !r.IsInf() {
				t.Fatal("cofactor·q·R is not the point at infinity for a random point R")
			}
		})
	}
	if len(seen) != 14 {
		t.Fatalf("%d curves, want 14", len(seen))
	}
}

func TestCurveAliases(t *testing.T) {
	same := [][2]*gost.Curve{
		{gost.CurveTC26256B, gost.CurveCryptoProA},
		{gost.CurveTC26256C, gost.CurveCryptoProB},
		{gost.CurveTC26256D, gost.CurveCryptoProC},
		{gost.CurveCryptoProXchA, gost.CurveCryptoProA},
		{gost.CurveCryptoProXchB, gost.CurveCryptoProC},
	}
	for _, s := range same {
		a, b := s[0], s[1]
		if a == b || a.OID.Equal(b.OID) {
			t.Errorf("%s and %s are not distinct parameter sets", a.Name, b.Name)
		}
		for i, v := range []*big.Int{a.P, a.A, a.B, a.Q, a.X, a.Y} {
			w := []*big.Int{b.P, b.A, b.B, b.Q, b.X, b.Y}[i]
			if v.Cmp(w) != 0 {
				t.Errorf("%s and %s differ in parameter %d", a.Name, b.Name, i)
			}
		}
	}
}
