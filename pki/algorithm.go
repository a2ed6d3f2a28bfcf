package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/gostkey/gostkey/gost"
)

// SignatureAlgorithm names a signature scheme together with its hash: the
// pair an AlgorithmIdentifier carries in certificates, requests, CRLs and
// OCSP responses.
type SignatureAlgorithm int

const (
	UnknownSignatureAlgorithm SignatureAlgorithm = iota
	GOST256                                      // GOST R 34.10-2012 256-bit with Streebog-256
	GOST512                                      // GOST R 34.10-2012 512-bit with Streebog-512
	ECDSAWithSHA256
	ECDSAWithSHA384
	ECDSAWithSHA512
	SHA256WithRSA // PKCS #1 v1.5
	SHA384WithRSA
	SHA512WithRSA
)

// ErrInvalidSignature is wrapped by every error that reports a signature
// that does not verify, as opposed to one that could not be checked at all
// (unknown algorithm, key of the wrong type).
var ErrInvalidSignature = errors.New("pki: invalid signature")

// ErrUnsupportedAlgorithm is wrapped by errors about algorithms, keys or
// parameters outside the table below.
var ErrUnsupportedAlgorithm = errors.New("pki: unsupported algorithm")

type keyKind int

const (
	keyGOST256 keyKind = iota + 1
	keyGOST512
	keyECDSA
	keyRSA
)

// paramsKind is what an AlgorithmIdentifier carries after the OID. GOST
// signatures are written without parameters (RFC 9215, and what CryptoPro
// issues) although gost-engine writes NULL; both are read (fact sheet §2.1).
type paramsKind int

const (
	paramsAbsent paramsKind = iota
	paramsNULL
	paramsAbsentOrNULL
)

var (
	oidSignatureECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSignatureECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidSignatureECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSignatureSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSignatureSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSignatureSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}

	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// algorithmDetails is the one table of every signature algorithm pki knows:
// its OID, how its parameters are written and read, the key it needs and
// the hash it signs.
type algorithmDetails struct {
	alg       SignatureAlgorithm
	name      string
	oid       asn1.ObjectIdentifier
	write     paramsKind // what we emit
	read      paramsKind // what we accept
	key       keyKind
	gostHash  gost.Hash   // GOST algorithms
	hash      crypto.Hash // the others
	digestOID asn1.ObjectIdentifier
}

var algorithmTable = []algorithmDetails{
	{GOST256, "GOST R 34.10-2012 256 with Streebog-256", gost.OIDSignature256, paramsAbsent, paramsAbsentOrNULL, keyGOST256, gost.Streebog256, 0, gost.OIDStreebog256},
	{GOST512, "GOST R 34.10-2012 512 with Streebog-512", gost.OIDSignature512, paramsAbsent, paramsAbsentOrNULL, keyGOST512, gost.Streebog512, 0, gost.OIDStreebog512},
	{ECDSAWithSHA256, "ECDSA with SHA-256", oidSignatureECDSAWithSHA256, paramsAbsent, paramsAbsent, keyECDSA, 0, crypto.SHA256, oidSHA256},
	{ECDSAWithSHA384, "ECDSA with SHA-384", oidSignatureECDSAWithSHA384, paramsAbsent, paramsAbsent, keyECDSA, 0, crypto.SHA384, oidSHA384},
	{ECDSAWithSHA512, "ECDSA with SHA-512", oidSignatureECDSAWithSHA512, paramsAbsent, paramsAbsent, keyECDSA, 0, crypto.SHA512, oidSHA512},
	// RFC 4055 says NULL; some old encoders dropped it, so absence is read too.
	{SHA256WithRSA, "SHA-256 with RSA", oidSignatureSHA256WithRSA, paramsNULL, paramsAbsentOrNULL, keyRSA, 0, crypto.SHA256, oidSHA256},
	{SHA384WithRSA, "SHA-384 with RSA", oidSignatureSHA384WithRSA, paramsNULL, paramsAbsentOrNULL, keyRSA, 0, crypto.SHA384, oidSHA384},
	{SHA512WithRSA, "SHA-512 with RSA", oidSignatureSHA512WithRSA, paramsNULL, paramsAbsentOrNULL, keyRSA, 0, crypto.SHA512, oidSHA512},
}

func (a SignatureAlgorithm) details() (algorithmDetails, bool) {
	for _, d := range algorithmTable {
		if d.alg == a {
			return d, true
		}
	}
	return algorithmDetails{}, false
}

func (a SignatureAlgorithm) mustDetails() (algorithmDetails, error) {
	d, ok := a.details()
	if !ok {
		return d, fmt.Errorf("%w: signature algorithm %d", ErrUnsupportedAlgorithm, int(a))
	}
	return d, nil
}

// String names the algorithm for people ("GOST R 34.10-2012 256 with
// Streebog-256").
func (a SignatureAlgorithm) String() string {
	if d, ok := a.details(); ok {
		return d.name
	}
	return fmt.Sprintf("unknown signature algorithm %d", int(a))
}

// IsGOST reports whether a is one of the GOST R 34.10-2012 algorithms.
func (a SignatureAlgorithm) IsGOST() bool { return a == GOST256 || a == GOST512 }

// NewHash returns a new hash of the kind a signs, or nil for an unknown
// algorithm.
func (a SignatureAlgorithm) NewHash() hash.Hash {
	d, ok := a.details()
	if !ok {
		return nil
	}
	if d.gostHash != 0 {
		return d.gostHash.New()
	}
	return d.hash.New()
}

// HashSize is the length in bytes of the digest a signs (0 if unknown).
func (a SignatureAlgorithm) HashSize() int {
	d, ok := a.details()
	switch {
	case !ok:
		return 0
	case d.gostHash != 0:
		return d.gostHash.Size()
	default:
		return d.hash.Size()
	}
}

// DigestOID is the OID of a's hash alone, as CMS digestAlgorithm and OCSP
// CertID write it.
func (a SignatureAlgorithm) DigestOID() asn1.ObjectIdentifier {
	d, ok := a.details()
	if !ok {
		return nil
	}
	return d.digestOID
}

var asn1NULL = asn1.RawValue{FullBytes: []byte{asn1.TagNull, 0}}

// AlgorithmIdentifier is how a is written in a signed object: GOST without
// parameters, RSA with NULL, ECDSA without.
func (a SignatureAlgorithm) AlgorithmIdentifier() pkix.AlgorithmIdentifier {
	d, ok := a.details()
	if !ok {
		return pkix.AlgorithmIdentifier{}
	}
	ai := pkix.AlgorithmIdentifier{Algorithm: d.oid}
	if d.write == paramsNULL {
		ai.Parameters = asn1NULL
	}
	return ai
}

// SignatureAlgorithmFromAI finds the algorithm an AlgorithmIdentifier names.
// GOST is accepted with parameters absent or NULL; anything else in the
// parameters is an error, since the OID alone fixes the hash.
func SignatureAlgorithmFromAI(ai pkix.AlgorithmIdentifier) (SignatureAlgorithm, error) {
	p := ai.Parameters
	if len(p.FullBytes) > 0 {
		// A RawValue built from DER alone: read its tag.
		if err := unmarshalExact(p.FullBytes, &p, ""); err != nil {
			return UnknownSignatureAlgorithm, fmt.Errorf("pki: malformed algorithm parameters: %w", err)
		}
	}
	absent := len(ai.Parameters.FullBytes) == 0 && p.Class == 0 && p.Tag == 0 && !p.IsCompound && len(p.Bytes) == 0
	null := p.Class == asn1.ClassUniversal && p.Tag == asn1.TagNull && !p.IsCompound && len(p.Bytes) == 0
	for _, d := range algorithmTable {
		if !d.oid.Equal(ai.Algorithm) {
			continue
		}
		switch {
		case absent && (d.read == paramsAbsent || d.read == paramsAbsentOrNULL),
			null && (d.read == paramsNULL || d.read == paramsAbsentOrNULL):
			return d.alg, nil
		}
		return UnknownSignatureAlgorithm, fmt.Errorf("%w: unexpected parameters for %s", ErrUnsupportedAlgorithm, d.name)
	}
	return UnknownSignatureAlgorithm, fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedAlgorithm, ai.Algorithm)
}

// DefaultSignatureAlgorithm picks the algorithm a key of this kind signs
// with: the GOST algorithm of the curve's size, ECDSA with the hash matching
// the curve, SHA-256 with RSA.
func DefaultSignatureAlgorithm(pub crypto.PublicKey) (SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *gost.PublicKey:
		if k.Curve == nil {
			break
		}
		switch k.Curve.Hash {
		case gost.Streebog256:
			return GOST256, nil
		case gost.Streebog512:
			return GOST512, nil
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAWithSHA256, nil
		case elliptic.P384():
			return ECDSAWithSHA384, nil
		case elliptic.P521():
			return ECDSAWithSHA512, nil
		}
	case *rsa.PublicKey:
		return SHA256WithRSA, nil
	}
	return UnknownSignatureAlgorithm, fmt.Errorf("%w: public key %T", ErrUnsupportedAlgorithm, pub)
}

// checkKey makes sure pub is a key alg can use.
func checkKey(d algorithmDetails, pub crypto.PublicKey) error {
	ok := false
	switch k := pub.(type) {
	case *gost.PublicKey:
		ok = k.Curve != nil && (d.key == keyGOST256 && k.Curve.Hash == gost.Streebog256 ||
			d.key == keyGOST512 && k.Curve.Hash == gost.Streebog512)
	case *ecdsa.PublicKey:
		ok = d.key == keyECDSA
	case *rsa.PublicKey:
		ok = d.key == keyRSA
	}
	if !ok {
		return fmt.Errorf("%w: %s cannot use a %s", ErrUnsupportedAlgorithm, d.name, describeKeyType(pub))
	}
	return nil
}

// VerifyingSigner is a crypto.Signer that itself verifies every signature
// against Public() before returning it, as pkcs11.Key does for each token
// signature. SignDigest does not verify such a signer's signatures a
// second time. A type wrapping one must not pass the method on unless its
// own Sign returns only what the wrapped signer verified.
type VerifyingSigner interface {
	crypto.Signer
	VerifiesSignatures() bool
}

// SignDigest signs a digest made with alg's hash (GOST digests in the order
// Streebog outputs them) through s, and checks the signature against
// s.Public() before returning it, so that a faulty token or a key/algorithm
// mismatch never leaves the process as a signed object; for a
// VerifyingSigner that check is the signer's own. GOST signatures are
// s ‖ r; ECDSA signatures are DER; RSA is PKCS #1 v1.5.
func SignDigest(rand io.Reader, s crypto.Signer, alg SignatureAlgorithm, digest []byte) ([]byte, error) {
	d, err := alg.mustDetails()
	if err != nil {
		return nil, err
	}
	pub := s.Public()
	if err := checkKey(d, pub); err != nil {
		return nil, err
	}
	if len(digest) != alg.HashSize() {
		return nil, fmt.Errorf("pki: %s needs a %d-byte digest, got %d", d.name, alg.HashSize(), len(digest))
	}
	var opts crypto.SignerOpts = d.hash
	if d.gostHash != 0 {
		opts = &gost.SignerOpts{Hash: d.gostHash}
	}
	sig, err := s.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("pki: signing with %s: %w", d.name, err)
	}
	if v, ok := s.(VerifyingSigner); ok && v.VerifiesSignatures() {
		return sig, nil
	}
	if err := CheckDigestSignature(alg, digest, sig, pub); err != nil {
		return nil, fmt.Errorf("pki: the signer returned a signature that does not verify: %w", err)
	}
	return sig, nil
}

// Sign hashes message with alg's hash and signs the digest (SignDigest).
func Sign(rand io.Reader, s crypto.Signer, alg SignatureAlgorithm, message []byte) ([]byte, error) {
	h := alg.NewHash()
	if h == nil {
		return nil, fmt.Errorf("%w: signature algorithm %d", ErrUnsupportedAlgorithm, int(alg))
	}
	h.Write(message)
	return SignDigest(rand, s, alg, h.Sum(nil))
}

// CheckSignature verifies sig over message with pub. A signature that does
// not verify gives an error wrapping ErrInvalidSignature.
func CheckSignature(alg SignatureAlgorithm, message, sig []byte, pub crypto.PublicKey) error {
	h := alg.NewHash()
	if h == nil {
		return fmt.Errorf("%w: signature algorithm %d", ErrUnsupportedAlgorithm, int(alg))
	}
	h.Write(message)
	return CheckDigestSignature(alg, h.Sum(nil), sig, pub)
}

// CheckDigestSignature verifies sig over a digest made with alg's hash.
func CheckDigestSignature(alg SignatureAlgorithm, digest, sig []byte, pub crypto.PublicKey) error {
	d, err := alg.mustDetails()
	if err != nil {
		return err
	}
	if err := checkKey(d, pub); err != nil {
		return err
	}
	if len(digest) != alg.HashSize() {
		return fmt.Errorf("pki: %s needs a %d-byte digest, got %d", d.name, alg.HashSize(), len(digest))
	}
	ok := false
	switch k := pub.(type) {
	case *gost.PublicKey:
		ok = k.Verify(digest, sig)
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, d.hash, digest, sig) == nil
	}
	if !ok {
		return fmt.Errorf("%w (%s)", ErrInvalidSignature, d.name)
	}
	return nil
}

func describeKeyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *gost.PublicKey:
		if k.Curve == nil {
			return "GOST key without a curve"
		}
		return fmt.Sprintf("GOST R 34.10-2012 %d-bit key", 8*k.Curve.Size())
	case *ecdsa.PublicKey:
		return fmt.Sprintf("ECDSA %s key", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit key", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}
