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
// *ecdsa.PublicKey or *rsa.PublicKey.
func ParsePublicKey(spki []byte) (crypto.PublicKey, error) {
	var info subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(spki, &info)
	if err != nil {
		return nil, fmt.Errorf("pki: malformed SubjectPublicKeyInfo: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("pki: trailing data after SubjectPublicKeyInfo")
	}
	if _, ok := gost.HashByPublicKeyOID(info.Algorithm.Algorithm); ok {
		k, err := gost.ParsePKIXPublicKey(spki)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	switch k.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("%w: public key algorithm %v", ErrUnsupportedAlgorithm, info.Algorithm.Algorithm)
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
	var info subjectPublicKeyInfo
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("pki: malformed SubjectPublicKeyInfo: %w", err)
	}
	sum := sha1.Sum(info.PublicKey.RightAlign())
	return sum[:], nil
}

// publicKeysEqual compares two keys of any supported kind.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
