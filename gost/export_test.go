package gost

import "math/big"

// The math/big reference arithmetic, for the external tests.
type RefPoint = refPoint

func (p refPoint) IsInf() bool { return p.isInf() }
func (p refPoint) X() *big.Int { return p.x }

func RefMul(c *Curve, k *big.Int, p RefPoint) RefPoint { return refMul(c, k, p) }
func RefOnCurve(c *Curve, x, y *big.Int) bool          { return refOnCurve(c, x, y) }
func NewRefPoint(x, y *big.Int) RefPoint               { return refPoint{x, y} }

// SignDigestWithK signs digest with the given nonce k (little-endian,
// 0 < k < Q), for reproducing the standard's examples, which fix k.
func SignDigestWithK(priv *PrivateKey, digest, k []byte) ([]byte, bool) {
	return priv.signWith(k, digest)
}
