package gost

import (
	"math/big"
	"math/bits"
)

// maxLimbs is the number of 64-bit limbs of the largest modulus (512 bits).
const maxLimbs = 8

// fe is an element of GF(m) for one of the moduli (p or q of a curve),
// little-endian limbs, of which only the field's n low limbs are used (4
// for 256-bit curves, 8 for 512-bit). Unless said otherwise an fe is in
// the field's Montgomery form x·R mod m: R = 2^(64n) in general, and R = 1
// for the 256-bit pseudo-Mersenne primes m = 2^256 - c, which multiply
// plainly (the full product, then 2^256 ≡ c folds the high half into the
// low one), cheaper than a Montgomery reduction.
type fe [maxLimbs]uint64

// field is Montgomery arithmetic modulo an odd m < 2^(64n). Every
// operation runs in time independent of the values of its operands: no
// branches or memory indices depend on them, only on n and c, which are
// public.
type field struct {
	n     int
	m     fe
	c     uint64   // m = 2^256 - c (n = 4, 0 < c < 2^31) with R = 1, or 0
	m0inv uint64   // -m⁻¹ mod 2^64
	r2    fe       // R² mod m, to enter Montgomery form
	one   fe       // R mod m, 1 in Montgomery form
	chain invChain // x^(m-2), the inverse (public exponent)
	mod   *big.Int
}

func newField(m *big.Int, n int) *field {
	f := &field{n: n, mod: m}
	f.m = feFromBig(m)
	inv := uint64(1)
	for range 6 { // Newton: each step doubles the correct low bits
		inv *= 2 - f.m[0]*inv
	}
	f.m0inv = -inv
	r := new(big.Int).Lsh(big.NewInt(1), uint(64*n))
	if c := new(big.Int).Sub(r, m); n == 4 && c.BitLen() <= 31 {
		f.c = c.Uint64()
		r = big.NewInt(1)
	}
	f.one = feFromBig(new(big.Int).Mod(r, m))
	f.r2 = feFromBig(new(big.Int).Mod(new(big.Int).Mul(r, r), m))
	f.chain = newInvChain(new(big.Int).Sub(m, big.NewInt(2)))
	return f
}

// feFromBig converts public data (a non-negative value below 2^512) to
// plain limbs.
func feFromBig(v *big.Int) fe {
	var z fe
	b := v.FillBytes(make([]byte, 8*maxLimbs))
	for i := range z {
		for j := 0; j < 8; j++ {
			z[i] |= uint64(b[len(b)-1-8*i-j]) << (8 * j)
		}
	}
	return z
}

// feToBig converts plain limbs of public data to a big.Int.
func feToBig(x *fe) *big.Int {
	b := make([]byte, 8*maxLimbs)
	for i := range x {
		for j := 0; j < 8; j++ {
			b[len(b)-1-8*i-j] = byte(x[i] >> (8 * j))
		}
	}
	return new(big.Int).SetBytes(b)
}

// feFromLE reads len(b) ≤ 64 little-endian bytes into plain limbs.
func feFromLE(b []byte) fe {
	var z fe
	for i, v := range b {
		z[i/8] |= uint64(v) << (8 * (i % 8))
	}
	return z
}

// mulGeneric sets z = x·y·R⁻¹ mod m (CIOS Montgomery multiplication, or
// mulPseudoMersenne) in portable Go. x may be any value below 2^(64n) (not
// only below m) and y below m; the result is below m. z may alias x or y.
func (f *field) mulGeneric(z, x, y *fe) {
	if f.c != 0 {
		f.mulPseudoMersenne(z, x, y)
		return
	}
	n := f.n
	m := f.m[:n]
	xs, ys := x[:n], y[:n]
	var t [maxLimbs + 2]uint64
	for _, xi := range xs {
		var c, cc uint64
		for j, yj := range ys {
			hi, lo := bits.Mul64(xi, yj)
			lo, cc = bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j], c = lo, hi
		}
		t[n], cc = bits.Add64(t[n], c, 0)
		t[n+1] = cc

		k := t[0] * f.m0inv
		hi, lo := bits.Mul64(k, m[0])
		_, cc = bits.Add64(lo, t[0], 0)
		c = hi + cc
		for j := 1; j < len(m); j++ {
			hi, lo = bits.Mul64(k, m[j])
			lo, cc = bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j-1], c = lo, hi
		}
		t[n-1], cc = bits.Add64(t[n], c, 0)
		t[n] = t[n+1] + cc
	}
	f.reduceOnce(z, t[:n+1])
}

// mulPseudoMersenne sets z = x·y mod m for m = 2^(64n) - c and any x, y
// below 2^(64n): with the product H·2^(64n) + L, L + c·H is below
// (c+1)·2^(64n); its top limb t folds in again as t·c, and if that wraps
// past 2^(64n), the wrapped value is small and takes one more c. A
// conditional subtraction of m ends it.
func (f *field) mulPseudoMersenne(z, x, y *fe) {
	n := f.n
	var t [2 * maxLimbs]uint64
	for i := 0; i < n; i++ {
		var c uint64
		for j := 0; j < n; j++ {
			hi, lo := bits.Mul64(x[i], y[j])
			var cc uint64
			lo, cc = bits.Add64(lo, t[i+j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[i+j], c = lo, hi
		}
		t[i+n] = c
	}
	var u [maxLimbs + 1]uint64
	var top uint64
	for j := 0; j < n; j++ {
		hi, lo := bits.Mul64(t[n+j], f.c)
		var cc uint64
		lo, cc = bits.Add64(lo, t[j], 0)
		hi += cc
		lo, cc = bits.Add64(lo, top, 0)
		hi += cc
		u[j], top = lo, hi
	}
	carry := top * f.c // top ≤ c < 2^31
	for j := 0; j < n; j++ {
		u[j], carry = bits.Add64(u[j], carry, 0)
	}
	carry *= f.c
	for j := 0; j < n; j++ {
		u[j], carry = bits.Add64(u[j], carry, 0)
	}
	f.reduceOnce(z, u[:n+1])
}

// reduceOnce sets z = t - m if t ≥ m, else t, for t < 2m given as n+1 limbs.
func (f *field) reduceOnce(z *fe, t []uint64) {
	n := f.n
	var u fe
	var b uint64
	for j := 0; j < n; j++ {
		u[j], b = bits.Sub64(t[j], f.m[j], b)
	}
	_, b = bits.Sub64(t[n], 0, b)
	keep := -b // all ones when t < m
	for j := 0; j < n; j++ {
		z[j] = t[j]&keep | u[j]&^keep
	}
}

// addGeneric sets z = x + y mod m in portable Go.
func (f *field) addGeneric(z, x, y *fe) {
	n := f.n
	var t [maxLimbs + 1]uint64
	var c uint64
	for j := 0; j < n; j++ {
		t[j], c = bits.Add64(x[j], y[j], c)
	}
	t[n] = c
	f.reduceOnce(z, t[:n+1])
}

// subGeneric sets z = x - y mod m in portable Go.
func (f *field) subGeneric(z, x, y *fe) {
	n := f.n
	var b, c uint64
	var t fe
	for j := 0; j < n; j++ {
		t[j], b = bits.Sub64(x[j], y[j], b)
	}
	mask := -b
	for j := 0; j < n; j++ {
		z[j], c = bits.Add64(t[j], f.m[j]&mask, c)
	}
}

// half sets z = x/2 mod m for x < m: x + m if x is odd (with a mask),
// then shifted right by one bit, the carry included.
func (f *field) half(z, x *fe) {
	n := f.n
	mask := -(x[0] & 1)
	var t fe
	var c uint64
	for j := 0; j < n; j++ {
		t[j], c = bits.Add64(x[j], f.m[j]&mask, c)
	}
	for j := 0; j < n-1; j++ {
		z[j] = t[j]>>1 | t[j+1]<<63
	}
	z[n-1] = t[n-1]>>1 | c<<63
}

// neg sets z = -x mod m.
func (f *field) neg(z, x *fe) {
	var zero fe
	f.sub(z, &zero, x)
}

// toMont sets z = x·R mod m for plain limbs x < 2^(64n).
func (f *field) toMont(z, x *fe) { f.mul(z, x, &f.r2) }

// fromMont sets z to the plain (fully reduced) value of x.
func (f *field) fromMont(z, x *fe) {
	one := fe{1}
	f.mul(z, x, &one)
}

// invChain is a fixed sequence of squarings and multiplications that
// raises to a public exponent e, built once per modulus: x^(2^L - 1) for
// the leading run of L ones by doubling runs (L - 1 squarings and about
// 2·log2(L) multiplications; for the pseudo-Mersenne moduli that run is
// nearly all of e), then the remaining bits by a sliding window over odd
// powers of x, of the width that needs the fewest multiplications.
type invChain struct {
	run   uint      // L, at least 1
	odd   int       // odd powers x, x³, …, x^(2·odd-1) to precompute
	steps []invStep // after the run, in order
}

// invStep squares the accumulator sqrs times, then multiplies it by the
// odd power x^(2·mul+1) unless mul < 0.
type invStep struct {
	sqrs int
	mul  int
}

func newInvChain(e *big.Int) invChain {
	n := e.BitLen()
	bit := func(i int) uint { return e.Bit(n - 1 - i) } // i-th from the top
	var run uint
	for int(run) < n && bit(int(run)) == 1 {
		run++
	}
	best := invChain{}
	bestCost := -1
	for width := 1; width <= 6; width++ {
		c := invChain{run: run, odd: 1 << (width - 1)}
		cost := c.odd - 1 // table multiplications
		for i := int(run); i < n; {
			if bit(i) == 0 {
				c.steps = append(c.steps, invStep{sqrs: 1, mul: -1})
				i++
				continue
			}
			j := min(i+width, n)
			for bit(j-1) == 0 {
				j--
			}
			v := 0
			for t := i; t < j; t++ {
				v = v<<1 | int(bit(t))
			}
			c.steps = append(c.steps, invStep{sqrs: j - i, mul: v >> 1})
			cost++
			i = j
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// inv sets z = x⁻¹ (0 for x = 0) for x < m by Fermat, x^(m-2), along
// f's fixed chain: the exponent is public, so the sequence of operations
// is the same for every x.
func (f *field) inv(z, x *fe) { f.pow(z, x, &f.chain) }

// pow sets z = x^e for x < m along the chain built for the public
// exponent e (newInvChain(e)).
func (f *field) pow(z, x *fe, ch *invChain) {
	t := *x // x^(2^l - 1)
	l := uint(1)
	for i := bits.Len(ch.run) - 2; i >= 0; i-- {
		u := t
		for range l {
			f.sqr(&u, &u)
		}
		f.mul(&t, &u, &t)
		l *= 2
		if ch.run>>uint(i)&1 == 1 {
			f.sqr(&t, &t)
			f.mul(&t, &t, x)
			l++
		}
	}
	var odd [32]fe
	odd[0] = *x
	if ch.odd > 1 {
		var x2 fe
		f.sqr(&x2, x)
		for i := 1; i < ch.odd; i++ {
			f.mul(&odd[i], &odd[i-1], &x2)
		}
	}
	for _, s := range ch.steps {
		for range s.sqrs {
			f.sqr(&t, &t)
		}
		if s.mul >= 0 {
			f.mul(&t, &t, &odd[s.mul])
		}
	}
	*z = t
}

// equal returns 1 if x = y (both reduced), else 0, in constant time.
func (f *field) equal(x, y *fe) uint64 {
	var d uint64
	for j := 0; j < f.n; j++ {
		d |= x[j] ^ y[j]
	}
	return isZero64(d)
}

// isZero returns 1 if x = 0 (reduced), else 0, in constant time.
func (f *field) isZero(x *fe) uint64 {
	var d uint64
	for j := 0; j < f.n; j++ {
		d |= x[j]
	}
	return isZero64(d)
}

// isZero64 returns 1 if v = 0, else 0, without branching.
func isZero64(v uint64) uint64 { return 1 ^ (v|-v)>>63 }

// feSelect sets z = x if bit = 1, z = y if bit = 0, in constant time.
func feSelect(z, x, y *fe, bit uint64) {
	mask := -bit
	for j := range z {
		z[j] = x[j]&mask | y[j]&^mask
	}
}
