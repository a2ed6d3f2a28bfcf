package gost

import (
	"math/big"
)

// Subgroup membership on the cofactor-4 curves (TC26-256-A, TC26-512-C)
// without a scalar multiplication. Their group is Z/4 × Z/q (q odd; the
// tests check that the 4-torsion is cyclic: one point T = (e1, 0) of
// order 2, two of order 4), so the subgroup of order q is 4E and P is in
// it iff P ∈ 2E and a half of P is in 2E.
//
// In the coordinate X = x - e1 the curve is y² = X³ + A·X² + B·X with
// A = 3·e1 and B = 3·e1² + a. For a curve with one rational point of
// order 2, the 2-isogeny descent map P ↦ X_P mod squares is a
// homomorphism E(GF(p)) → GF(p)*/squares (T ↦ B) whose kernel has index 2
// and contains 2E, which has index 2 too: so P ≠ T is in 2E iff X_P is a
// square. (T itself is 2·(a point of order 4), so B is a square.)
//
// For P = 2R, X_P = (X_R² - B)² / (4·y_R²). With s² = X_P, the four
// halves of P (R plus the 2-torsion) have X coordinates the roots of
// (u² - σ₁u + B)(u² - σ₂u + B), σ = 2(s³ ± y_P)/s; the pair that
// belongs to the rational halves R and R + T (X_R·X_{R+T} = B) is the one
// with a square discriminant σ² - 4B, the other pair being conjugate over
// GF(p²) unless P = T. Then X_R = (s³ ± y_P + w)/s with w² = (s³ ± y_P)² - B·s²,
// and R ∈ 2E iff X_R is a square (either half gives the same answer, as
// T ∈ 2E). p ≡ 3 (mod 4) on both curves, so square roots are powers.
//
// This costs three or four exponentiations in GF(p), against one scalar
// multiplication for [q]P; TestSubgroupCheckMatchesQP checks both agree
// on every coset.
type subgroupCheck struct {
	e1, b fe       // e1 and B, Montgomery form
	sqrt  invChain // x^((p+1)/4): the square root of a square
	chi   invChain // x^((p-1)/2): the quadratic character
}

func newSubgroupCheck(c *Curve, f *field, e1 *big.Int) *subgroupCheck {
	p := c.P
	if new(big.Int).Mod(p, big.NewInt(4)).Int64() != 3 {
		panic("gost: the subgroup check needs p ≡ 3 (mod 4): " + c.Name)
	}
	rhs := new(big.Int).Mul(e1, e1)
	rhs.Add(rhs, c.A).Mul(rhs, e1).Add(rhs, c.B).Mod(rhs, p)
	if rhs.Sign() != 0 {
		panic("gost: e1 is not the root of x³ + ax + b: " + c.Name)
	}
	b := new(big.Int).Mul(e1, e1)
	b.Mul(b, big.NewInt(3)).Add(b, c.A).Mod(b, p)
	return &subgroupCheck{
		e1:   f.fromBig(e1),
		b:    f.fromBig(b),
		sqrt: newInvChain(new(big.Int).Rsh(new(big.Int).Add(p, big.NewInt(1)), 2)),
		chi:  newInvChain(new(big.Int).Rsh(p, 1)),
	}
}

// inSubgroup reports whether the public point (x, y), on the curve, lies
// in the subgroup of prime order q: on the curves of cofactor 1 every
// point does; on the others, see subgroupCheck.
func (o *curveOps) inSubgroup(x, y *big.Int) bool {
	sc := o.sub
	if sc == nil {
		return true
	}
	f := o.fp
	fx, fy := f.fromBig(x), f.fromBig(y)
	var xp, s, t fe
	f.sub(&xp, &fx, &sc.e1)
	if f.isZero(&xp) == 1 {
		return false // T, of order 2
	}
	f.pow(&s, &xp, &sc.sqrt)
	f.sqr(&t, &s)
	if f.equal(&t, &xp) != 1 {
		return false // not in 2E
	}
	var s3, bs2 fe
	f.mul(&s3, &xp, &s)     // s³
	f.mul(&bs2, &sc.b, &xp) // B·s²
	var ys [2]fe
	ys[0] = fy
	f.neg(&ys[1], &fy)
	for i := range ys {
		var u, d, w, w2 fe
		f.add(&u, &s3, &ys[i]) // s³ ± y
		f.sqr(&d, &u)
		f.sub(&d, &d, &bs2)
		f.pow(&w, &d, &sc.sqrt)
		f.sqr(&w2, &w)
		if f.equal(&w2, &d) != 1 {
			continue // the halves of this pair are not rational
		}
		// X_R·s² = (s³ ± y + w)·s has the character of X_R.
		f.add(&u, &u, &w)
		f.mul(&u, &u, &s)
		if f.isZero(&u) == 1 {
			return false // R = T would make P = O, which has no affine form
		}
		var chi fe
		f.pow(&chi, &u, &sc.chi)
		return f.equal(&chi, &f.one) == 1
	}
	return false // unreachable for P ∈ 2E, P ≠ T
}
