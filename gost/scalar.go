package gost

import (
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"
)

// Scalars (d, k and the signature's s) are reduced modulo q in fe limbs
// with the constant-time Montgomery arithmetic of field; only r and s,
// once they are part of the signature, become public.

// scalarInRange returns 1 if the little-endian d satisfies 0 < d < q, in
// constant time.
func (o *curveOps) scalarInRange(d []byte) int {
	x := feFromLE(d)
	var b uint64
	for j := 0; j < o.fq.n; j++ {
		_, b = bits.Sub64(x[j], o.fq.m[j], b)
	}
	return int(b & (1 ^ o.fq.isZero(&x)))
}

// randomScalar draws a little-endian scalar uniform in [1, q-1] by rejection
// sampling: a candidate is masked to the bit length of q and redrawn while
// out of range. That is exactly uniform (no modular bias), and the timing
// depends only on how many candidates were discarded, which says nothing
// about the one kept.
// A nil rand means crypto/rand.
func (o *curveOps) randomScalar(rand io.Reader) ([]byte, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
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

// publicFromPrivate returns d·G for a secret 0 < d < q (little-endian).
func (o *curveOps) publicFromPrivate(d []byte) (x, y *big.Int) {
	k := feFromLE(d)
	var pt projPoint
	o.baseMult(&pt, &k)
	px, py := o.toAffine(&pt)
	return feToBig(&px), feToBig(&py)
}

// sign computes r = x(k·G) mod q and s = r·d + k·e mod q for the secret d
// and nonce k (little-endian, in [1, q)) and a digest (e = LE(digest) mod
// q, 0 → 1), writing s ‖ r big-endian into sig; ok is false if r or s is
// zero and another k is needed.
func (o *curveOps) sign(sig, d, k, digest []byte) (ok bool) {
	fq := o.fq
	kk := feFromLE(k)
	var pt projPoint
	o.baseMult(&pt, &kk)
	x, _ := o.toAffine(&pt)

	// x < p < 2^(64n), so one multiplication by R² reduces it mod q.
	var rM, r, eM, dM, kM, sM, s, t fe
	fq.toMont(&rM, &x)
	fq.fromMont(&r, &rM)
	if fq.isZero(&r) == 1 { // r is public: it is half the signature
		return false
	}
	e := feFromLE(digest)
	fq.toMont(&eM, &e)
	feSelect(&eM, &fq.one, &eM, fq.isZero(&eM))
	dd := feFromLE(d)
	fq.toMont(&dM, &dd)
	fq.toMont(&kM, &kk)
	fq.mul(&sM, &rM, &dM)
	fq.mul(&t, &kM, &eM)
	fq.add(&sM, &sM, &t)
	fq.fromMont(&s, &sM)
	if fq.isZero(&s) == 1 {
		return false
	}
	putBE(sig[:o.size], &s)
	putBE(sig[o.size:], &r)
	return true
}

// putBE writes the low len(out) bytes of plain limbs x big-endian.
func putBE(out []byte, x *fe) {
	n := len(out)
	for i := range out {
		out[n-1-i] = byte(x[i/8] >> (8 * (i % 8)))
	}
}
