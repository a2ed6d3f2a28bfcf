package gost

import (
	"crypto"
	cryptorand "crypto/rand"
	"encoding/binary"
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
// or a *SignerOpts naming the curve's hash.
//
// The nonce k is hedged (the idea of RFC 6979 §3.6): it is derived from
// the private key, the digest and Size fresh bytes read from rand
// (crypto/rand if nil), see hedgedNonce. With a good rand, k is as
// unpredictable as with plain random nonces; with a broken one (constant,
// repeating, all zeros) k is still a secret function of the key and the
// digest, distinct for distinct digests, so a weak random source cannot
// leak the key through a repeated or predictable nonce.
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
	if rand == nil {
		rand = cryptorand.Reader
	}
	for attempt := range 100 {
		k, err := priv.hedgedNonce(rand, digest, byte(attempt))
		if err != nil {
			return nil, err
		}
		if sig, ok := priv.signWith(k, digest); ok {
			return sig, nil
		}
	}
	return nil, errors.New("gost: no valid signature after many nonces; the random source is broken")
}

// nonceTag separates the nonce derivation from every other use of
// Streebog-512 over the key.
const nonceTag = "gostkey: GOST R 34.10-2012 hedged nonce v1\x00"

// hedgedNonce derives the nonce for one signing attempt: candidates are
// the blocks of Streebog-512(nonceTag ‖ d ‖ digest ‖ fresh ‖ attempt ‖
// counter), counter = 0, 1, … big-endian in 4 bytes, with fresh = Size
// bytes read from rand; randomScalar keeps the first candidate in [1, Q-1]
// (rejection, exactly uniform for a random-looking stream, its timing
// depending only on the number of candidates discarded). The attempt
// number makes a retry after r = 0 or s = 0 use another nonce even when
// rand repeats itself.
//
// Streebog here runs on the secret key with the same code, and the same
// table lookups, as any hashing in this package.
func (priv *PrivateKey) hedgedNonce(rand io.Reader, digest []byte, attempt byte) ([]byte, error) {
	c := priv.Curve
	fresh := make([]byte, c.size)
	if _, err := io.ReadFull(rand, fresh); err != nil {
		return nil, fmt.Errorf("gost: reading randomness for the nonce: %w", err)
	}
	prefix := make([]byte, 0, len(nonceTag)+len(priv.d)+len(digest)+len(fresh)+1)
	prefix = append(prefix, nonceTag...)
	prefix = append(prefix, priv.d...)
	prefix = append(prefix, digest...)
	prefix = append(prefix, fresh...)
	prefix = append(prefix, attempt)
	stream := &nonceStream{prefix: prefix, used: Size512}
	k, err := c.ops.randomScalar(stream)
	clear(prefix)
	clear(stream.block[:])
	return k, err
}

// nonceStream reads Streebog-512(prefix ‖ counter) for counter = 0, 1, …
type nonceStream struct {
	prefix  []byte
	counter uint32
	block   [Size512]byte
	used    int // bytes of block already read
}

func (s *nonceStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if s.used == len(s.block) {
			h := New512()
			h.Write(s.prefix)
			var ctr [4]byte
			binary.BigEndian.PutUint32(ctr[:], s.counter)
			h.Write(ctr[:])
			h.Sum(s.block[:0])
			s.counter++
			s.used = 0
		}
		m := copy(p[n:], s.block[s.used:])
		s.used += m
		n += m
	}
	return n, nil
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
