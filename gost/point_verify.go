package gost

import (
	"math/big"
	"math/bits"
)

// The verification side handles only public data (the public key, the
// digest and the signature), so it may branch on values: it uses faster
// Jacobian formulas with explicit exceptional cases, the comb table for
// z1·G and a width-5 NAF for z2·Q.

// jacPoint is (X : Y : Z) in Jacobian coordinates, x = X/Z², y = Y/Z³.
// In the main loop of mulAdd it also carries t = a·Z⁴ (modified Jacobian
// coordinates), which makes repeated doublings cheaper for any a.
type jacPoint struct {
	x, y, z, t fe
	inf        bool
}

// onCurve reports whether (x, y) are reduced coordinates of a point on the
// curve (public data).
func (o *curveOps) onCurve(x, y *big.Int) bool {
	if x.Sign() < 0 || x.Cmp(o.p) >= 0 || y.Sign() < 0 || y.Cmp(o.p) >= 0 {
		return false
	}
	f := o.fp
	fx, fy := f.fromBig(x), f.fromBig(y)
	var lhs, rhs fe
	f.sqr(&lhs, &fy)
	f.sqr(&rhs, &fx)
	f.add(&rhs, &rhs, &o.a)
	f.mul(&rhs, &rhs, &fx)
	f.add(&rhs, &rhs, &o.b)
	return f.equal(&lhs, &rhs) == 1
}

// jacDouble sets r = 2p (dbl-2007-bl, any a).
func (o *curveOps) jacDouble(r, p *jacPoint) {
	f := o.fp
	if p.inf || f.isZero(&p.y) == 1 {
		r.inf = true
		return
	}
	var xx, yy, yyyy, zz, s, m, t, u fe
	f.sqr(&xx, &p.x)
	f.sqr(&yy, &p.y)
	f.sqr(&yyyy, &yy)
	f.sqr(&zz, &p.z)
	f.add(&s, &p.x, &yy)
	f.sqr(&s, &s)
	f.sub(&s, &s, &xx)
	f.sub(&s, &s, &yyyy)
	f.add(&s, &s, &s)
	f.add(&m, &xx, &xx)
	f.add(&m, &m, &xx)
	f.sqr(&u, &zz)
	f.mul(&u, &u, &o.a)
	f.add(&m, &m, &u)
	f.sqr(&t, &m)
	f.sub(&t, &t, &s)
	f.sub(&t, &t, &s)
	// Z3 before X3, Y3: r may alias p.
	f.add(&u, &p.y, &p.z)
	f.sqr(&u, &u)
	f.sub(&u, &u, &yy)
	f.sub(&r.z, &u, &zz)
	r.x = t
	f.sub(&s, &s, &t)
	f.mul(&s, &m, &s)
	f.add(&yyyy, &yyyy, &yyyy)
	f.add(&yyyy, &yyyy, &yyyy)
	f.add(&yyyy, &yyyy, &yyyy)
	f.sub(&r.y, &s, &yyyy)
	r.inf = false
}

// setT sets p.t = a·Z⁴ for jacDoubleT.
func (o *curveOps) setT(p *jacPoint) {
	f := o.fp
	f.sqr(&p.t, &p.z)
	f.sqr(&p.t, &p.t)
	f.mul(&p.t, &p.t, &o.a)
}

// jacDoubleT sets r = 2p in modified Jacobian coordinates (Cohen, Miyaji,
// Ono), using and updating p.t = a·Z⁴: 4M + 4S, against 2M + 8S for plain
// Jacobian coordinates with a general a. From 2Y it takes 4Y², S = X·4Y²,
// 16Y⁴ (for T3 = 16Y⁴·aZ⁴) and Z3 = 2Y·Z without further doublings, and
// 8Y⁴ by halving: 9 additions and subtractions instead of 12.
func (o *curveOps) jacDoubleT(r, p *jacPoint) {
	f := o.fp
	if p.inf || f.isZero(&p.y) == 1 {
		r.inf = true
		return
	}
	var y2, yy4, s, u, m, x3 fe
	f.add(&y2, &p.y, &p.y)
	f.sqr(&yy4, &y2)      // 4Y²
	f.mul(&s, &p.x, &yy4) // S = 4XY²
	f.sqr(&u, &yy4)       // 16Y⁴
	f.sqr(&m, &p.x)
	f.add(&x3, &m, &m)
	f.add(&m, &x3, &m)
	f.add(&m, &m, &p.t) // M = 3X² + aZ⁴
	f.sqr(&x3, &m)
	f.sub(&x3, &x3, &s)
	f.sub(&x3, &x3, &s)    // X3 = M² - 2S
	f.mul(&r.z, &y2, &p.z) // Z3 = 2YZ
	f.mul(&r.t, &u, &p.t)  // T3 = 16Y⁴·aZ⁴
	f.half(&u, &u)         // 8Y⁴
	f.sub(&s, &s, &x3)
	f.mul(&s, &s, &m)
	f.sub(&r.y, &s, &u) // Y3 = M(S - X3) - 8Y⁴
	r.x = x3
	r.inf = false
}

// jacAdd sets r = p1 + p2 (add-2007-bl).
func (o *curveOps) jacAdd(r, p1, p2 *jacPoint) {
	if p1.inf {
		*r = *p2
		return
	}
	if p2.inf {
		*r = *p1
		return
	}
	f := o.fp
	var z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v fe
	f.sqr(&z1z1, &p1.z)
	f.sqr(&z2z2, &p2.z)
	f.mul(&u1, &p1.x, &z2z2)
	f.mul(&u2, &p2.x, &z1z1)
	f.mul(&s1, &p1.y, &p2.z)
	f.mul(&s1, &s1, &z2z2)
	f.mul(&s2, &p2.y, &p1.z)
	f.mul(&s2, &s2, &z1z1)
	f.sub(&h, &u2, &u1)
	f.sub(&rr, &s2, &s1)
	if f.isZero(&h) == 1 {
		if f.isZero(&rr) == 1 {
			o.jacDouble(r, p1)
		} else {
			r.inf = true
		}
		return
	}
	f.add(&i, &h, &h)
	f.sqr(&i, &i)
	f.mul(&j, &h, &i)
	f.add(&rr, &rr, &rr)
	f.mul(&v, &u1, &i)
	var x3, y3, z3 fe
	f.sqr(&x3, &rr)
	f.sub(&x3, &x3, &j)
	f.sub(&x3, &x3, &v)
	f.sub(&x3, &x3, &v)
	f.sub(&y3, &v, &x3)
	f.mul(&y3, &y3, &rr)
	f.mul(&s1, &s1, &j)
	f.add(&s1, &s1, &s1)
	f.sub(&y3, &y3, &s1)
	f.add(&z3, &p1.z, &p2.z)
	f.sqr(&z3, &z3)
	f.sub(&z3, &z3, &z1z1)
	f.sub(&z3, &z3, &z2z2)
	f.mul(&z3, &z3, &h)
	r.x, r.y, r.z, r.inf = x3, y3, z3, false
}

// jacAddAffine sets r = p1 + p2 for an affine p2 (madd-2007-bl).
func (o *curveOps) jacAddAffine(r, p1 *jacPoint, p2 *affinePoint) {
	f := o.fp
	if p1.inf {
		r.x, r.y, r.z, r.inf = p2.x, p2.y, f.one, false
		return
	}
	var sum jacPoint
	h, rr := o.maddFormula(&sum, p1, p2)
	if f.isZero(&h) == 1 {
		if f.isZero(&rr) == 1 {
			o.jacDouble(r, p1)
		} else {
			r.inf = true
		}
		return
	}
	r.x, r.y, r.z, r.inf = sum.x, sum.y, sum.z, false
}

// wnaf returns the width-w NAF of plain limbs k (public, with
// k + 2^(w-1) < 2^512, as for any k < q), least significant digit first:
// digits are 0 or odd in (-2^(w-1), 2^(w-1)).
func wnaf(k fe, w uint) []int8 {
	out := make([]int8, 0, 64*maxLimbs+1)
	for k != (fe{}) {
		if k[0]&1 == 0 {
			// Skip a run of zero digits at once.
			z := bits.TrailingZeros64(k[0])
			if k[0] == 0 {
				z = 63
			}
			for range z {
				out = append(out, 0)
			}
			feShr(&k, uint(z))
			continue
		}
		d := int64(k[0] & (1<<w - 1))
		if d >= 1<<(w-1) {
			d -= 1 << w
		}
		// k -= d makes the low w bits zero.
		var c uint64
		if d > 0 {
			k[0], c = bits.Sub64(k[0], uint64(d), 0)
			for i := 1; i < len(k) && c != 0; i++ {
				k[i], c = bits.Sub64(k[i], 0, c)
			}
		} else {
			k[0], c = bits.Add64(k[0], uint64(-d), 0)
			for i := 1; i < len(k) && c != 0; i++ {
				k[i], c = bits.Add64(k[i], 0, c)
			}
		}
		out = append(out, int8(d))
		feShr(&k, 1)
	}
	return out
}

// feShr shifts plain limbs right by 0 < s < 64 bits.
func feShr(k *fe, s uint) {
	for i := 0; i < len(k)-1; i++ {
		k[i] = k[i]>>s | k[i+1]<<(64-s)
	}
	k[len(k)-1] >>= s
}

const verifyWindow = 5

// mulAdd returns z1·G + z2·Q for public scalars in [0, q) and a public
// point Q on the curve.
func (o *curveOps) mulAdd(z1, z2, qx, qy *big.Int) jacPoint {
	f := o.fp
	acc := o.mulVar(z2, qx, qy)

	// z1·G from the comb table.
	c := &o.verifyComb
	table := o.get(c)
	k1 := feFromBig(z1)
	var carry uint64
	for w := 0; w < c.windows(o.size); w++ {
		var mag, neg uint64
		mag, neg, carry = signedDigit(&k1, c.bits, w, carry)
		if mag == 0 {
			continue
		}
		pt := table[w*c.entries()+int(mag)-1]
		if neg == 1 {
			f.neg(&pt.y, &pt.y)
		}
		o.jacAddAffine(&acc, &acc, &pt)
	}
	return acc
}

// mulVar returns k·Q for a public scalar 0 ≤ k ≤ q and a public point Q on
// the curve, of any order: every exceptional case of the formulas is
// branched on, and acc.inf is exact.
func (o *curveOps) mulVar(k, qx, qy *big.Int) jacPoint {
	f := o.fp
	// k·Q by wNAF over the odd multiples Q, 3Q, …, 15Q.
	var odd [1 << (verifyWindow - 2)]jacPoint
	odd[0] = jacPoint{x: f.fromBig(qx), y: f.fromBig(qy), z: f.one}
	var twoQ jacPoint
	o.jacDouble(&twoQ, &odd[0])
	for i := 1; i < len(odd); i++ {
		o.jacAdd(&odd[i], &odd[i-1], &twoQ)
	}
	acc := jacPoint{inf: true}
	naf := wnaf(feFromBig(k), verifyWindow)
	for i := len(naf) - 1; i >= 0; i-- {
		o.jacDoubleT(&acc, &acc)
		if d := naf[i]; d > 0 {
			o.jacAdd(&acc, &acc, &odd[d/2])
			o.setT(&acc)
		} else if d < 0 {
			neg := odd[-d/2]
			f.neg(&neg.y, &neg.y)
			o.jacAdd(&acc, &acc, &neg)
			o.setT(&acc)
		}
	}
	return acc
}

// verify checks a signature (r, s in [1, q), e in [1, q)) against the
// public point (qx, qy), on the curve: with v = e⁻¹, z1 = s·v and
// z2 = -r·v, it accepts iff x(z1·G + z2·Q) ≡ r (mod q).
func (o *curveOps) verify(qx, qy, e, r, s *big.Int) bool {
	f := o.fp
	v := new(big.Int).ModInverse(e, o.q)
	z1 := new(big.Int).Mul(s, v)
	z1.Mod(z1, o.q)
	z2 := new(big.Int).Mul(r, v)
	z2.Neg(z2).Mod(z2, o.q)

	acc := o.mulAdd(z1, z2, qx, qy)
	if acc.inf {
		return false
	}

	// x = X/Z² ≡ r (mod q) with x < p: compare X with (r + j·q)·Z² for
	// every r + j·q below p, which needs no inversion.
	var zz fe
	f.sqr(&zz, &acc.z)
	for cand := new(big.Int).Set(r); cand.Cmp(o.p) < 0; cand.Add(cand, o.q) {
		c := f.fromBig(cand)
		f.mul(&c, &c, &zz)
		if f.equal(&c, &acc.x) == 1 {
			return true
		}
	}
	return false
}
