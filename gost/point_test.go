package gost

import (
	"math/big"
	"testing"
)

// testScalars are edge and random scalars in [1, q).
func testScalars(t *testing.T, c *Curve) []*big.Int {
	q := c.Q
	ks := []*big.Int{
		big.NewInt(1), big.NewInt(2), big.NewInt(15), big.NewInt(16), big.NewInt(17),
		new(big.Int).Sub(q, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(2)),
		new(big.Int).Lsh(big.NewInt(1), uint(q.BitLen()-1)), // one digit set, the rest zero
	}
	for range 4 {
		ks = append(ks, new(big.Int).Add(randomBelow(t, new(big.Int).Sub(q, big.NewInt(1))), big.NewInt(1)))
	}
	return ks
}

// distinctCurves lists one parameter set per curve: aliases share their
// arithmetic, so testing one of them tests all.
func distinctCurves() []*Curve {
	var out []*Curve
	seen := map[*curveOps]bool{}
	for _, c := range allCurves {
		if !seen[c.ops] {
			seen[c.ops] = true
			out = append(out, c)
		}
	}
	return out
}

func leBytes(v *big.Int, size int) []byte {
	out := make([]byte, size)
	leFill(out, v)
	return out
}

// TestBaseMultDifferential compares the constant-time comb with the
// math/big reference on every curve.
func TestBaseMultDifferential(t *testing.T) {
	for _, c := range distinctCurves() {
		g := refPoint{c.X, c.Y}
		for _, k := range testScalars(t, c) {
			x, y := c.ops.publicFromPrivate(leBytes(k, c.size))
			want := refMul(c, k, g)
			if x.Cmp(want.x) != 0 || y.Cmp(want.y) != 0 {
				t.Fatalf("%s: %x·G = (%x, %x), want (%x, %x)", c.Name, k, x, y, want.x, want.y)
			}
		}
	}
}

// TestCompleteAddition checks the RCB formulas on the cases that break
// incomplete ones: doubling, P + (-P), and the point at infinity.
func TestCompleteAddition(t *testing.T) {
	for _, c := range distinctCurves() {
		o := c.ops
		f := o.fp
		g := projPoint{o.g.x, o.g.y, f.one}
		var negG projPoint
		negG = g
		f.neg(&negG.y, &negG.y)
		inf := projPoint{y: f.one}
		affine := func(p *projPoint) refPoint {
			if f.isZero(&p.z) == 1 {
				return refPoint{}
			}
			x, y := o.toAffine(p)
			return refPoint{feToBig(&x), feToBig(&y)}
		}
		ref := func(k int64) refPoint { return refMul(c, big.NewInt(k), refPoint{c.X, c.Y}) }
		var r projPoint
		for _, tc := range []struct {
			name   string
			p1, p2 *projPoint
			want   refPoint
		}{
			{"G+G", &g, &g, ref(2)},
			{"G+(-G)", &g, &negG, refPoint{}},
			{"O+G", &inf, &g, ref(1)},
			{"G+O", &g, &inf, ref(1)},
			{"O+O", &inf, &inf, refPoint{}},
		} {
			o.add(&r, tc.p1, tc.p2)
			if got := affine(&r); !refEqual(got, tc.want) {
				t.Errorf("%s: %s = %v, want %v", c.Name, tc.name, got, tc.want)
			}
		}
		o.addMixed(&r, &g, &o.g)
		if got := affine(&r); !refEqual(got, ref(2)) {
			t.Errorf("%s: mixed G+G = %v", c.Name, got)
		}
		o.addMixed(&r, &inf, &o.g)
		if got := affine(&r); !refEqual(got, ref(1)) {
			t.Errorf("%s: mixed O+G = %v", c.Name, got)
		}
		o.addMixed(&r, &negG, &o.g)
		if got := affine(&r); !got.isInf() {
			t.Errorf("%s: mixed -G+G = %v", c.Name, got)
		}
	}
}

func refEqual(a, b refPoint) bool {
	if a.isInf() || b.isInf() {
		return a.isInf() && b.isInf()
	}
	return a.x.Cmp(b.x) == 0 && a.y.Cmp(b.y) == 0
}

// TestMulAddDifferential compares the variable-time double multiplication
// of verification with the reference, including results at infinity and
// a final addition that is a doubling.
func TestMulAddDifferential(t *testing.T) {
	for _, c := range distinctCurves() {
		o := c.ops
		f := o.fp
		g := refPoint{c.X, c.Y}
		d := randomBelow(t, c.Q)
		d.Add(d, big.NewInt(1)).Mod(d, c.Q)
		if d.Sign() == 0 {
			d.SetInt64(7)
		}
		q := refMul(c, d, g)
		z2 := randomBelow(t, c.Q)
		cases := [][2]*big.Int{
			{randomBelow(t, c.Q), randomBelow(t, c.Q)},
			{big.NewInt(0), z2},
			{z2, big.NewInt(0)},
			{new(big.Int).Mod(new(big.Int).Mul(z2, d), c.Q), z2},                         // z1·G = z2·Q: doubling
			{new(big.Int).Mod(new(big.Int).Neg(new(big.Int).Mul(z2, d)), c.Q), z2},       // sum is O
			{new(big.Int).Sub(c.Q, big.NewInt(1)), new(big.Int).Sub(c.Q, big.NewInt(1))}, // all-high digits
			{big.NewInt(1), big.NewInt(1)},
		}
		for _, zz := range cases {
			got := o.mulAdd(zz[0], zz[1], q.x, q.y)
			want := refAdd(c, refMul(c, zz[0], g), refMul(c, zz[1], q))
			var gp refPoint
			if !got.inf {
				var zi, zi2, x, y fe
				f.inv(&zi, &got.z)
				f.sqr(&zi2, &zi)
				f.mul(&x, &got.x, &zi2)
				f.mul(&zi2, &zi2, &zi)
				f.mul(&y, &got.y, &zi2)
				gp = refPoint{f.toBig(&x), f.toBig(&y)}
			}
			if !refEqual(gp, want) {
				t.Fatalf("%s: %x·G + %x·Q = %v, want %v", c.Name, zz[0], zz[1], gp, want)
			}
		}
	}
}

func TestWNAF(t *testing.T) {
	// The largest k whose recoding does not carry out of 512 bits, above
	// every q.
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 512), big.NewInt(17))
	for _, k := range []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(31), big.NewInt(0x1f0), new(big.Int).Lsh(big.NewInt(1), 300), new(big.Int).Lsh(big.NewInt(1), 511), max, randomBelow(t, max)} {
		naf := wnaf(feFromBig(k), verifyWindow)
		sum := new(big.Int)
		for i := len(naf) - 1; i >= 0; i-- {
			sum.Lsh(sum, 1).Add(sum, big.NewInt(int64(naf[i])))
			if d := naf[i]; d != 0 && (d%2 == 0 || d >= 16 || d <= -16) {
				t.Fatalf("bad digit %d", d)
			}
		}
		if sum.Cmp(k) != 0 {
			t.Fatalf("wNAF of %x sums to %x", k, sum)
		}
	}
}

// TestSignedDigits checks that the combs' recoding sums back to k with
// digits in range and no carry left over.
func TestSignedDigits(t *testing.T) {
	for _, tc := range []struct {
		c    *Curve
		comb *comb
	}{
		{CurveTC26256A, &CurveTC26256A.ops.signComb}, {CurveTC26256A, &CurveTC26256A.ops.verifyComb},
		{CurveTC26512A, &CurveTC26512A.ops.signComb}, {CurveTest512, &CurveTest512.ops.verifyComb},
	} {
		c, cb := tc.c, tc.comb
		max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(8*c.size)), big.NewInt(1))
		for _, k := range append(testScalars(t, c), max, big.NewInt(0x10), big.NewInt(0x11), big.NewInt(0x1f)) {
			kk := feFromBig(k)
			sum := new(big.Int)
			var carry uint64
			digits := make([]int64, cb.windows(c.size))
			for w := range digits {
				var mag, neg uint64
				mag, neg, carry = signedDigit(&kk, cb.bits, w, carry)
				if mag > uint64(cb.entries()) || neg > 1 {
					t.Fatalf("digit %d of %x: magnitude %d sign %d", w, k, mag, neg)
				}
				digits[w] = int64(mag)
				if neg == 1 {
					digits[w] = -digits[w]
				}
			}
			for w := len(digits) - 1; w >= 0; w-- {
				sum.Lsh(sum, cb.bits).Add(sum, big.NewInt(digits[w]))
			}
			if carry != 0 || sum.Cmp(k) != 0 {
				t.Fatalf("%s: digits of %x sum to %x (carry %d)", c.Name, k, sum, carry)
			}
		}
	}
}
