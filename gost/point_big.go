package gost

import (
	"errors"
	"fmt"
	"io"
	"math/big"
)

// curveOps is the arithmetic of one curve. This first version runs on
// math/big and is NOT constant time; it is replaced by fixed-size limb
// arithmetic.
type curveOps struct {
	size             int
	p, a, b, q, x, y *big.Int
}

func newCurveOps(c *Curve) *curveOps {
	return &curveOps{size: c.size, p: c.P, a: c.A, b: c.B, q: c.Q, x: c.X, y: c.Y}
}

// onCurve reports whether (x, y) are reduced coordinates of a point on the curve.
func (o *curveOps) onCurve(x, y *big.Int) bool {
	if x.Sign() < 0 || x.Cmp(o.p) >= 0 || y.Sign() < 0 || y.Cmp(o.p) >= 0 {
		return false
	}
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, o.p)
	rhs := new(big.Int).Mul(x, x)
	rhs.Add(rhs, o.a)
	rhs.Mul(rhs, x)
	rhs.Add(rhs, o.b)
	rhs.Mod(rhs, o.p)
	return lhs.Cmp(rhs) == 0
}

type bigPoint struct {
	x, y *big.Int
	inf  bool
}

func (o *curveOps) add(p1, p2 bigPoint) bigPoint {
	if p1.inf {
		return p2
	}
	if p2.inf {
		return p1
	}
	var l *big.Int
	if p1.x.Cmp(p2.x) == 0 {
		sum := new(big.Int).Add(p1.y, p2.y)
		if sum.Mod(sum, o.p).Sign() == 0 {
			return bigPoint{inf: true}
		}
		num := new(big.Int).Mul(p1.x, p1.x)
		num.Mul(num, big.NewInt(3))
		num.Add(num, o.a)
		den := new(big.Int).Lsh(p1.y, 1)
		den.ModInverse(den, o.p)
		l = num.Mul(num, den)
	} else {
		num := new(big.Int).Sub(p2.y, p1.y)
		den := new(big.Int).Sub(p2.x, p1.x)
		den.Mod(den, o.p)
		den.ModInverse(den, o.p)
		l = num.Mul(num, den)
	}
	l.Mod(l, o.p)
	x3 := new(big.Int).Mul(l, l)
	x3.Sub(x3, p1.x)
	x3.Sub(x3, p2.x)
	x3.Mod(x3, o.p)
	y3 := new(big.Int).Sub(p1.x, x3)
	y3.Mul(y3, l)
	y3.Sub(y3, p1.y)
	y3.Mod(y3, o.p)
	return bigPoint{x: x3, y: y3}
}

func (o *curveOps) mul(k *big.Int, pt bigPoint) bigPoint {
	acc := bigPoint{inf: true}
	for i := k.BitLen() - 1; i >= 0; i-- {
		acc = o.add(acc, acc)
		if k.Bit(i) == 1 {
			acc = o.add(acc, pt)
		}
	}
	return acc
}

// publicFromPrivate returns d·G as affine coordinates for 0 < d < q.
func (o *curveOps) publicFromPrivate(d []byte) (x, y *big.Int) {
	pt := o.mul(leInt(d), bigPoint{x: o.x, y: o.y})
	return pt.x, pt.y
}

// sign returns (r, s) for secret d and nonce k (little-endian) and e in
// [1, q); ok is false when r or s is zero and another k is needed.
func (o *curveOps) sign(d, k []byte, e *big.Int) (r, s *big.Int, ok bool) {
	kk := leInt(k)
	c := o.mul(kk, bigPoint{x: o.x, y: o.y})
	r = new(big.Int).Mod(c.x, o.q)
	if r.Sign() == 0 {
		return nil, nil, false
	}
	s = new(big.Int).Mul(r, leInt(d))
	s.Add(s, new(big.Int).Mul(kk, e))
	s.Mod(s, o.q)
	return r, s, s.Sign() != 0
}

// verify checks r and s in [1, q) against e in [1, q) and public point (qx, qy).
func (o *curveOps) verify(qx, qy, e, r, s *big.Int) bool {
	v := new(big.Int).ModInverse(e, o.q)
	z1 := new(big.Int).Mul(s, v)
	z1.Mod(z1, o.q)
	z2 := new(big.Int).Mul(r, v)
	z2.Neg(z2).Mod(z2, o.q)
	c := o.add(o.mul(z1, bigPoint{x: o.x, y: o.y}), o.mul(z2, bigPoint{x: qx, y: qy}))
	if c.inf {
		return false
	}
	return new(big.Int).Mod(c.x, o.q).Cmp(r) == 0
}

// scalarInRange returns 1 if the little-endian d satisfies 0 < d < q.
func (o *curveOps) scalarInRange(d []byte) int {
	v := leInt(d)
	if v.Sign() > 0 && v.Cmp(o.q) < 0 {
		return 1
	}
	return 0
}

// randomScalar draws a little-endian scalar uniform in [1, q-1] by rejection
// sampling: candidates are masked to the bit length of q and redrawn while
// out of range, so the result is exactly uniform and only rejected
// candidates (which are discarded) influence the timing.
func (o *curveOps) randomScalar(rand io.Reader) ([]byte, error) {
	buf := make([]byte, o.size)
	mask := byte(0xff >> (uint(8*o.size-o.q.BitLen()) & 7))
	for range 1000 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("gost: reading random scalar: %w", err)
		}
		buf[o.size-1] &= mask
		if o.scalarInRange(buf) == 1 {
			return buf, nil
		}
	}
	return nil, errors.New("gost: random source keeps returning out-of-range scalars")
}
