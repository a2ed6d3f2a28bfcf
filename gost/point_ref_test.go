package gost

import (
	"math/big"
)

// refPoint is affine arithmetic on math/big, independent of the package's
// own, used as the oracle for the curve checks.
type refPoint struct {
	x, y *big.Int // nil x means the point at infinity
}

func refAdd(c *Curve, p1, p2 refPoint) refPoint {
	if p1.x == nil {
		return p2
	}
	if p2.x == nil {
		return p1
	}
	p := c.P
	var l *big.Int
	if p1.x.Cmp(p2.x) == 0 {
		if new(big.Int).Add(p1.y, p2.y).Mod(new(big.Int).Add(p1.y, p2.y), p).Sign() == 0 {
			return refPoint{}
		}
		num := new(big.Int).Mul(p1.x, p1.x)
		num.Mul(num, big.NewInt(3)).Add(num, c.A)
		den := new(big.Int).Lsh(p1.y, 1)
		l = num.Mul(num, den.ModInverse(den, p))
	} else {
		num := new(big.Int).Sub(p2.y, p1.y)
		den := new(big.Int).Sub(p2.x, p1.x)
		den.Mod(den, p)
		l = num.Mul(num, den.ModInverse(den, p))
	}
	l.Mod(l, p)
	x3 := new(big.Int).Mul(l, l)
	x3.Sub(x3, p1.x).Sub(x3, p2.x).Mod(x3, p)
	y3 := new(big.Int).Sub(p1.x, x3)
	y3.Mul(y3, l).Sub(y3, p1.y).Mod(y3, p)
	return refPoint{x3, y3}
}

func refMul(c *Curve, k *big.Int, pt refPoint) refPoint {
	acc := refPoint{}
	for i := k.BitLen() - 1; i >= 0; i-- {
		acc = refAdd(c, acc, acc)
		if k.Bit(i) == 1 {
			acc = refAdd(c, acc, pt)
		}
	}
	return acc
}

func refOnCurve(c *Curve, x, y *big.Int) bool {
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, c.P)
	rhs := new(big.Int).Mul(x, x)
	rhs.Add(rhs, c.A).Mul(rhs, x).Add(rhs, c.B).Mod(rhs, c.P)
	return lhs.Cmp(rhs) == 0
}

func (p refPoint) isInf() bool { return p.x == nil }
