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
// (u² - σ₊u + B)(u² - σ₋u + B), σ± = 2·t±/s with t± = s³ ± y_P; the pair
// of the rational halves R and R + T (X_R·X_{R+T} = B) is the one whose
// discriminant, (4/s²)·D± with D± = t±² - B·s², is a square (the other
// pair is conjugate over GF(p²) unless P = T). Then X_R = (t± + √D±)/s,
// and R ∈ 2E iff X_R is a square (either half gives the same answer, as
// T ∈ 2E). Since D₊·D₋ = s⁸·Δ with Δ = A² - 4B, a non-square (x² + Ax + B
// has no root), exactly one of D± is a square, and when it is D₋,
// √D₋ = s⁴·δ/w for δ² = -Δ and w² = -D₊: so three exponentiations in
// GF(p) decide, with p ≡ 3 (mod 4) on both curves making square roots
// powers. A scalar multiplication [q]P costs about three times as much;
// TestSubgroupCheckMatchesQP checks that both agree on every coset.
type subgroupCheck struct {
	e1, b, delta fe       // e1, B and δ = √(-Δ), Montgomery form
	sqrt         invChain // x^((p+1)/4): the square root of a square
	chi          invChain // x^((p-1)/2): the quadratic character
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
	a := new(big.Int).Mul(e1, big.NewInt(3))
	b := new(big.Int).Mul(a, e1)
	b.Add(b, c.A).Mod(b, p)
	// -Δ = 4B - A², a square exactly when Δ is not (-1 is not a square).
	negDelta := new(big.Int).Lsh(b, 2)
	negDelta.Sub(negDelta, new(big.Int).Mul(a, a)).Mod(negDelta, p)
	delta := new(big.Int).ModSqrt(negDelta, p)
	if delta == nil {
		panic("gost: x² + Ax + B has a root: the 2-torsion is not cyclic on " + c.Name)
	}
	return &subgroupCheck{
		e1:    f.fromBig(e1),
		b:     f.fromBig(b),
		delta: f.fromBig(delta),
		sqrt:  newInvChain(new(big.Int).Rsh(new(big.Int).Add(p, big.NewInt(1)), 2)),
		chi:   newInvChain(new(big.Int).Rsh(p, 1)),
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
	var xp, s, s2 fe
	f.sub(&xp, &fx, &sc.e1)
	if f.isZero(&xp) == 1 {
		return false // T, of order 2
	}
	f.pow(&s, &xp, &sc.sqrt)
	f.sqr(&s2, &s)
	if f.equal(&s2, &xp) != 1 {
		return false // not in 2E
	}
	var s3, bs2, t, d, w, w2, v fe
	f.mul(&s3, &xp, &s)     // s³
	f.mul(&bs2, &sc.b, &xp) // B·s²
	f.add(&t, &s3, &fy)     // t₊
	f.sqr(&d, &t)
	f.sub(&d, &d, &bs2) // D₊
	f.pow(&w, &d, &sc.sqrt)
	f.sqr(&w2, &w)
	if f.equal(&w2, &d) == 1 {
		// X_R·s² = (t₊ + √D₊)·s has the character of X_R.
		f.add(&v, &t, &w)
		f.mul(&v, &v, &s)
	} else {
		// w² = -D₊ and √D₋ = s⁴·δ/w: X_R·s²·w² = (t₋·w + s⁴·δ)·s·w.
		var s4 fe
		f.sub(&t, &s3, &fy) // t₋
		f.mul(&v, &t, &w)
		f.sqr(&s4, &xp)
		f.mul(&s4, &s4, &sc.delta)
		f.add(&v, &v, &s4)
		f.mul(&v, &v, &s)
		f.mul(&v, &v, &w)
	}
	if f.isZero(&v) == 1 {
		return false // only for P = T, excluded above
	}
	var chi fe
	f.pow(&chi, &v, &sc.chi)
	return f.equal(&chi, &f.one) == 1
}
