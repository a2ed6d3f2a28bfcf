package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
)

// oidExtensionRequest is the PKCS #9 extensionRequest attribute, which
// carries the extensions a requester asks for.
var oidExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}

// CertificateRequest is a PKCS #10 certification request, parsed or to be
// built (a template for CreateCertificateRequest). The typed fields are the
// requested extensions (the extensionRequest attribute); a CA decides what
// it actually grants.
type CertificateRequest struct {
	Raw                      []byte
	RawTBSCertificateRequest []byte
	RawSubjectPublicKeyInfo  []byte
	RawSubject               []byte

	Version            int // 0, the only version PKCS #10 defines
	Subject            Name
	PublicKey          crypto.PublicKey // nil for algorithms pki does not support
	SignatureAlgorithm SignatureAlgorithm
	Signature          []byte

	Extensions                  []pkix.Extension // requested, as parsed
	ExtraExtensions             []pkix.Extension // written after the typed ones; same OID replaces
	UnhandledCriticalExtensions []asn1.ObjectIdentifier

	KeyUsage              x509.KeyUsage
	ExtKeyUsage           []asn1.ObjectIdentifier
	BasicConstraintsValid bool
	IsCA                  bool
	DNSNames              []string
	EmailAddresses        []string
	IPAddresses           []net.IP
	PolicyIdentifiers     []asn1.ObjectIdentifier
	SubjectSignTool       string

	signatureAlgorithmOID asn1.ObjectIdentifier
	publicKeyAlgorithmOID asn1.ObjectIdentifier
}

type tbsRequestASN1 struct {
	Version    int
	Subject    asn1.RawValue
	PublicKey  asn1.RawValue
	Attributes asn1.RawValue // [0] IMPLICIT SET OF Attribute, always present
}

type attributeASN1 struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF ANY
}

// asCertificate carries the requested extension values into a Certificate,
// whose methods encode and decode them.
func (r *CertificateRequest) asCertificate() *Certificate {
	return &Certificate{
		KeyUsage: r.KeyUsage, ExtKeyUsage: r.ExtKeyUsage,
		BasicConstraintsValid: r.BasicConstraintsValid, IsCA: r.IsCA, MaxPathLen: -1,
		DNSNames: r.DNSNames, EmailAddresses: r.EmailAddresses, IPAddresses: r.IPAddresses,
		PolicyIdentifiers: r.PolicyIdentifiers, SubjectSignTool: r.SubjectSignTool,
	}
}

// CreateCertificateRequest builds a PKCS #10 request for signer's public
// key, signed by signer, from template's Subject (or RawSubject),
// SignatureAlgorithm (0: the key's default), requested extension fields and
// ExtraExtensions. The result is DER; its signature is checked first.
func CreateCertificateRequest(random io.Reader, template *CertificateRequest, signer crypto.Signer) ([]byte, error) {
	if template == nil || signer == nil {
		return nil, errors.New("pki: CreateCertificateRequest needs a template and a signer")
	}
	if random == nil {
		random = rand.Reader
	}
	alg, err := algorithmFor(template.SignatureAlgorithm, signer)
	if err != nil {
		return nil, err
	}
	spki, err := MarshalPublicKey(signer.Public())
	if err != nil {
		return nil, err
	}
	subject, err := nameDER(template.RawSubject, template.Subject)
	if err != nil {
		return nil, err
	}
	exts, err := template.asCertificate().marshalExtensions()
	if err != nil {
		return nil, err
	}
	if exts, err = mergeExtensions(exts, template.ExtraExtensions); err != nil {
		return nil, err
	}
	var attrs []byte
	if len(exts) > 0 {
		extsDER, err := asn1.Marshal(exts)
		if err != nil {
			return nil, fmt.Errorf("pki: extensionRequest: %w", err)
		}
		values, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: extsDER})
		if err != nil {
			return nil, fmt.Errorf("pki: extensionRequest: %w", err)
		}
		if attrs, err = asn1.Marshal(attributeASN1{oidExtensionRequest, asn1.RawValue{FullBytes: values}}); err != nil {
			return nil, fmt.Errorf("pki: extensionRequest: %w", err)
		}
	}
	attrsDER, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrs})
	if err != nil {
		return nil, fmt.Errorf("pki: request attributes: %w", err)
	}
	tbsDER, err := asn1.Marshal(tbsRequestASN1{
		Subject:    asn1.RawValue{FullBytes: subject},
		PublicKey:  asn1.RawValue{FullBytes: spki},
		Attributes: asn1.RawValue{FullBytes: attrsDER},
	})
	if err != nil {
		return nil, fmt.Errorf("pki: certificationRequestInfo: %w", err)
	}
	der, err := signTBS(random, signer, alg, tbsDER)
	if err != nil {
		return nil, err
	}
	if _, err := ParseCertificateRequest(der); err != nil {
		return nil, fmt.Errorf("pki: built an unreadable request: %w", err)
	}
	return der, nil
}

// ParseCertificateRequest parses a DER PKCS #10 request, or the first
// CERTIFICATE REQUEST (or NEW CERTIFICATE REQUEST) block of PEM input. It
// does not check the signature: call CheckSignature.
func ParseCertificateRequest(data []byte) (*CertificateRequest, error) {
	der := data
	if isPEM(data) {
		var ok bool
		if der, ok = firstPEMBlock(data, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"); !ok {
			return nil, errors.New("pki: no CERTIFICATE REQUEST block in PEM data")
		}
	}
	var req signedASN1
	if err := unmarshalExact(der, &req, ""); err != nil {
		return nil, fmt.Errorf("pki: malformed certification request: %w", err)
	}
	var tbs tbsRequestASN1
	if err := unmarshalExact(req.TBS.FullBytes, &tbs, ""); err != nil {
		return nil, fmt.Errorf("pki: malformed certificationRequestInfo: %w", err)
	}
	if tbs.Version != 0 {
		return nil, fmt.Errorf("pki: certification request version %d", tbs.Version)
	}
	r := &CertificateRequest{
		Raw:                      der,
		RawTBSCertificateRequest: req.TBS.FullBytes,
		RawSubjectPublicKeyInfo:  tbs.PublicKey.FullBytes,
		RawSubject:               tbs.Subject.FullBytes,
	}
	var err error
	if r.signatureAlgorithmOID, r.SignatureAlgorithm, r.Signature, err = parseSignature(req.SignatureAlgorithm, req.Signature); err != nil {
		return nil, err
	}
	if r.Subject, err = ParseNameDER(r.RawSubject); err != nil {
		return nil, fmt.Errorf("pki: subject: %w", err)
	}
	if r.publicKeyAlgorithmOID, r.PublicKey, err = parseSubjectPublicKey(r.RawSubjectPublicKeyInfo); err != nil {
		return nil, err
	}
	if r.Extensions, err = requestedExtensions(tbs.Attributes); err != nil {
		return nil, err
	}
	c := r.asCertificate()
	if r.UnhandledCriticalExtensions, err = c.parseExtensions(r.Extensions); err != nil {
		return nil, err
	}
	r.KeyUsage, r.ExtKeyUsage = c.KeyUsage, c.ExtKeyUsage
	r.BasicConstraintsValid, r.IsCA = c.BasicConstraintsValid, c.IsCA
	r.DNSNames, r.EmailAddresses, r.IPAddresses = c.DNSNames, c.EmailAddresses, c.IPAddresses
	r.PolicyIdentifiers, r.SubjectSignTool = c.PolicyIdentifiers, c.SubjectSignTool
	return r, nil
}

// requestedExtensions finds the extensionRequest attribute; the other
// attributes (challengePassword and the like) are skipped.
func requestedExtensions(attrs asn1.RawValue) ([]pkix.Extension, error) {
	if attrs.Class != asn1.ClassContextSpecific || attrs.Tag != 0 || !attrs.IsCompound {
		return nil, errors.New("pki: malformed request attributes")
	}
	var exts []pkix.Extension
	found := false
	for rest := attrs.Bytes; len(rest) > 0; {
		var a attributeASN1
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return nil, fmt.Errorf("pki: malformed request attribute: %w", err)
		}
		if !a.Type.Equal(oidExtensionRequest) {
			continue
		}
		if found {
			return nil, errors.New("pki: two extensionRequest attributes")
		}
		found = true
		if a.Values.Class != asn1.ClassUniversal || a.Values.Tag != asn1.TagSet {
			return nil, errors.New("pki: malformed extensionRequest values")
		}
		if err := unmarshalExact(a.Values.Bytes, &exts, ""); err != nil {
			return nil, fmt.Errorf("pki: malformed extensionRequest: %w", err)
		}
	}
	return exts, nil
}

// CheckSignature verifies the request's self-signature, proving the
// requester holds the private key.
func (r *CertificateRequest) CheckSignature() error {
	if r.SignatureAlgorithm == UnknownSignatureAlgorithm {
		return fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedAlgorithm, r.signatureAlgorithmOID)
	}
	if r.PublicKey == nil {
		return fmt.Errorf("%w: public key algorithm %v", ErrUnsupportedAlgorithm, r.publicKeyAlgorithmOID)
	}
	return CheckSignature(r.SignatureAlgorithm, r.RawTBSCertificateRequest, r.Signature, r.PublicKey)
}

// Equal reports whether r and other are the same DER request.
func (r *CertificateRequest) Equal(other *CertificateRequest) bool {
	return r != nil && other != nil && bytes.Equal(r.Raw, other.Raw)
}
