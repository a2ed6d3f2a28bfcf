package gost

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// toBig converts a Montgomery-form value to a big.Int.
func (f *field) toBig(x *fe) *big.Int {
	var y fe
	f.fromMont(&y, x)
	return feToBig(&y)
}

// putLE writes the low len(out) bytes of plain limbs x little-endian.
func putLE(out []byte, x *fe) {
	for i := range out {
		out[i] = byte(x[i/8] >> (8 * (i % 8)))
	}
}

// distinctFields are the moduli (p and q) of every distinct curve.
func distinctFields() map[string]*field {
	out := map[string]*field{}
	for _, c := range distinctCurves() {
		out[c.Name+"/p"] = c.ops.fp
		out[c.Name+"/q"] = c.ops.fq
	}
	return out
}

func randomBelow(t testing.TB, m *big.Int) *big.Int {
	v, err := rand.Int(rand.Reader, m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFieldDifferential checks the Montgomery arithmetic against math/big
// on random and edge values for every modulus.
func TestFieldDifferential(t *testing.T) {
	for name, f := range distinctFields() {
		m := f.mod
		edges := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(m, big.NewInt(2)), new(big.Int).Rsh(m, 1)}
		vals := append([]*big.Int{}, edges...)
		for range 20 {
			vals = append(vals, randomBelow(t, m))
		}
		for i, a := range vals {
			b := vals[(i*7+3)%len(vals)]
			x, y := f.fromBig(a), f.fromBig(b)
			var z fe
			check := func(op string, got *fe, want *big.Int) {
				t.Helper()
				want = new(big.Int).Mod(want, m)
				if g := f.toBig(got); g.Cmp(want) != 0 {
					t.Fatalf("%s: %s(%x, %x) = %x, want %x", name, op, a, b, g, want)
				}
				for j := f.n; j < maxLimbs; j++ {
					if got[j] != 0 {
						t.Fatalf("%s: %s left high limb %d set", name, op, j)
					}
				}
			}
			f.mul(&z, &x, &y)
			check("mul", &z, new(big.Int).Mul(a, b))
			f.sqr(&z, &x)
			check("sqr", &z, new(big.Int).Mul(a, a))
			f.add(&z, &x, &y)
			check("add", &z, new(big.Int).Add(a, b))
			f.sub(&z, &x, &y)
			check("sub", &z, new(big.Int).Sub(a, b))
			f.neg(&z, &x)
			check("neg", &z, new(big.Int).Neg(a))
			f.half(&z, &x)
			check("half", &z, new(big.Int).Mul(a, new(big.Int).Rsh(new(big.Int).Add(m, big.NewInt(1)), 1)))
			f.inv(&z, &x)
			if a.Sign() == 0 {
				check("inv", &z, big.NewInt(0))
			} else {
				check("inv", &z, new(big.Int).ModInverse(a, m))
			}
			if eq := f.equal(&x, &y); (eq == 1) != (a.Cmp(b) == 0) {
				t.Fatalf("%s: equal(%x, %x) = %d", name, a, b, eq)
			}
			if iz := f.isZero(&x); (iz == 1) != (a.Sign() == 0) {
				t.Fatalf("%s: isZero(%x) = %d", name, a, iz)
			}
		}
		// toMont reduces any value below R, as sign needs for x and e.
		r := new(big.Int).Lsh(big.NewInt(1), uint(64*f.n))
		for _, v := range []*big.Int{new(big.Int).Sub(r, big.NewInt(1)), m, randomBelow(t, r)} {
			x := feFromBig(v)
			var z fe
			f.toMont(&z, &x)
			if g := f.toBig(&z); g.Cmp(new(big.Int).Mod(v, m)) != 0 {
				t.Fatalf("%s: toMont(%x) = %x", name, v, g)
			}
		}
	}
}

// TestPseudoMersenne checks which moduli take the plain multiplication
// with folding, and that multiplication on the edges of its reduction:
// products whose second fold wraps past 2^256 (constructed, as random
// ones never do), results at or above m before the final subtraction,
// and x up to 2^256 - 1.
func TestPseudoMersenne(t *testing.T) {
	want := map[string]uint64{
		CurveTC26256A.Name + "/p": 617,
		CurveTC26256B.Name + "/p": 617, // = CryptoPro-A
	}
	for name, f := range distinctFields() {
		if f.c != want[name] {
			t.Errorf("%s: c = %d, want %d", name, f.c, want[name])
		}
	}
	f := CurveTC26256A.ops.fp
	m := f.mod
	r := new(big.Int).Lsh(big.NewInt(1), 256)
	c := new(big.Int).SetUint64(f.c)
	rMinus1 := new(big.Int).Sub(r, big.NewInt(1))
	// wraps reports whether x·y takes the extra c of the second fold.
	wraps := func(x, y *big.Int) bool {
		p := new(big.Int).Mul(x, y)
		s := new(big.Int).Mul(new(big.Int).Rsh(p, 256), c)
		s.Add(s, new(big.Int).Mod(p, r))
		top := new(big.Int).Rsh(s, 256)
		low := new(big.Int).Mod(s, r)
		return low.Add(low, top.Mul(top, c)).Cmp(r) >= 0
	}
	type pair struct{ x, y *big.Int }
	pairs := []pair{
		{rMinus1, big.NewInt(1)}, {m, big.NewInt(1)}, {rMinus1, new(big.Int).Sub(m, big.NewInt(1))},
		{new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(m, big.NewInt(1))},
		{rMinus1, c}, {randomBelow(t, r), randomBelow(t, m)},
	}
	// With x = 2^256 - 1, L + c·H = 2^256 + (c-1)·y - c; the smallest y
	// with (c-1)·y ≥ (k+1)·(2^256 - c) + c makes the second fold wrap.
	nWraps := 0
	for k := int64(0); k < 4; k++ {
		y := new(big.Int).Mul(big.NewInt(k+1), new(big.Int).Sub(r, c))
		y.Add(y, c).Add(y, new(big.Int).Sub(c, big.NewInt(2)))
		y.Div(y, new(big.Int).Sub(c, big.NewInt(1)))
		if wraps(rMinus1, y) {
			nWraps++
		}
		pairs = append(pairs, pair{rMinus1, y}, pair{rMinus1, new(big.Int).Sub(y, big.NewInt(1))})
	}
	if nWraps == 0 {
		t.Fatal("no product takes the second fold's wrap")
	}
	for _, p := range pairs {
		x, y := feFromBig(p.x), feFromBig(p.y)
		var got, gen fe
		f.mul(&got, &x, &y)
		f.mulGeneric(&gen, &x, &y)
		want := new(big.Int).Mul(p.x, p.y)
		want.Mod(want, m)
		if feToBig(&got).Cmp(want) != 0 || feToBig(&gen).Cmp(want) != 0 {
			t.Fatalf("%x·%x = %x (generic %x), want %x", p.x, p.y, feToBig(&got), feToBig(&gen), want)
		}
		if p.x.Cmp(m) < 0 {
			f.sqr(&got, &x)
			if want := new(big.Int).Exp(p.x, big.NewInt(2), m); feToBig(&got).Cmp(want) != 0 {
				t.Fatalf("%x² = %x, want %x", p.x, feToBig(&got), want)
			}
		}
	}
}

// TestInvChain runs the exponentiation chain on exponents of every shape
// (a lone bit, long leading runs of ones, runs in the middle, random) and
// compares it with math/big.
func TestInvChain(t *testing.T) {
	f0 := CurveTC26256A.ops.fp
	m := f0.mod
	ones := func(n uint) *big.Int { return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), n), big.NewInt(1)) }
	exps := []*big.Int{
		big.NewInt(1), big.NewInt(2), big.NewInt(3), big.NewInt(5), big.NewInt(0x2f),
		ones(1), ones(2), ones(7), ones(64), ones(246), ones(256),
		new(big.Int).Lsh(ones(100), 50), new(big.Int).Add(new(big.Int).Lsh(ones(200), 56), big.NewInt(0x5a5a5)),
		new(big.Int).Lsh(big.NewInt(1), 255), new(big.Int).Sub(m, big.NewInt(2)),
		randomBelow(t, m), randomBelow(t, m),
	}
	for _, e := range exps {
		f := *f0
		f.chain = newInvChain(e)
		for _, v := range []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(m, big.NewInt(1)), randomBelow(t, m)} {
			x := f.fromBig(v)
			var z fe
			f.inv(&z, &x)
			if got, want := f.toBig(&z), new(big.Int).Exp(v, e, m); got.Cmp(want) != 0 {
				t.Fatalf("%x^%x = %x, want %x", v, e, got, want)
			}
		}
	}
}

func TestLittleEndianLimbs(t *testing.T) {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(i + 1)
	}
	x := feFromLE(b)
	if x[0] != 0x0807060504030201 || x[7] != 0x403f3e3d3c3b3a39 {
		t.Fatalf("feFromLE = %x", x)
	}
	out := make([]byte, 64)
	putLE(out, &x)
	be := make([]byte, 64)
	putBE(be, &x)
	for i := range b {
		if out[i] != b[i] || be[63-i] != b[i] {
			t.Fatalf("byte %d: putLE %x putBE %x", i, out[i], be[63-i])
		}
	}
}

func BenchmarkFieldMul(b *testing.B) {
	for _, c := range []*Curve{CurveTC26256A, CurveTC26512A} {
		b.Run(c.Name, func(b *testing.B) {
			f := c.ops.fp
			x, y := c.ops.g.x, c.ops.g.y
			for b.Loop() {
				f.mul(&x, &x, &y)
			}
		})
	}
}

func BenchmarkFieldInv(b *testing.B) {
	for _, c := range []*Curve{CurveTC26256A, CurveTC26512A} {
		b.Run(c.Name, func(b *testing.B) {
			f := c.ops.fp
			x := c.ops.g.y
			for b.Loop() {
				f.inv(&x, &x)
			}
		})
	}
}

// TestMulMatchesGeneric pins the assembly (where it runs) to the portable
// code on random operands, including x ≥ m, which toMont relies on.
func TestMulMatchesGeneric(t *testing.T) {
	for name, f := range distinctFields() {
		r := new(big.Int).Lsh(big.NewInt(1), uint(64*f.n))
		for range 200 {
			x := feFromBig(randomBelow(t, r))
			y := feFromBig(randomBelow(t, f.mod))
			var got, want fe
			f.mul(&got, &x, &y)
			f.mulGeneric(&want, &x, &y)
			if got != want {
				t.Fatalf("%s: mul(%x, %x) = %x, generic %x", name, x, y, got, want)
			}
			x = feFromBig(randomBelow(t, f.mod))
			f.sqr(&got, &x)
			f.mulGeneric(&want, &x, &x)
			if got != want {
				t.Fatalf("%s: sqr(%x) = %x, generic %x", name, x, got, want)
			}
			f.add(&got, &x, &y)
			f.addGeneric(&want, &x, &y)
			if got != want {
				t.Fatalf("%s: add(%x, %x) = %x, generic %x", name, x, y, got, want)
			}
			f.sub(&got, &x, &y)
			f.subGeneric(&want, &x, &y)
			if got != want {
				t.Fatalf("%s: sub(%x, %x) = %x, generic %x", name, x, y, got, want)
			}
		}
	}
}
