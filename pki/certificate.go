package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/big"
	"net"
	"slices"
	"time"
)

// Certificate is an X.509 certificate, parsed (ParseCertificate) or to be
// built (a template for CreateCertificate). The Raw fields, Version,
// Signature, Extensions and UnhandledCriticalExtensions are only filled by
// parsing.
type Certificate struct {
	Raw                     []byte // the whole DER certificate
	RawTBSCertificate       []byte
	RawSubjectPublicKeyInfo []byte
	RawSubject              []byte // a template's RawSubject, if set, is written instead of Subject
	RawIssuer               []byte

	Version            int // 1, 2 or 3
	SerialNumber       *big.Int
	Issuer             Name
	Subject            Name
	NotBefore          time.Time
	NotAfter           time.Time
	PublicKey          crypto.PublicKey // *gost.PublicKey, *ecdsa.PublicKey, *rsa.PublicKey; nil for other algorithms
	SignatureAlgorithm SignatureAlgorithm
	Signature          []byte

	// Extensions are all extensions as parsed. ExtraExtensions are written
	// after the typed ones; one with the OID of a typed extension replaces
	// it. UnhandledCriticalExtensions lists the critical extensions pki
	// does not understand: Verify rejects a certificate that has any.
	Extensions                  []pkix.Extension
	ExtraExtensions             []pkix.Extension
	UnhandledCriticalExtensions []asn1.ObjectIdentifier

	KeyUsage    x509.KeyUsage
	ExtKeyUsage []asn1.ObjectIdentifier

	// Basic constraints, with crypto/x509's conventions: MaxPathLen -1 (or
	// 0 without MaxPathLenZero) means no limit.
	BasicConstraintsValid bool
	IsCA                  bool
	MaxPathLen            int
	MaxPathLenZero        bool

	// Key identifiers. CreateCertificate fills empty ones (see KeyID).
	SubjectKeyId   []byte
	AuthorityKeyId []byte

	CRLDistributionPoints []string
	OCSPServer            []string // authorityInfoAccess id-ad-ocsp
	IssuingCertificateURL []string // authorityInfoAccess id-ad-caIssuers

	DNSNames       []string
	EmailAddresses []string
	IPAddresses    []net.IP

	PolicyIdentifiers []asn1.ObjectIdentifier // e.g. OIDPolicyKC1

	SubjectSignTool          string // 1.2.643.100.111
	IssuerSignTool           *IssuerSignTool
	PrivateKeyUsageNotBefore time.Time // privateKeyUsagePeriod, 2.5.29.16
	PrivateKeyUsageNotAfter  time.Time

	signatureAlgorithmOID asn1.ObjectIdentifier
	publicKeyAlgorithmOID asn1.ObjectIdentifier
}

// signedASN1 is the outer SEQUENCE of certificates, requests and CRLs:
// the signed DER, the signature algorithm, the signature.
type signedASN1 struct {
	TBS                asn1.RawValue
	SignatureAlgorithm asn1.RawValue
	Signature          asn1.BitString
}

// signTBS signs tbs, a DER to-be-signed structure, with alg and wraps it in
// a signedASN1. SignDigest has checked the signature by then.
func signTBS(random io.Reader, signer crypto.Signer, alg SignatureAlgorithm, tbs []byte) ([]byte, error) {
	sig, err := Sign(random, signer, alg, tbs)
	if err != nil {
		return nil, err
	}
	ai, err := asn1.Marshal(alg.AlgorithmIdentifier())
	if err != nil {
		return nil, fmt.Errorf("pki: signature algorithm: %w", err)
	}
	der, err := asn1.Marshal(signedASN1{
		TBS:                asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: asn1.RawValue{FullBytes: ai},
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("pki: encoding the signed object: %w", err)
	}
	return der, nil
}

type tbsCertificateASN1 struct {
	Version         int `asn1:"optional,explicit,default:0,tag:0"`
	SerialNumber    *big.Int
	Signature       asn1.RawValue
	Issuer          asn1.RawValue
	Validity        validity
	Subject         asn1.RawValue
	PublicKey       asn1.RawValue
	IssuerUniqueID  asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUniqueID asn1.BitString   `asn1:"optional,tag:2"`
	Extensions      []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
}

// validity marshals as RFC 5280 wants: UTCTime through 2049, then
// GeneralizedTime (encoding/asn1's rule for time.Time), both in UTC.
type validity struct {
	NotBefore, NotAfter time.Time
}

// derTime drops what DER time encodings cannot carry: sub-second digits
// and the zone (encoding/asn1 writes a local offset otherwise).
func derTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// ParseCertificate parses one DER certificate.
func ParseCertificate(der []byte) (*Certificate, error) {
	var cert signedASN1
	if err := unmarshalExact(der, &cert, ""); err != nil {
		return nil, fmt.Errorf("pki: malformed certificate: %w", err)
	}
	var tbs tbsCertificateASN1
	if err := unmarshalExact(cert.TBS.FullBytes, &tbs, ""); err != nil {
		return nil, fmt.Errorf("pki: malformed tbsCertificate: %w", err)
	}
	if !bytes.Equal(cert.SignatureAlgorithm.FullBytes, tbs.Signature.FullBytes) {
		return nil, errors.New("pki: malformed certificate: inner and outer signature algorithms differ")
	}
	c := &Certificate{
		Raw:                     der,
		RawTBSCertificate:       cert.TBS.FullBytes,
		RawSubjectPublicKeyInfo: tbs.PublicKey.FullBytes,
		RawSubject:              tbs.Subject.FullBytes,
		RawIssuer:               tbs.Issuer.FullBytes,
		Version:                 tbs.Version + 1,
		SerialNumber:            tbs.SerialNumber,
		NotBefore:               tbs.Validity.NotBefore,
		NotAfter:                tbs.Validity.NotAfter,
		Extensions:              tbs.Extensions,
	}
	if tbs.Version < 0 || tbs.Version > 2 {
		return nil, fmt.Errorf("pki: certificate version %d", tbs.Version+1)
	}
	if c.Version < 3 && len(tbs.Extensions) > 0 {
		return nil, errors.New("pki: extensions in a certificate before version 3")
	}
	var err error
	if c.signatureAlgorithmOID, c.SignatureAlgorithm, c.Signature, err = parseSignature(cert.SignatureAlgorithm, cert.Signature); err != nil {
		return nil, err
	}
	if c.Issuer, err = ParseNameDER(c.RawIssuer); err != nil {
		return nil, fmt.Errorf("pki: issuer: %w", err)
	}
	if c.Subject, err = ParseNameDER(c.RawSubject); err != nil {
		return nil, fmt.Errorf("pki: subject: %w", err)
	}
	if c.publicKeyAlgorithmOID, c.PublicKey, err = parseSubjectPublicKey(c.RawSubjectPublicKeyInfo); err != nil {
		return nil, err
	}
	if c.UnhandledCriticalExtensions, err = c.parseExtensions(tbs.Extensions); err != nil {
		return nil, err
	}
	return c, nil
}

// parseSignature reads a signatureAlgorithm and signature pair. An
// algorithm outside the table is recorded as Unknown rather than refused,
// so such objects can still be shown; checking them fails.
func parseSignature(aiRaw asn1.RawValue, sig asn1.BitString) (asn1.ObjectIdentifier, SignatureAlgorithm, []byte, error) {
	var ai pkix.AlgorithmIdentifier
	if err := unmarshalExact(aiRaw.FullBytes, &ai, ""); err != nil {
		return nil, 0, nil, fmt.Errorf("pki: malformed signature algorithm: %w", err)
	}
	octets, err := signatureOctets(sig)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("pki: signature: %w", err)
	}
	alg, err := SignatureAlgorithmFromAI(ai)
	if err != nil && !errors.Is(err, ErrUnsupportedAlgorithm) {
		return nil, 0, nil, err
	}
	return ai.Algorithm, alg, octets, nil
}

// signatureOctets returns a signature BIT STRING's octets, refusing padding
// bits: every signature format we read is whole octets.
func signatureOctets(b asn1.BitString) ([]byte, error) {
	if b.BitLength%8 != 0 {
		return nil, errors.New("BIT STRING is not a whole number of octets")
	}
	return b.Bytes, nil
}

// parseSubjectPublicKey parses a SubjectPublicKeyInfo, leaving the key nil
// for algorithms pki does not support.
func parseSubjectPublicKey(spki []byte) (asn1.ObjectIdentifier, crypto.PublicKey, error) {
	var info subjectPublicKeyInfo
	if err := unmarshalExact(spki, &info, ""); err != nil {
		return nil, nil, fmt.Errorf("pki: malformed SubjectPublicKeyInfo: %w", err)
	}
	pub, err := ParsePublicKey(spki)
	if errors.Is(err, ErrUnsupportedAlgorithm) {
		return info.Algorithm.Algorithm, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return info.Algorithm.Algorithm, pub, nil
}

// ParseCertificates reads certificates from PEM (any number of CERTIFICATE
// blocks; other blocks are skipped) or from DER (one or more concatenated
// certificates).
func ParseCertificates(data []byte) ([]*Certificate, error) {
	var certs []*Certificate
	if isPEM(data) {
		for block := range pemBlocks(data) {
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return nil, errors.New("pki: no CERTIFICATE block in PEM data")
		}
		return certs, nil
	}
	for rest := data; len(rest) > 0; {
		var raw asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &raw); err != nil {
			return nil, fmt.Errorf("pki: malformed certificate: %w", err)
		}
		c, err := ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("pki: no certificate in empty input")
	}
	return certs, nil
}

func isPEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// pemBlocks yields the PEM blocks of data in order, skipping the text
// around them as pem.Decode does.
func pemBlocks(data []byte) iter.Seq[*pem.Block] {
	return func(yield func(*pem.Block) bool) {
		for rest := data; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil || !yield(block) {
				return
			}
		}
	}
}

// firstPEMBlock returns the contents of the first block of one of types.
func firstPEMBlock(data []byte, types ...string) ([]byte, bool) {
	for block := range pemBlocks(data) {
		if slices.Contains(types, block.Type) {
			return block.Bytes, true
		}
	}
	return nil, false
}

// CheckSignature verifies that signature is c's key's signature over
// signed.
func (c *Certificate) CheckSignature(alg SignatureAlgorithm, signed, signature []byte) error {
	if c.PublicKey == nil {
		return fmt.Errorf("%w: public key algorithm %v", ErrUnsupportedAlgorithm, c.publicKeyAlgorithmOID)
	}
	return CheckSignature(alg, signed, signature, c.PublicKey)
}

// CheckSignatureFrom verifies that parent's key signed c. It checks only
// the signature: whether parent may issue certificates is Verify's
// business, so a self-signed certificate of any kind can check itself.
func (c *Certificate) CheckSignatureFrom(parent *Certificate) error {
	if c.SignatureAlgorithm == UnknownSignatureAlgorithm {
		return fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedAlgorithm, c.signatureAlgorithmOID)
	}
	return parent.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
}

// isSelfSigned reports whether c names itself as issuer and, when it has
// key identifiers, its own key as the signer's.
func (c *Certificate) isSelfSigned() bool {
	return namesMatch(c.RawIssuer, c.RawSubject) &&
		(len(c.AuthorityKeyId) == 0 || len(c.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId))
}

// Equal reports whether c and other are the same DER certificate.
func (c *Certificate) Equal(other *Certificate) bool {
	return c != nil && other != nil && bytes.Equal(c.Raw, other.Raw)
}

// maxSerialBytes is RFC 5280's limit on the serial number's encoding.
const maxSerialBytes = 20

// NewSerialNumber returns a random positive serial number of at most 20
// DER bytes (159 random bits), as CAs should use (CA/B BR §7.1).
func NewSerialNumber(random io.Reader) (*big.Int, error) {
	if random == nil {
		random = rand.Reader
	}
	limit := new(big.Int).Lsh(big.NewInt(1), 8*maxSerialBytes-1)
	for {
		n, err := rand.Int(random, limit)
		if err != nil {
			return nil, fmt.Errorf("pki: serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

func checkSerial(n *big.Int) error {
	if n == nil || n.Sign() <= 0 {
		return errors.New("pki: serial number must be positive")
	}
	// DER adds a zero byte when the top bit is set, so the limit is on the
	// bit length plus that sign bit.
	if n.BitLen()/8+1 > maxSerialBytes {
		return errors.New("pki: serial number longer than 20 bytes")
	}
	return nil
}

// algorithmFor is alg, or when alg is zero the default algorithm of the
// signer's key.
func algorithmFor(alg SignatureAlgorithm, signer crypto.Signer) (SignatureAlgorithm, error) {
	if alg != UnknownSignatureAlgorithm {
		return alg, nil
	}
	return DefaultSignatureAlgorithm(signer.Public())
}

// nameDER is raw when set (a parsed name, copied byte for byte), else the
// encoding of n.
func nameDER(raw []byte, n Name) ([]byte, error) {
	if len(raw) > 0 {
		return raw, nil
	}
	return n.Marshal()
}

// CreateCertificate builds an X.509 v3 certificate from template for the
// key pub, signed by signer as parent (nil parent: self-signed, and signer
// must hold pub's private key). The result is DER.
//
// From template it takes SerialNumber (nil: NewSerialNumber), Subject (or
// RawSubject), NotBefore, NotAfter, SignatureAlgorithm (0: the signer's
// default), the typed extension fields and ExtraExtensions. An empty
// SubjectKeyId becomes KeyID(pub); an empty AuthorityKeyId becomes the
// parent's SubjectKeyId (for a self-signed certificate, its own). The
// issuer name is parent.RawSubject byte for byte. The signature is checked
// before the certificate is returned.
func CreateCertificate(random io.Reader, template, parent *Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	if template == nil || signer == nil {
		return nil, errors.New("pki: CreateCertificate needs a template and a signer")
	}
	if random == nil {
		random = rand.Reader
	}
	alg, err := algorithmFor(template.SignatureAlgorithm, signer)
	if err != nil {
		return nil, err
	}
	serial := template.SerialNumber
	if serial == nil {
		if serial, err = NewSerialNumber(random); err != nil {
			return nil, err
		}
	}
	if err := checkSerial(serial); err != nil {
		return nil, err
	}
	if template.NotBefore.IsZero() || template.NotAfter.IsZero() || !template.NotAfter.After(template.NotBefore) {
		return nil, errors.New("pki: the validity period needs NotBefore before NotAfter")
	}
	spki, err := MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	subject, err := nameDER(template.RawSubject, template.Subject)
	if err != nil {
		return nil, err
	}

	ext := *template
	if len(ext.SubjectKeyId) == 0 {
		if ext.SubjectKeyId, err = keyIDFromSPKI(spki); err != nil {
			return nil, err
		}
	}
	issuer, issuerKey := subject, pub
	if parent != nil {
		if issuer, err = nameDER(parent.RawSubject, parent.Subject); err != nil {
			return nil, err
		}
		issuerKey = parent.PublicKey
		if len(ext.AuthorityKeyId) == 0 {
			ext.AuthorityKeyId = parent.SubjectKeyId
		}
	} else if len(ext.AuthorityKeyId) == 0 {
		ext.AuthorityKeyId = ext.SubjectKeyId
	}
	if !publicKeysEqual(signer.Public(), issuerKey) {
		if parent == nil {
			return nil, errors.New("pki: a self-signed certificate must be signed by its own key")
		}
		return nil, errors.New("pki: the signer's key is not the parent certificate's key")
	}
	exts, err := ext.marshalExtensions()
	if err != nil {
		return nil, err
	}
	if exts, err = mergeExtensions(exts, template.ExtraExtensions); err != nil {
		return nil, err
	}
	aiDER, err := asn1.Marshal(alg.AlgorithmIdentifier())
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	tbs := tbsCertificateASN1{
		Version:      2,
		SerialNumber: serial,
		Signature:    asn1.RawValue{FullBytes: aiDER},
		Issuer:       asn1.RawValue{FullBytes: issuer},
		Validity:     validity{derTime(template.NotBefore), derTime(template.NotAfter)},
		Subject:      asn1.RawValue{FullBytes: subject},
		PublicKey:    asn1.RawValue{FullBytes: spki},
		Extensions:   exts,
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		return nil, fmt.Errorf("pki: tbsCertificate: %w", err)
	}
	der, err := signTBS(random, signer, alg, tbsDER)
	if err != nil {
		return nil, err
	}
	// Reading our own output back catches an encoding that other parsers
	// would refuse before it leaves the process.
	if _, err := ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("pki: built an unreadable certificate: %w", err)
	}
	return der, nil
}
