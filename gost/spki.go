package gost

// SubjectPublicKeyInfo for GOST R 34.10-2012 keys (RFC 9215 §4, fact sheet
// §2.2–2.3), and the AlgorithmIdentifier it shares with PKCS#8.

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Errors returned by the key parsers and marshallers, for errors.Is. The
// returned error wraps one of them and says what exactly is wrong.
var (
	// ErrMalformedKey: the bytes are not the DER structure expected
	// (syntax, trailing data, missing or extra fields, unused bits).
	ErrMalformedKey = errors.New("gost: malformed key encoding")
	// ErrUnknownKeyAlgorithm: the algorithm OID is not a GOST R 34.10-2012 key.
	ErrUnknownKeyAlgorithm = errors.New("gost: not a GOST R 34.10-2012 key algorithm")
	// ErrUnknownParamSet: the publicKeyParamSet OID names no curve we know.
	ErrUnknownParamSet = errors.New("gost: unknown GOST parameter set")
	// ErrParamSetMismatch: a 256-bit parameter set under the 512-bit key
	// OID or the other way round.
	ErrParamSetMismatch = errors.New("gost: parameter set does not match the key algorithm")
	// ErrBadPublicKey: the public key value is unusable (length, not on the curve).
	ErrBadPublicKey = errors.New("gost: invalid public key")
	// ErrBadPrivateKey: the private key value is unusable. Its error never
	// carries the key.
	ErrBadPrivateKey = errors.New("gost: invalid private key")
)

// paramSetsWithDigest lists the parameter sets whose AlgorithmIdentifier
// carries digestParamSet. RFC 9215 makes it a MUST for the CryptoPro sets
// (A, B, C, XchA, XchB); the 2001 test set gets it too, as gost-engine
// writes it and as RFC 9215 example 1 shows. Every other set omits it: a
// MUST for TC26-256 B–D, a SHOULD for TC26-256-A and all 512-bit sets.
var paramSetsWithDigest = []asn1.ObjectIdentifier{
	{1, 2, 643, 2, 2, 35, 0}, // GostR3410-2001-TestParamSet
	{1, 2, 643, 2, 2, 35, 1}, // CryptoPro-A
	{1, 2, 643, 2, 2, 35, 2}, // CryptoPro-B
	{1, 2, 643, 2, 2, 35, 3}, // CryptoPro-C
	{1, 2, 643, 2, 2, 36, 0}, // CryptoPro-XchA
	{1, 2, 643, 2, 2, 36, 1}, // CryptoPro-XchB
}

func writesDigestParamSet(c *Curve) bool {
	for _, oid := range paramSetsWithDigest {
		if oid.Equal(c.OID) {
			return true
		}
	}
	return false
}

// checkCurve makes sure c is one of the package's own curves, so that the
// OIDs written describe the arithmetic the key was made with.
func checkCurve(c *Curve) error {
	if c == nil {
		return fmt.Errorf("%w: key has no curve", ErrUnknownParamSet)
	}
	if known, ok := CurveByOID(c.OID); !ok || known != c {
		return fmt.Errorf("%w: curve %q (%v) is not a registered GOST curve", ErrUnknownParamSet, c.Name, c.OID)
	}
	return nil
}

// addKeyAlgorithm writes the AlgorithmIdentifier of a key on c:
// SEQUENCE { id-tc26-gost3410-12-256|512, SEQUENCE { publicKeyParamSet [, digestParamSet] } }.
func addKeyAlgorithm(b *cryptobyte.Builder, c *Curve) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(c.Hash.PublicKeyOID())
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(c.OID)
			if writesDigestParamSet(c) {
				b.AddASN1ObjectIdentifier(c.Hash.DigestOID())
			}
		})
	})
}

// readKeyAlgorithm reads the AlgorithmIdentifier of a GOST key and returns
// its curve. The parameters must be present. digestParamSet is optional and
// its value ignored, as gost-engine does (producers disagree on when to
// write it, and some write the GOST R 34.11-94 OID there); RFC 4491's
// encryptionParamSet after it is tolerated and ignored for the same reason.
func readKeyAlgorithm(s *cryptobyte.String) (*Curve, error) {
	var alg, params cryptobyte.String
	var algOID, setOID asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: algorithm identifier is not a DER SEQUENCE", ErrMalformedKey)
	}
	if !alg.ReadASN1ObjectIdentifier(&algOID) {
		return nil, fmt.Errorf("%w: algorithm is not a DER OBJECT IDENTIFIER", ErrMalformedKey)
	}
	h, ok := HashByPublicKeyOID(algOID)
	if !ok {
		return nil, fmt.Errorf("%w: algorithm %v", ErrUnknownKeyAlgorithm, algOID)
	}
	if alg.Empty() {
		return nil, fmt.Errorf("%w: algorithm parameters are missing", ErrMalformedKey)
	}
	if !alg.ReadASN1(&params, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: algorithm parameters are not a DER SEQUENCE", ErrMalformedKey)
	}
	if !alg.Empty() {
		return nil, fmt.Errorf("%w: trailing data after the algorithm parameters", ErrMalformedKey)
	}
	if !params.ReadASN1ObjectIdentifier(&setOID) {
		return nil, fmt.Errorf("%w: publicKeyParamSet is not a DER OBJECT IDENTIFIER", ErrMalformedKey)
	}
	for _, name := range []string{"digestParamSet", "encryptionParamSet"} {
		if params.Empty() {
			break
		}
		var ignored asn1.ObjectIdentifier
		if !params.ReadASN1ObjectIdentifier(&ignored) {
			return nil, fmt.Errorf("%w: %s is not a DER OBJECT IDENTIFIER", ErrMalformedKey, name)
		}
	}
	if !params.Empty() {
		return nil, fmt.Errorf("%w: extra fields in the algorithm parameters", ErrMalformedKey)
	}
	c, ok := CurveByOID(setOID)
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnknownParamSet, setOID)
	}
	if c.Hash != h {
		return nil, fmt.Errorf("%w: %d-bit parameter set %s under %d-bit key algorithm %v",
			ErrParamSetMismatch, 8*c.Size(), c.Name, 8*h.Size(), algOID)
	}
	return c, nil
}

// MarshalPKIXPublicKey returns the DER SubjectPublicKeyInfo of pub in the
// RFC 9215 form: algorithm id-tc26-gost3410-12-256 or -512 with parameters
// SEQUENCE { publicKeyParamSet [, digestParamSet] }, digestParamSet only
// where RFC 9215 requires it (see paramSetsWithDigest), and a BIT STRING
// holding the DER OCTET STRING of X ‖ Y, each coordinate little-endian.
func MarshalPKIXPublicKey(pub *PublicKey) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: nil key", ErrBadPublicKey)
	}
	if err := checkCurve(pub.Curve); err != nil {
		return nil, err
	}
	c := pub.Curve
	if pub.X == nil || pub.Y == nil || !inField(pub.X, c) || !inField(pub.Y, c) {
		return nil, fmt.Errorf("%w: coordinates missing or out of range", ErrBadPublicKey)
	}
	point := pub.Bytes()
	// Go through the parser's own check so that no point off the curve
	// is ever written.
	if _, err := NewPublicKey(c, point); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPublicKey, err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addKeyAlgorithm(b, c)
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
			b.AddUint8(0) // no unused bits
			b.AddASN1OctetString(point)
		})
	})
	return b.Bytes()
}

func inField(v *big.Int, c *Curve) bool { return v.Sign() >= 0 && v.Cmp(c.P) < 0 }

// ParsePKIXPublicKey parses a DER SubjectPublicKeyInfo holding a GOST
// R 34.10-2012 public key. It accepts digestParamSet present or absent, and
// rejects anything else that is not exactly the RFC 9215 structure: unknown
// algorithms or parameter sets, a parameter set of the wrong size, a point
// of the wrong length or off the curve, and non-DER input, trailing data
// included. Errors wrap the Err* values of this package.
func ParsePKIXPublicKey(der []byte) (*PublicKey, error) {
	input := cryptobyte.String(der)
	var spki, bits cryptobyte.String
	if !input.ReadASN1(&spki, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: SubjectPublicKeyInfo is not a DER SEQUENCE", ErrMalformedKey)
	}
	if !input.Empty() {
		return nil, fmt.Errorf("%w: %d bytes of trailing data after the SubjectPublicKeyInfo", ErrMalformedKey, len(input))
	}
	c, err := readKeyAlgorithm(&spki)
	if err != nil {
		return nil, err
	}
	if !spki.ReadASN1(&bits, cbasn1.BIT_STRING) {
		return nil, fmt.Errorf("%w: subjectPublicKey is not a DER BIT STRING", ErrMalformedKey)
	}
	if !spki.Empty() {
		return nil, fmt.Errorf("%w: extra fields after subjectPublicKey", ErrMalformedKey)
	}
	var unused uint8
	if !bits.ReadUint8(&unused) {
		return nil, fmt.Errorf("%w: empty subjectPublicKey BIT STRING", ErrMalformedKey)
	}
	if unused != 0 {
		return nil, fmt.Errorf("%w: subjectPublicKey BIT STRING has %d unused bits, want 0", ErrMalformedKey, unused)
	}
	var point []byte
	if !bits.ReadASN1Bytes(&point, cbasn1.OCTET_STRING) || !bits.Empty() {
		return nil, fmt.Errorf("%w: subjectPublicKey does not hold exactly one DER OCTET STRING", ErrMalformedKey)
	}
	if len(point) != 2*c.Size() {
		return nil, fmt.Errorf("%w: %d-byte point for %s, want %d bytes", ErrBadPublicKey, len(point), c.Name, 2*c.Size())
	}
	pub, err := NewPublicKey(c, point)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPublicKey, err)
	}
	return pub, nil
}
