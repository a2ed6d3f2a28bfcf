package gost

// PKCS#8 PrivateKeyInfo for GOST R 34.10-2012 keys as gost-engine 3.0
// writes and reads them (fact sheet §3; gost-engine gost_ameth.c).

import (
	"fmt"

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
// of d little-endian (its LEGACY_PK_WRAP output), or an inner INTEGER
// (big-endian, older writers). d must satisfy 0 < d < q; the public key is
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
		if len(key) > size {
			// CryptoPro's masked form: d ‖ mask1 ‖ … , the key being the
			// product of all of them mod q.
			return nil, fmt.Errorf("%w: masked private keys (%d masks) are not supported", ErrMalformedKey, len(key)/size-1)
		}
		return fixedLE(c, key)
	}
	s := cryptobyte.String(key)
	switch {
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
