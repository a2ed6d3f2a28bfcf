package cms

import (
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// Content types and attribute types (RFC 5652 §4, §11; RFC 2634 §5.4;
// RFC 5035 §3).
var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

// Algorithm identifiers that appear in SignerInfo.signatureAlgorithm, beside
// the GOST 2012 key and signature OIDs of the gost package. CMS producers
// disagree here (fact sheet §4.1: OpenSSL writes the GOST public key OID,
// others the sign-with-digest OID or the GOST 2001 key OID), so a verifier
// takes the algorithm from the certificate key and the digestAlgorithm and
// only checks that signatureAlgorithm names the same key family. The
// sign-with-digest OIDs are those of pki's algorithm table, so that the
// two packages cannot disagree on them.
var (
	oidGOST2001        = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 19}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA256 = pki.ECDSAWithSHA256.AlgorithmIdentifier().Algorithm
	oidECDSAWithSHA384 = pki.ECDSAWithSHA384.AlgorithmIdentifier().Algorithm
	oidECDSAWithSHA512 = pki.ECDSAWithSHA512.AlgorithmIdentifier().Algorithm
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA   = pki.SHA256WithRSA.AlgorithmIdentifier().Algorithm
	oidSHA384WithRSA   = pki.SHA384WithRSA.AlgorithmIdentifier().Algorithm
	oidSHA512WithRSA   = pki.SHA512WithRSA.AlgorithmIdentifier().Algorithm
	oidSHA1            = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256          = pki.SHA256WithRSA.DigestOID()
)

type family int

const (
	familyUnknown family = iota
	familyGOST
	familyECDSA
	familyRSA
)

// algorithms is the table of signature algorithms CMS signs and verifies
// with: the key family, the CMS digestAlgorithm and what signatureAlgorithm
// we write.
var algorithms = []struct {
	alg    pki.SignatureAlgorithm
	family family
	// sigOID is what Sign writes as signatureAlgorithm; nullParams says
	// whether it and digestAlgorithm carry NULL parameters (as OpenSSL
	// writes for GOST) or none (RFC 5754, RFC 5758 for SHA-2 and ECDSA).
	sigOID     asn1.ObjectIdentifier
	nullParams bool
}{
	{pki.GOST256, familyGOST, gost.OIDPublicKey256, true},
	{pki.GOST512, familyGOST, gost.OIDPublicKey512, true},
	{pki.ECDSAWithSHA256, familyECDSA, oidECDSAWithSHA256, false},
	{pki.ECDSAWithSHA384, familyECDSA, oidECDSAWithSHA384, false},
	{pki.ECDSAWithSHA512, familyECDSA, oidECDSAWithSHA512, false},
	{pki.SHA256WithRSA, familyRSA, oidRSAEncryption, true},
	{pki.SHA384WithRSA, familyRSA, oidRSAEncryption, true},
	{pki.SHA512WithRSA, familyRSA, oidRSAEncryption, true},
}

// signatureOIDFamilies lists the signatureAlgorithm OIDs accepted on
// verification for each key family.
var signatureOIDFamilies = []struct {
	oid    asn1.ObjectIdentifier
	family family
}{
	{gost.OIDPublicKey256, familyGOST},
	{gost.OIDPublicKey512, familyGOST},
	{gost.OIDSignature256, familyGOST},
	{gost.OIDSignature512, familyGOST},
	{oidGOST2001, familyGOST},
	{oidECPublicKey, familyECDSA},
	{oidECDSAWithSHA256, familyECDSA},
	{oidECDSAWithSHA384, familyECDSA},
	{oidECDSAWithSHA512, familyECDSA},
	{oidRSAEncryption, familyRSA},
	{oidSHA256WithRSA, familyRSA},
	{oidSHA384WithRSA, familyRSA},
	{oidSHA512WithRSA, familyRSA},
}

func familyOf(alg pki.SignatureAlgorithm) family {
	for _, a := range algorithms {
		if a.alg == alg {
			return a.family
		}
	}
	return familyUnknown
}

func familyOfSignatureOID(oid asn1.ObjectIdentifier) family {
	for _, f := range signatureOIDFamilies {
		if f.oid.Equal(oid) {
			return f.family
		}
	}
	return familyUnknown
}

var asn1NULL = asn1.RawValue{Tag: asn1.TagNull, FullBytes: []byte{0x05, 0x00}}

// identifiers returns the digestAlgorithm and signatureAlgorithm that Sign
// writes for alg.
func identifiers(alg pki.SignatureAlgorithm) (digest, signature pkix.AlgorithmIdentifier, err error) {
	for _, a := range algorithms {
		if a.alg != alg {
			continue
		}
		digest = pkix.AlgorithmIdentifier{Algorithm: alg.DigestOID()}
		signature = pkix.AlgorithmIdentifier{Algorithm: a.sigOID}
		if a.nullParams {
			digest.Parameters = asn1NULL
			signature.Parameters = asn1NULL
		}
		if a.family == familyRSA {
			// RFC 5754 §2: SHA-2 digest identifiers go without parameters
			// whatever the signature key.
			digest.Parameters = asn1.RawValue{}
		}
		return digest, signature, nil
	}
	return digest, signature, fmt.Errorf("cms: unsupported signature algorithm %v", alg)
}

// signerAlgorithm picks the signature algorithm of a SignerInfo from the
// certificate key and the digestAlgorithm (fact sheet §4.1), and checks that
// signatureAlgorithm names the same key family.
func signerAlgorithm(pub any, digestAI, signatureAI pkix.AlgorithmIdentifier) (pki.SignatureAlgorithm, error) {
	def, err := pki.DefaultSignatureAlgorithm(pub)
	if err != nil {
		return 0, err
	}
	fam := familyOf(def)
	if f := familyOfSignatureOID(signatureAI.Algorithm); f != fam {
		return 0, fmt.Errorf("signatureAlgorithm %v does not match the %v key", signatureAI.Algorithm, def)
	}
	for _, a := range algorithms {
		if a.family != fam || !a.alg.DigestOID().Equal(digestAI.Algorithm) {
			continue
		}
		// A GOST key size fixes its hash: a 256-bit key with Streebog-512
		// is no valid combination.
		if fam == familyGOST && a.alg != def {
			break
		}
		return a.alg, nil
	}
	return 0, fmt.Errorf("digestAlgorithm %v cannot go with a %v key", digestAI.Algorithm, def)
}

// newDigest returns a hash for a CMS or ESS digest algorithm OID.
func newDigest(oid asn1.ObjectIdentifier) (hash.Hash, bool) {
	if oid.Equal(oidSHA1) {
		return sha1.New(), true
	}
	for _, a := range algorithms {
		if a.alg.DigestOID().Equal(oid) {
			return a.alg.NewHash(), true
		}
	}
	return nil, false
}
