package gost

import (
	"math/big"
	"sync"
)

// curveOps is the arithmetic of one curve, shared by the parameter sets
// that name it.
type curveOps struct {
	size int    // bytes per coordinate and scalar
	fp   *field // coordinates, mod p
	fq   *field // scalars, mod q
	a    fe     // curve coefficient a, Montgomery form
	b    fe     // curve coefficient b, Montgomery form
	b3   fe     // 3·b, Montgomery form (the complete formulas use it)
	g    affinePoint
	p, q *big.Int       // public, for the verification side
	sub  *subgroupCheck // nil on the curves of cofactor 1

	signComb   comb // k·G when signing: small rows, read whole
	signFast   int  // leading signComb windows that add in Jacobian coordinates
	verifyComb comb // z1·G when verifying: larger rows, read by index
}

func newCurveOps(c *Curve, e1 string) *curveOps {
	n := c.size / 8
	o := &curveOps{size: c.size, fp: newField(c.P, n), fq: newField(c.Q, n), p: c.P, q: c.Q}
	o.signComb.bits = signCombBits
	o.verifyComb.bits = verifyCombBits
	o.signFast = fastWindows(c.Q, signCombBits, o.signComb.windows(c.size))
	o.a = o.fp.fromBig(c.A)
	o.b = o.fp.fromBig(c.B)
	o.b3 = o.fp.fromBig(new(big.Int).Mod(new(big.Int).Mul(c.B, big.NewInt(3)), c.P))
	o.g = affinePoint{o.fp.fromBig(c.X), o.fp.fromBig(c.Y)}
	if c.Cofactor != 1 {
		o.sub = newSubgroupCheck(c, o.fp, curveHex(e1))
	}
	return o
}

// fromBig converts a public value below m to Montgomery form.
func (f *field) fromBig(v *big.Int) fe {
	x := feFromBig(v)
	f.toMont(&x, &x)
	return x
}

// affinePoint is (x, y) in Montgomery form; it cannot be the point at
// infinity.
type affinePoint struct{ x, y fe }

// projPoint is (X : Y : Z) in homogeneous projective coordinates, x = X/Z,
// y = Y/Z; the point at infinity is (0 : 1 : 0).
type projPoint struct{ x, y, z fe }

// The signing side uses, in the top windows of its comb (see baseMult),
// the complete addition formulas of Renes, Costello and Batina ("Complete
// addition formulas for prime order elliptic curves", EUROCRYPT 2016,
// algorithms 1 and 2) for any a. They have no
// exceptional cases on curves of odd order, and on the cofactor-4 curves
// (TC26-256-A, TC26-512-C) none for points of the odd-order subgroup,
// where every point the signer adds lies: an exception needs P1 - P2 of
// order 2. So the same operations run whatever the points are.

// add sets r = p1 + p2 (complete; r may alias either input).
func (o *curveOps) add(r, p1, p2 *projPoint) {
	f := o.fp
	var t0, t1, t2, t3, t4, t5, x3, y3, z3 fe
	f.mul(&t0, &p1.x, &p2.x)
	f.mul(&t1, &p1.y, &p2.y)
	f.mul(&t2, &p1.z, &p2.z)
	f.add(&t3, &p1.x, &p1.y)
	f.add(&t4, &p2.x, &p2.y)
	f.mul(&t3, &t3, &t4)
	f.add(&t4, &t0, &t1)
	f.sub(&t3, &t3, &t4) // X1Y2 + X2Y1
	f.add(&t4, &p1.x, &p1.z)
	f.add(&t5, &p2.x, &p2.z)
	f.mul(&t4, &t4, &t5)
	f.add(&t5, &t0, &t2)
	f.sub(&t4, &t4, &t5) // X1Z2 + X2Z1
	f.add(&t5, &p1.y, &p1.z)
	f.add(&x3, &p2.y, &p2.z)
	f.mul(&t5, &t5, &x3)
	f.add(&x3, &t1, &t2)
	f.sub(&t5, &t5, &x3) // Y1Z2 + Y2Z1
	o.addTail(r, &t0, &t1, &t2, &t3, &t4, &t5, &x3, &y3, &z3)
}

// addMixed sets r = p1 + p2 for an affine p2 (complete but for p2 = O,
// which an affinePoint cannot be).
func (o *curveOps) addMixed(r, p1 *projPoint, p2 *affinePoint) {
	f := o.fp
	var t0, t1, t2, t3, t4, t5, x3, y3, z3 fe
	f.mul(&t0, &p1.x, &p2.x)
	f.mul(&t1, &p1.y, &p2.y)
	t2 = p1.z
	f.add(&t3, &p1.x, &p1.y)
	f.add(&t4, &p2.x, &p2.y)
	f.mul(&t3, &t3, &t4)
	f.add(&t4, &t0, &t1)
	f.sub(&t3, &t3, &t4) // X1Y2 + X2Y1
	f.mul(&t4, &p2.x, &p1.z)
	f.add(&t4, &t4, &p1.x) // X1 + X2Z1
	f.mul(&t5, &p2.y, &p1.z)
	f.add(&t5, &t5, &p1.y) // Y1 + Y2Z1
	o.addTail(r, &t0, &t1, &t2, &t3, &t4, &t5, &x3, &y3, &z3)
}

// addTail is the part of the RCB addition shared by add and addMixed, from
// t0 = X1X2, t1 = Y1Y2, t2 = Z1Z2, t3 = X1Y2+X2Y1, t4 = X1Z2+X2Z1,
// t5 = Y1Z2+Y2Z1.
func (o *curveOps) addTail(r *projPoint, t0, t1, t2, t3, t4, t5, x3, y3, z3 *fe) {
	f := o.fp
	f.mul(z3, &o.a, t4)
	f.mul(x3, &o.b3, t2)
	f.add(z3, x3, z3)
	f.sub(x3, t1, z3)
	f.add(z3, t1, z3)
	f.mul(y3, x3, z3)
	f.add(t1, t0, t0)
	f.add(t1, t1, t0)
	f.mul(t2, &o.a, t2)
	f.mul(t4, &o.b3, t4)
	f.add(t1, t1, t2)
	f.sub(t2, t0, t2)
	f.mul(t2, &o.a, t2)
	f.add(t4, t4, t2)
	f.mul(t0, t1, t4)
	f.add(y3, y3, t0)
	f.mul(t0, t5, t4)
	f.mul(x3, t3, x3)
	f.sub(x3, x3, t0)
	f.mul(t0, t3, t1)
	f.mul(z3, t5, z3)
	f.add(z3, z3, t0)
	r.x, r.y, r.z = *x3, *y3, *z3
}

func projSelect(r, p1, p2 *projPoint, bit uint64) {
	feSelect(&r.x, &p1.x, &p2.x, bit)
	feSelect(&r.y, &p1.y, &p2.y, bit)
	feSelect(&r.z, &p1.z, &p2.z, bit)
}

// Fixed-base comb: the scalar is recoded into signed digits of w bits,
// k = Σ d_i·2^(w·i) with -2^(w-1) < d_i ≤ 2^(w-1), and
// k·G = Σ d_i·(2^(w·i)·G), so the table holds j·2^(w·i)·G for
// j = 1..2^(w-1) in each window i, and a scalar multiplication is one table
// lookup, one conditional negation and one mixed addition per window, with
// no doublings. Signing reads every entry of a row, so it uses w = 5 (16
// entries); verification indexes the row directly and affords w = 7.
type comb struct {
	bits  uint
	once  sync.Once
	table []affinePoint
}

const (
	signCombBits   = 5
	verifyCombBits = 7
)

func (c *comb) entries() int { return 1 << (c.bits - 1) }

// windows is the number of digits of a size-byte scalar: one more bit than
// the scalar, for the carry of the signed recoding.
func (c *comb) windows(size int) int { return (8*size + int(c.bits)) / int(c.bits) }

// get returns the table of c for the curve, computed on first use.
func (o *curveOps) get(c *comb) []affinePoint {
	c.once.Do(func() {
		f := o.fp
		entries := c.entries()
		c.table = make([]affinePoint, c.windows(o.size)*entries)
		base := projPoint{o.g.x, o.g.y, f.one}
		row := make([]projPoint, entries)
		prod := make([]fe, entries)
		for w := 0; w < c.windows(o.size); w++ {
			row[0] = base
			for j := 1; j < entries; j++ {
				o.add(&row[j], &row[j-1], &base)
			}
			// Batch inversion (Montgomery's trick): one inversion per row.
			prod[0] = row[0].z
			for j := 1; j < entries; j++ {
				f.mul(&prod[j], &prod[j-1], &row[j].z)
			}
			var inv fe
			f.inv(&inv, &prod[entries-1])
			for j := entries - 1; j >= 0; j-- {
				var zinv fe
				if j > 0 {
					f.mul(&zinv, &inv, &prod[j-1])
					f.mul(&inv, &inv, &row[j].z)
				} else {
					zinv = inv
				}
				e := &c.table[w*entries+j]
				f.mul(&e.x, &row[j].x, &zinv)
				f.mul(&e.y, &row[j].y, &zinv)
			}
			for range c.bits {
				o.add(&base, &base, &base)
			}
		}
	})
	return c.table
}

// signedDigit returns digit i of the w-bit signed recoding of plain limbs
// k as its magnitude (0..2^(w-1)) and sign (1 if negative), and the carry
// into digit i+1, given the carry out of digit i-1: no branch depends on k.
func signedDigit(k *fe, w uint, i int, carry uint64) (mag, neg, carryOut uint64) {
	pos := int(w) * i
	word, shift := pos/64, uint(pos%64)
	b := k[word] >> shift
	if shift > 64-w && word+1 < len(k) {
		b |= k[word+1] << (64 - shift)
	}
	b = b&(1<<w-1) + carry             // 0..2^w
	carryOut = (b + 1<<(w-1) - 1) >> w // 1 if b > 2^(w-1)
	d := b - carryOut<<w               // -2^(w-1)+1..2^(w-1), two's complement
	neg = d >> 63                      // 1 if d < 0
	mag = (d ^ -neg) + neg             // |d|
	return mag, neg, carryOut
}

// baseMult sets r = k·G for a secret scalar k (plain limbs, 0 < k < q) in
// constant time: every window reads every table entry and does one
// addition, selecting entries, signs and results with masks.
//
// The first o.signFast windows add in Jacobian coordinates with the
// incomplete mixed formula (7M + 4S against 11M and five multiplications
// by a or 3b for the complete one). There it cannot meet an exceptional
// case, except the accumulator being O, which a mask tracks: after window
// i the accumulator is s = Σ_{j<i} d_j·2^(w·j) = (k mod 2^(w·i)) - c·2^(w·i)
// with the carry c in {0, 1}, so |s| < 2^(w·i), and the entry added is
// d·2^(w·i) with 1 ≤ |d| ≤ 2^(w-1). The integers s and ±d·2^(w·i) then
// differ, and their difference is below (2^(w-1)+1)·2^(w·i) in size; while
// that bound is below q the two points differ too (no doubling, no
// P + (-P)), and s ≡ 0 (mod q) only for s = 0, which happens exactly
// while every digit so far was 0. The remaining top windows, where the
// bound reaches q, use the complete formulas.
func (o *curveOps) baseMult(r *projPoint, k *fe) {
	f := o.fp
	c := &o.signComb
	table := o.get(c)
	entries := c.entries()
	acc := jacPoint{x: f.one, y: f.one} // O: Z = 0
	inf := uint64(1)                    // 1 while acc = O
	var carry uint64
	w := 0
	for ; w < o.signFast; w++ {
		var mag, neg uint64
		mag, neg, carry = signedDigit(k, c.bits, w, carry)
		pt := o.lookup(table[w*entries:(w+1)*entries], mag, neg)
		var sum jacPoint
		o.maddFormula(&sum, &acc, &pt)
		fresh := jacPoint{x: pt.x, y: pt.y, z: f.one}
		jacSelect(&sum, &fresh, &sum, inf)
		skip := isZero64(mag)
		jacSelect(&acc, &acc, &sum, skip)
		inf &= skip
	}
	// To homogeneous projective coordinates, (X·Z : Y : Z³); O, with
	// Z = 0 and Y = 1, becomes (0 : 1 : 0).
	var p projPoint
	f.mul(&p.x, &acc.x, &acc.z)
	p.y = acc.y
	f.sqr(&p.z, &acc.z)
	f.mul(&p.z, &p.z, &acc.z)
	for ; w < c.windows(o.size); w++ {
		var mag, neg uint64
		mag, neg, carry = signedDigit(k, c.bits, w, carry)
		pt := o.lookup(table[w*entries:(w+1)*entries], mag, neg)
		var sum projPoint
		o.addMixed(&sum, &p, &pt)
		projSelect(&p, &p, &sum, isZero64(mag))
	}
	*r = p
}

// lookup returns the entry of a comb row for the signed digit (mag, neg),
// negated if neg = 1, reading every entry; for mag = 0 it returns (0, 0),
// which callers discard.
func (o *curveOps) lookup(row []affinePoint, mag, neg uint64) affinePoint {
	f := o.fp
	// At most one entry matches: OR in every entry under its mask.
	var pt affinePoint
	if f.n == 4 {
		// The same, with the eight words in registers.
		var x0, x1, x2, x3, y0, y1, y2, y3 uint64
		for j := range row {
			mask := -isZero64(uint64(j+1) ^ mag)
			e := &row[j]
			x0 |= e.x[0] & mask
			x1 |= e.x[1] & mask
			x2 |= e.x[2] & mask
			x3 |= e.x[3] & mask
			y0 |= e.y[0] & mask
			y1 |= e.y[1] & mask
			y2 |= e.y[2] & mask
			y3 |= e.y[3] & mask
		}
		pt.x[0], pt.x[1], pt.x[2], pt.x[3] = x0, x1, x2, x3
		pt.y[0], pt.y[1], pt.y[2], pt.y[3] = y0, y1, y2, y3
	} else {
		for j := range row {
			mask := -isZero64(uint64(j+1) ^ mag)
			e := &row[j]
			for i := 0; i < f.n; i++ {
				pt.x[i] |= e.x[i] & mask
				pt.y[i] |= e.y[i] & mask
			}
		}
	}
	var negY fe
	f.neg(&negY, &pt.y)
	feSelect(&pt.y, &negY, &pt.y, neg)
	return pt
}

// fastWindows is the number of leading windows i, among windows of a w-bit
// signed recoding, with (2^(w-1)+1)·2^(w·i) < q: those in which baseMult
// may use the incomplete Jacobian addition.
func fastWindows(q *big.Int, w uint, windows int) int {
	bound := big.NewInt(1<<(w-1) + 1)
	i := 0
	for i < windows && new(big.Int).Lsh(bound, w*uint(i)).Cmp(q) < 0 {
		i++
	}
	return i
}

// maddFormula sets r = p1 + p2 for a Jacobian p1 and an affine p2 by
// madd-2007-bl (7M + 4S), without branches, and returns H = x2·Z1² - X1 and
// R = y2·Z1³ - Y1. The result is right unless p1 = O or H = 0 (p1 = ±p2);
// callers rule those out or test H and R. r may alias p1; r.t and r.inf
// are left alone.
func (o *curveOps) maddFormula(r, p1 *jacPoint, p2 *affinePoint) (h, rr fe) {
	f := o.fp
	var z1z1, u2, s2, hh, i, j, r2, v, x3, y3, z3 fe
	f.sqr(&z1z1, &p1.z)
	f.mul(&u2, &p2.x, &z1z1)
	f.mul(&s2, &p2.y, &p1.z)
	f.mul(&s2, &s2, &z1z1)
	f.sub(&h, &u2, &p1.x)
	f.sub(&rr, &s2, &p1.y)
	f.sqr(&hh, &h)
	f.add(&i, &hh, &hh)
	f.add(&i, &i, &i)
	f.mul(&j, &h, &i)
	f.add(&r2, &rr, &rr)
	f.mul(&v, &p1.x, &i)
	f.sqr(&x3, &r2)
	f.sub(&x3, &x3, &j)
	f.sub(&x3, &x3, &v)
	f.sub(&x3, &x3, &v)
	f.sub(&y3, &v, &x3)
	f.mul(&y3, &y3, &r2)
	f.mul(&j, &j, &p1.y)
	f.add(&j, &j, &j)
	f.sub(&y3, &y3, &j)
	f.add(&z3, &p1.z, &h)
	f.sqr(&z3, &z3)
	f.sub(&z3, &z3, &z1z1)
	f.sub(&z3, &z3, &hh)
	r.x, r.y, r.z = x3, y3, z3
	return h, rr
}

func jacSelect(r, p1, p2 *jacPoint, bit uint64) {
	feSelect(&r.x, &p1.x, &p2.x, bit)
	feSelect(&r.y, &p1.y, &p2.y, bit)
	feSelect(&r.z, &p1.z, &p2.z, bit)
}

// toAffine returns plain (not Montgomery) coordinates of p ≠ O, in
// constant time.
func (o *curveOps) toAffine(p *projPoint) (x, y fe) {
	f := o.fp
	var zinv fe
	f.inv(&zinv, &p.z)
	f.mul(&x, &p.x, &zinv)
	f.mul(&y, &p.y, &zinv)
	f.fromMont(&x, &x)
	f.fromMont(&y, &y)
	return x, y
}
