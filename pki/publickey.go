package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/gostkey/gostkey/gost"
)

// subjectPublicKeyInfo is the SPKI structure, read only far enough to pick
// the parser by algorithm and to hash the key bits.
type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// MarshalPublicKey encodes pub as a DER SubjectPublicKeyInfo: GOST keys in
// the RFC 9215 form (the gost package decides the digestParamSet), ECDSA
// and RSA keys as crypto/x509 writes them.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *gost.PublicKey:
		der, err := gost.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		return der, nil
	case *ecdsa.PublicKey, *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		return der, nil
	}
	return nil, fmt.Errorf("%w: public key %T", ErrUnsupportedAlgorithm, pub)
}

// ParsePublicKey decodes a DER SubjectPublicKeyInfo into a *gost.PublicKey,
// *ecdsa.PublicKey or *rsa.PublicKey. GOST keys go through
// gost.NewPublicKey, so a point off the curve or outside the subgroup of
// prime order is refused (the error wraps gost.ErrNotInSubgroup for the
// latter); certificates and requests parse their keys here and fail with
// that error.
func ParsePublicKey(spki []byte) (crypto.PublicKey, error) {
	var info subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(spki, &info)
	if err != nil {
		return nil, fmt.Errorf("pki: malformed SubjectPublicKeyInfo: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("pki: trailing data after SubjectPublicKeyInfo")
	}
	alg := info.Algorithm.Algorithm
	var curve asn1.ObjectIdentifier // the named curve or paramset, first in the parameters
	if p := info.Algorithm.Parameters; p.Tag == asn1.TagOID {
		_ = unmarshalExact(p.FullBytes, &curve, "")
	} else if p.Tag == asn1.TagSequence {
		var fields []asn1.RawValue
		if _, err := asn1.Unmarshal(p.FullBytes, &fields); err == nil && len(fields) > 0 {
			_ = unmarshalExact(fields[0].FullBytes, &curve, "")
		}
	}
	// Keys pki cannot use (GOST 2001, Ed25519, other curves) are reported
	// as unsupported, not malformed, so that their certificates still parse.
	switch {
	case alg.Equal(gost.OIDPublicKey256) || alg.Equal(gost.OIDPublicKey512):
		if _, ok := gost.CurveByOID(curve); !ok {
			return nil, fmt.Errorf("%w: GOST curve %v", ErrUnsupportedAlgorithm, curve)
		}
		k, err := gost.ParsePKIXPublicKey(spki)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		return k, nil
	case alg.Equal(oidPublicKeyECDSA):
		if !knownECDSACurve(curve) {
			return nil, fmt.Errorf("%w: elliptic curve %v", ErrUnsupportedAlgorithm, curve)
		}
	case alg.Equal(oidPublicKeyRSA):
	default:
		return nil, fmt.Errorf("%w: public key algorithm %v", ErrUnsupportedAlgorithm, alg)
	}
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return k, nil
}

var (
	oidPublicKeyRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPublicKeyECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSACurves    = []asn1.ObjectIdentifier{
		{1, 2, 840, 10045, 3, 1, 7}, // P-256
		{1, 3, 132, 0, 34},          // P-384
		{1, 3, 132, 0, 35},          // P-521
	}
)

func knownECDSACurve(oid asn1.ObjectIdentifier) bool {
	for _, c := range oidECDSACurves {
		if c.Equal(oid) {
			return true
		}
	}
	return false
}

// KeyID is the key identifier gostkey writes in subjectKeyIdentifier and
// authorityKeyIdentifier: SHA-1 over the subjectPublicKey BIT STRING value
// (RFC 5280 §4.2.1.2 method 1). For GOST keys that value includes the inner
// OCTET STRING header (04 40 or 04 81 80), exactly as OpenSSL's
// subjectKeyIdentifier=hash computes it, so identifiers match the ones
// OpenSSL and Russian CAs write for the same key. SHA-1 here only names a
// key, it secures nothing.
func KeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return keyIDFromSPKI(der)
}

func keyIDFromSPKI(spki []byte) ([]byte, error) {
	key, err := subjectPublicKeyBits(spki)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(key.RightAlign())
	return sum[:], nil
}

// subjectPublicKeyBits is the subjectPublicKey BIT STRING of a DER
// SubjectPublicKeyInfo, which key identifiers and OCSP CertIDs hash.
func subjectPublicKeyBits(spki []byte) (asn1.BitString, error) {
	var info subjectPublicKeyInfo
	if err := unmarshalExact(spki, &info, ""); err != nil {
		return asn1.BitString{}, fmt.Errorf("pki: malformed SubjectPublicKeyInfo: %w", err)
	}
	return info.PublicKey, nil
}

// publicKeysEqual compares two keys of any supported kind.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
