package gost

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// SignerOpts selects the hash a digest was made with. Streebog has no
// crypto.Hash value, so HashFunc returns 0 and the variant travels in Hash,
// the way ed25519.Options carries Ed25519 variants.
type SignerOpts struct {
	Hash Hash
}

// HashFunc returns 0: Streebog is not a crypto.Hash.
func (o *SignerOpts) HashFunc() crypto.Hash { return 0 }

// Sign signs a digest made with the curve's hash (as the hash outputs it)
// and returns s ‖ r, two big-endian halves of Size bytes each. opts is nil
// or a *SignerOpts naming the curve's hash. The nonce k is drawn uniformly
// in [1, Q-1] from rand (crypto/rand if nil).
func (priv *PrivateKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c := priv.Curve
	if c == nil || c.ops == nil || len(priv.d) != c.size {
		return nil, errors.New("gost: private key is not initialized (use GenerateKey or NewPrivateKey)")
	}
	if opts != nil {
		o, ok := opts.(*SignerOpts)
		if !ok || o == nil {
			return nil, fmt.Errorf("gost: signer options %T are not *gost.SignerOpts", opts)
		}
		if o.Hash != c.Hash {
			return nil, fmt.Errorf("gost: %s keys sign %s digests, not %s", c.Name, c.Hash, o.Hash)
		}
	}
	if len(digest) != c.Hash.Size() {
		return nil, fmt.Errorf("gost: digest is %d bytes, want %d (%s)", len(digest), c.Hash.Size(), c.Hash)
	}
	for range 100 {
		k, err := c.ops.randomScalar(rand)
		if err != nil {
			return nil, err
		}
		if sig, ok := priv.signWith(k, digest); ok {
			return sig, nil
		}
	}
	return nil, errors.New("gost: no valid signature after many nonces; the random source is broken")
}

// signWith signs digest with nonce k (little-endian, 0 < k < Q); ok is
// false if r or s came out zero.
func (priv *PrivateKey) signWith(k, digest []byte) (sig []byte, ok bool) {
	sig = make([]byte, 2*priv.Curve.size)
	return sig, priv.Curve.ops.sign(sig, priv.d, k, digest)
}

// Verify reports whether sig = s ‖ r (big-endian halves) is a valid
// signature of digest (as the hash outputs it, Curve.Hash.Size() bytes).
// A key whose point is off the curve or outside the subgroup of order Q
// verifies nothing.
func (pub *PublicKey) Verify(digest, sig []byte) bool {
	c := pub.Curve
	if c == nil || c.ops == nil || pub.X == nil || pub.Y == nil {
		return false
	}
	if len(digest) != c.Hash.Size() || len(sig) != 2*c.size {
		return false
	}
	s := new(big.Int).SetBytes(sig[:c.size])
	r := new(big.Int).SetBytes(sig[c.size:])
	if r.Sign() == 0 || r.Cmp(c.Q) >= 0 || s.Sign() == 0 || s.Cmp(c.Q) >= 0 {
		return false
	}
	if !pub.isChecked() && c.checkPoint(pub.X, pub.Y) != nil {
		return false
	}
	return c.ops.verify(pub.X, pub.Y, digestToE(c, digest), r, s)
}

// digestToE is e = LE(digest) mod Q, with 0 mapped to 1 (GOST R 34.10-2012
// §6.1 step 3; gost-engine does the same).
func digestToE(c *Curve, digest []byte) *big.Int {
	e := leInt(digest)
	e.Mod(e, c.Q)
	if e.Sign() == 0 {
		e.SetInt64(1)
	}
	return e
}
