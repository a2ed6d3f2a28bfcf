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
		negG := g
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

// TestFastWindowsNoException checks the argument of baseMult on small
// moduli, exhaustively: in the windows fastWindows allows, the accumulator
// is O exactly while every digit so far was 0, and never ±(the entry
// added) modulo q. Where the first window it refuses does have an
// exception for some k, the test must see it: so the check can fail.
func TestFastWindowsNoException(t *testing.T) {
	for _, tc := range []struct {
		q             int64
		bits          uint
		wantException bool // in window fastWindows
	}{{65521, 5, false}, {32771, 5, true}, {40009, 5, true}, {16411, 4, true}, {4099, 5, true}, {65521, 6, false}} {
		q := big.NewInt(tc.q)
		windows := (q.BitLen() + int(tc.bits)) / int(tc.bits)
		fast := fastWindows(q, tc.bits, windows)
		if fast < windows-2 {
			t.Errorf("q = %d, w = %d: only %d of %d windows fast", tc.q, tc.bits, fast, windows)
		}
		excepted := false // an exception in window fast
		for k := int64(1); k < tc.q; k++ {
			kk := fe{uint64(k)}
			var carry uint64
			s, allZero := int64(0), true
			for w := 0; w <= fast && w < windows; w++ {
				var mag, neg uint64
				mag, neg, carry = signedDigit(&kk, tc.bits, w, carry)
				d := int64(mag)
				if neg == 1 {
					d = -d
				}
				e := d << (tc.bits * uint(w)) % tc.q
				sq := (s%tc.q + tc.q) % tc.q
				bad := d != 0 && (sq == (e+tc.q)%tc.q || sq == (tc.q-e)%tc.q)
				if w == fast {
					excepted = excepted || bad
					break
				}
				if (sq == 0) != allZero || bad {
					t.Fatalf("q = %d, w = %d, k = %d, window %d: s = %d, digit %d", tc.q, tc.bits, k, w, s, d)
				}
				s += d << (tc.bits * uint(w))
				allZero = allZero && d == 0
			}
		}
		if excepted != tc.wantException {
			t.Errorf("q = %d, w = %d: exception in window %d: %v, want %v", tc.q, tc.bits, fast, excepted, tc.wantException)
		}
	}
}

// TestBaseMultEdges runs baseMult on scalars whose digits stress the
// switch between the Jacobian and the complete windows: long runs of zero
// digits (the accumulator stays O), every digit 16 or -15 (carries), and
// values just around 2^(w·i) at the switch.
func TestBaseMultEdges(t *testing.T) {
	for _, c := range distinctCurves() {
		o := c.ops
		w := o.signComb.bits
		if o.signFast < o.signComb.windows(c.size)-2 {
			t.Errorf("%s: only %d fast windows", c.Name, o.signFast)
		}
		var ks []*big.Int
		pattern := func(digit int64) *big.Int {
			v := new(big.Int)
			for range o.signComb.windows(c.size) {
				v.Lsh(v, w).Add(v, big.NewInt(digit))
			}
			return v
		}
		ks = append(ks, pattern(16), pattern(17), pattern(1), pattern(31))
		for _, i := range []int{1, o.signFast - 1, o.signFast, o.signFast + 1} {
			p := new(big.Int).Lsh(big.NewInt(1), w*uint(i))
			ks = append(ks, p, new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Add(p, big.NewInt(1)),
				new(big.Int).Mul(p, big.NewInt(17)), new(big.Int).Sub(c.Q, p), new(big.Int).Sub(c.Q, new(big.Int).Mul(p, big.NewInt(16))))
		}
		g := refPoint{c.X, c.Y}
		for _, k := range ks {
			k.Mod(k, c.Q)
			if k.Sign() == 0 {
				continue
			}
			x, y := o.publicFromPrivate(leBytes(k, c.size))
			want := refMul(c, k, g)
			if x.Cmp(want.x) != 0 || y.Cmp(want.y) != 0 {
				t.Fatalf("%s: %x·G = (%x, %x), want (%x, %x)", c.Name, k, x, y, want.x, want.y)
			}
		}
	}
}

// TestMaddFormula compares the incomplete mixed addition with the
// reference on random points, with p1 scaled by a random Z, and checks
// that it reports H = 0 for p1 = ±p2.
func TestMaddFormula(t *testing.T) {
	for _, c := range distinctCurves() {
		o := c.ops
		f := o.fp
		g := refPoint{c.X, c.Y}
		for range 5 {
			k1, k2 := randomBelow(t, c.Q), randomBelow(t, c.Q)
			p1, p2 := refMul(c, k1, g), refMul(c, k2, g)
			if p1.isInf() || p2.isInf() {
				continue
			}
			z := f.fromBig(new(big.Int).Add(randomBelow(t, new(big.Int).Sub(c.P, big.NewInt(1))), big.NewInt(1)))
			var zz, zzz fe
			f.sqr(&zz, &z)
			f.mul(&zzz, &zz, &z)
			j := jacPoint{z: z}
			x1, y1 := f.fromBig(p1.x), f.fromBig(p1.y)
			f.mul(&j.x, &x1, &zz)
			f.mul(&j.y, &y1, &zzz)
			a2 := affinePoint{f.fromBig(p2.x), f.fromBig(p2.y)}
			var r jacPoint
			o.maddFormula(&r, &j, &a2)
			var zi, zi2, x, y fe
			f.inv(&zi, &r.z)
			f.sqr(&zi2, &zi)
			f.mul(&x, &r.x, &zi2)
			f.mul(&zi2, &zi2, &zi)
			f.mul(&y, &r.y, &zi2)
			if got, want := (refPoint{f.toBig(&x), f.toBig(&y)}), refAdd(c, p1, p2); !refEqual(got, want) {
				t.Fatalf("%s: %v + %v = %v, want %v", c.Name, p1, p2, got, want)
			}
			a1 := affinePoint{x1, y1}
			h, rr := o.maddFormula(&r, &j, &a1)
			if f.isZero(&h) != 1 || f.isZero(&rr) != 1 {
				t.Fatalf("%s: P + P: H = %x, R = %x", c.Name, h, rr)
			}
			f.neg(&a1.y, &a1.y)
			h, rr = o.maddFormula(&r, &j, &a1)
			if f.isZero(&h) != 1 || f.isZero(&rr) == 1 {
				t.Fatalf("%s: P + (-P): H = %x, R = %x", c.Name, h, rr)
			}
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
