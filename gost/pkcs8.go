package gost

// PKCS#8 PrivateKeyInfo for GOST R 34.10-2012 keys as gost-engine 3.0
// writes and reads them (fact sheet §3; gost-engine gost_ameth.c).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MarshalPKCS8PrivateKey returns the DER PKCS#8 PrivateKeyInfo of priv the
// way gost-engine writes it: version 0, the same AlgorithmIdentifier as
// MarshalPKIXPublicKey, and a privateKey OCTET STRING that holds d
// little-endian, exactly Size bytes, with no inner tag.
func MarshalPKCS8PrivateKey(priv *PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: nil key", ErrBadPrivateKey)
	}
	if err := checkCurve(priv.Curve); err != nil {
		return nil, err
	}
	d := priv.Bytes()
	defer clear(d)
	if len(d) != priv.Curve.Size() {
		return nil, fmt.Errorf("%w: key has no scalar", ErrBadPrivateKey)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		addKeyAlgorithm(b, priv.Curve)
		b.AddASN1OctetString(d)
	})
	return b.Bytes()
}

// ParsePKCS8PrivateKey parses a DER PKCS#8 PrivateKeyInfo (version 0,
// attributes allowed and ignored) holding a GOST R 34.10-2012 key. The
// AlgorithmIdentifier follows the rules of ParsePKIXPublicKey. The
// privateKey OCTET STRING may hold any form gost-engine reads: d
// little-endian with no inner tag (what it writes), an inner OCTET STRING
// of d little-endian (its LEGACY_PK_WRAP output), an inner INTEGER
// (big-endian, older writers), or CryptoPro's masked key: little-endian
// blocks k ‖ m1 ‖ … ‖ mn, bare or in a MASKED_GOST_KEY SEQUENCE, with
// d = k·m1·…·mn mod q. d must satisfy 0 < d < q; the public key is
// computed from it. Errors never contain key material.
func ParsePKCS8PrivateKey(der []byte) (*PrivateKey, error) {
	input := cryptobyte.String(der)
	var info cryptobyte.String
	var version int64
	var key []byte
	if !input.ReadASN1(&info, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: PrivateKeyInfo is not a DER SEQUENCE", ErrMalformedKey)
	}
	if !input.Empty() {
		return nil, fmt.Errorf("%w: %d bytes of trailing data after the PrivateKeyInfo", ErrMalformedKey, len(input))
	}
	if !info.ReadASN1Integer(&version) {
		return nil, fmt.Errorf("%w: PrivateKeyInfo version is not a DER INTEGER", ErrMalformedKey)
	}
	if version != 0 {
		return nil, fmt.Errorf("%w: PrivateKeyInfo version %d, want 0", ErrMalformedKey, version)
	}
	c, err := readKeyAlgorithm(&info)
	if err != nil {
		return nil, err
	}
	if !info.ReadASN1Bytes(&key, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: privateKey is not a DER OCTET STRING", ErrMalformedKey)
	}
	if !info.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !info.Empty() {
		return nil, fmt.Errorf("%w: unexpected fields after privateKey", ErrMalformedKey)
	}
	d, err := privateScalar(c, key)
	if err != nil {
		return nil, err
	}
	defer clear(d)
	priv, err := NewPrivateKey(c, d)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPrivateKey, err)
	}
	return priv, nil
}

// privateScalar returns d little-endian, c.Size() bytes, from the contents
// of the privateKey OCTET STRING. The forms are told apart in the order
// gost-engine's priv_decode_gost uses, so that an ambiguous encoding (a
// short INTEGER whose length happens to be the key size) reads as it does
// there.
func privateScalar(c *Curve, key []byte) ([]byte, error) {
	size := c.Size()
	if len(key)%size == 0 && len(key) > 0 {
		return unmask(c, key), nil
	}
	s := cryptobyte.String(key)
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		// MASKED_GOST_KEY ::= SEQUENCE { maskedPrivateKey OCTET STRING,
		// publicKey OCTET STRING }; gost-engine ignores the public key.
		var seq cryptobyte.String
		var masked, public []byte
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() ||
			!seq.ReadASN1Bytes(&masked, cbasn1.OCTET_STRING) || !seq.ReadASN1Bytes(&public, cbasn1.OCTET_STRING) || !seq.Empty() {
			return nil, fmt.Errorf("%w: masked private key is not a DER SEQUENCE of two OCTET STRINGs", ErrMalformedKey)
		}
		if len(masked) == 0 || len(masked)%size != 0 {
			return nil, fmt.Errorf("%w: masked private key is %d bytes, not a multiple of %d", ErrBadPrivateKey, len(masked), size)
		}
		return unmask(c, masked), nil
	case s.PeekASN1Tag(cbasn1.OCTET_STRING):
		var le []byte
		if !s.ReadASN1Bytes(&le, cbasn1.OCTET_STRING) || !s.Empty() {
			return nil, fmt.Errorf("%w: wrapped private key is not exactly one DER OCTET STRING", ErrMalformedKey)
		}
		// gost-engine takes 32 or 64 bytes here whatever the key size.
		if len(le) != 32 && len(le) != 64 {
			return nil, fmt.Errorf("%w: wrapped private key is %d bytes, want 32 or 64", ErrBadPrivateKey, len(le))
		}
		return fixedLE(c, le)
	case s.PeekASN1Tag(cbasn1.INTEGER):
		var be []byte
		if !s.ReadASN1Bytes(&be, cbasn1.INTEGER) || !s.Empty() {
			return nil, fmt.Errorf("%w: private key INTEGER is not exactly one DER INTEGER", ErrMalformedKey)
		}
		if len(be) == 0 || len(be) > 1 && (be[0] == 0 && be[1]&0x80 == 0 || be[0] == 0xff && be[1]&0x80 != 0) {
			return nil, fmt.Errorf("%w: private key INTEGER is not minimally encoded", ErrMalformedKey)
		}
		if be[0]&0x80 != 0 {
			return nil, fmt.Errorf("%w: private key INTEGER is negative", ErrBadPrivateKey)
		}
		le := make([]byte, len(be))
		for i, v := range be {
			le[len(be)-1-i] = v
		}
		defer clear(le)
		return fixedLE(c, le)
	default:
		return nil, fmt.Errorf("%w: privateKey holds %d bytes in no form gost-engine reads", ErrMalformedKey, len(key))
	}
}

// fixedLE brings a little-endian scalar of any length to exactly c.Size()
// bytes. Bytes beyond the size must be zero; they are checked without
// branching on their values.
func fixedLE(c *Curve, le []byte) ([]byte, error) {
	size := c.Size()
	d := make([]byte, size)
	copy(d, le)
	var high byte
	for i := size; i < len(le); i++ {
		high |= le[i]
	}
	if high != 0 {
		clear(d)
		return nil, fmt.Errorf("%w: the scalar is longer than %d bytes", ErrBadPrivateKey, size)
	}
	return d, nil
}

// unmask returns, as c.Size() little-endian bytes, the product mod q of the
// little-endian blocks of key (c.Size() bytes each). One block is the key
// itself, returned as is so that NewPrivateKey rejects it if out of range,
// as gost-engine does; more are CryptoPro masks, multiplied in as
// gost-engine's unmask_priv_key does. The arithmetic runs on fixed-size
// limbs with no branch or index depending on the values, since they are
// the secret.
func unmask(c *Curve, key []byte) []byte {
	size := c.Size()
	if len(key) == size {
		return bytes.Clone(key)
	}
	n := size / 8
	q := make([]uint64, n)
	qBE := c.Q.FillBytes(make([]byte, size))
	for i := range q {
		q[i] = binary.BigEndian.Uint64(qBE[size-8-8*i:])
	}
	acc := make([]uint64, n)
	for i := 8*size - 1; i >= 0; i-- { // acc = first block mod q
		modDoubleAdd(acc, uint64(key[i/8]>>(i%8)&1), q)
	}
	sum := make([]uint64, n)
	prod := make([]uint64, n)
	for off := size; off < len(key); off += size {
		mask := key[off : off+size]
		clear(prod)
		for i := 8*size - 1; i >= 0; i-- { // prod = acc·mask mod q
			modDoubleAdd(prod, 0, q)
			copy(sum, prod)
			modAdd(sum, acc, q)
			selectLimbs(prod, sum, uint64(mask[i/8]>>(i%8)&1))
		}
		copy(acc, prod)
	}
	d := make([]byte, size)
	for i, w := range acc {
		binary.LittleEndian.PutUint64(d[8*i:], w)
	}
	clear(acc)
	clear(sum)
	clear(prod)
	return d
}

// modDoubleAdd sets r = 2r + bit mod q, for r < q and bit 0 or 1.
func modDoubleAdd(r []uint64, bit uint64, q []uint64) {
	carry := bit
	for i := range r {
		next := r[i] >> 63
		r[i] = r[i]<<1 | carry
		carry = next
	}
	reduceOnce(r, carry, q)
}

// modAdd sets r = r + a mod q, for r, a < q.
func modAdd(r, a, q []uint64) {
	var carry uint64
	for i := range r {
		r[i], carry = bits.Add64(r[i], a[i], carry)
	}
	reduceOnce(r, carry, q)
}

// reduceOnce brings carry·2^(64·len) + r, known to be below 2q, below q.
func reduceOnce(r []uint64, carry uint64, q []uint64) {
	var buf [8]uint64 // 512 bits at most; kept off the heap
	t := buf[:len(r)]
	var borrow uint64
	for i := range r {
		t[i], borrow = bits.Sub64(r[i], q[i], borrow)
	}
	// Subtract when the value overflowed the limbs or r ≥ q.
	selectLimbs(r, t, carry|(borrow^1))
	clear(t)
}

// selectLimbs sets r = a if choice is 1, leaves it if 0.
func selectLimbs(r, a []uint64, choice uint64) {
	mask := -choice
	for i := range r {
		r[i] ^= mask & (r[i] ^ a[i])
	}
}
