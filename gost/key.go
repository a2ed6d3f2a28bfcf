package gost

import (
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// PublicKey is a GOST R 34.10-2012 public key: the point (X, Y) on Curve.
type PublicKey struct {
	Curve *Curve
	X, Y  *big.Int
}

// PrivateKey is a GOST R 34.10-2012 private key. The secret scalar d is
// held only in fixed-size form; it is never a big.Int.
type PrivateKey struct {
	PublicKey
	d []byte // little-endian, Curve.Size() bytes, 0 < d < Q
}

var (
	_ crypto.Signer    = (*PrivateKey)(nil)
	_ crypto.PublicKey = (*PublicKey)(nil)
)

// ErrInvalidKey is wrapped by every error about malformed key bytes.
var ErrInvalidKey = errors.New("gost: invalid key")

// NewPublicKey decodes raw = X_le ‖ Y_le (2·Size bytes), the form of the
// SubjectPublicKeyInfo OCTET STRING and of PKCS#11 CKA_VALUE. The point must
// be on the curve (which excludes the point at infinity, having no affine
// form).
func NewPublicKey(c *Curve, raw []byte) (*PublicKey, error) {
	if c == nil || c.ops == nil {
		return nil, fmt.Errorf("%w: no curve", ErrInvalidKey)
	}
	if len(raw) != 2*c.size {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d for %s", ErrInvalidKey, len(raw), 2*c.size, c.Name)
	}
	x, y := leInt(raw[:c.size]), leInt(raw[c.size:])
	if !c.ops.onCurve(x, y) {
		return nil, fmt.Errorf("%w: public key is not a point of %s", ErrInvalidKey, c.Name)
	}
	return &PublicKey{Curve: c, X: x, Y: y}, nil
}

// Bytes returns X_le ‖ Y_le.
func (pub *PublicKey) Bytes() []byte {
	n := pub.Curve.size
	out := make([]byte, 2*n)
	leFill(out[:n], pub.X)
	leFill(out[n:], pub.Y)
	return out
}

// Equal reports whether x is a *PublicKey of the same parameter set (same
// OID) and point.
func (pub *PublicKey) Equal(x crypto.PublicKey) bool {
	o, ok := x.(*PublicKey)
	if !ok || o == nil || pub.Curve == nil || o.Curve == nil {
		return false
	}
	return pub.Curve.OID.Equal(o.Curve.OID) && pub.X.Cmp(o.X) == 0 && pub.Y.Cmp(o.Y) == 0
}

// NewPrivateKey decodes d, little-endian, exactly Size bytes (the PKCS#8 form
// gost-engine writes), with 0 < d < Q, and derives the public key.
func NewPrivateKey(c *Curve, d []byte) (*PrivateKey, error) {
	if c == nil || c.ops == nil {
		return nil, fmt.Errorf("%w: no curve", ErrInvalidKey)
	}
	if len(d) != c.size {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d for %s", ErrInvalidKey, len(d), c.size, c.Name)
	}
	if c.ops.scalarInRange(d) != 1 {
		return nil, fmt.Errorf("%w: private key out of range for %s", ErrInvalidKey, c.Name)
	}
	return newPrivateKey(c, d), nil
}

func newPrivateKey(c *Curve, d []byte) *PrivateKey {
	priv := &PrivateKey{d: append([]byte(nil), d...)}
	priv.Curve = c
	priv.X, priv.Y = c.ops.publicFromPrivate(priv.d)
	return priv
}

// GenerateKey makes a key with d uniform in [1, Q-1] drawn from rand
// (crypto/rand if nil).
func GenerateKey(c *Curve, rand io.Reader) (*PrivateKey, error) {
	if c == nil || c.ops == nil {
		return nil, fmt.Errorf("%w: no curve", ErrInvalidKey)
	}
	d, err := c.ops.randomScalar(rand)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(c, d), nil
}

// Bytes returns d, little-endian, Size bytes.
func (priv *PrivateKey) Bytes() []byte { return append([]byte(nil), priv.d...) }

// Public returns the *PublicKey.
func (priv *PrivateKey) Public() crypto.PublicKey { return &priv.PublicKey }

// Equal reports whether x is a *PrivateKey with the same parameter set and
// secret, comparing the secret in constant time.
func (priv *PrivateKey) Equal(x crypto.PrivateKey) bool {
	o, ok := x.(*PrivateKey)
	if !ok || o == nil {
		return false
	}
	return priv.PublicKey.Equal(&o.PublicKey) && subtle.ConstantTimeCompare(priv.d, o.d) == 1
}

// leInt reads a little-endian unsigned integer (public data only).
func leInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i, v := range b {
		be[len(b)-1-i] = v
	}
	return new(big.Int).SetBytes(be)
}

// leFill writes v little-endian into all of out (public data only).
func leFill(out []byte, v *big.Int) {
	v.FillBytes(out)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
}
