package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"time"
)

// Extension OIDs gostkey reads into typed fields and writes from them.
var (
	OIDExtensionSubjectKeyID          = asn1.ObjectIdentifier{2, 5, 29, 14}
	OIDExtensionKeyUsage              = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDExtensionPrivateKeyUsagePeriod = asn1.ObjectIdentifier{2, 5, 29, 16}
	OIDExtensionSubjectAltName        = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDExtensionBasicConstraints      = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDExtensionCRLDistributionPoints = asn1.ObjectIdentifier{2, 5, 29, 31}
	OIDExtensionCertificatePolicies   = asn1.ObjectIdentifier{2, 5, 29, 32}
	OIDExtensionAuthorityKeyID        = asn1.ObjectIdentifier{2, 5, 29, 35}
	OIDExtensionExtKeyUsage           = asn1.ObjectIdentifier{2, 5, 29, 37}
	OIDExtensionAuthorityInfoAccess   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	OIDExtensionSubjectSignTool       = asn1.ObjectIdentifier{1, 2, 643, 100, 111}
	OIDExtensionIssuerSignTool        = asn1.ObjectIdentifier{1, 2, 643, 100, 112}

	oidAccessOCSP      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1}
	oidAccessCAIssuers = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 2}
)

// Certificate policy OIDs: the classes of the holder's signing tool in the
// Russian qualified profile (КС1…КА1), and anyPolicy.
var (
	OIDPolicyKC1       = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 1}
	OIDPolicyKC2       = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 2}
	OIDPolicyKC3       = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 3}
	OIDPolicyKB1       = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 4}
	OIDPolicyKB2       = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 5}
	OIDPolicyKA1       = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 6}
	OIDPolicyAnyPolicy = asn1.ObjectIdentifier{2, 5, 29, 32, 0}
)

// Extended key usage OIDs.
var (
	OIDExtKeyUsageAny             = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
	OIDExtKeyUsageServerAuth      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	OIDExtKeyUsageClientAuth      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	OIDExtKeyUsageCodeSigning     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
	OIDExtKeyUsageEmailProtection = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}
	OIDExtKeyUsageTimeStamping    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	OIDExtKeyUsageOCSPSigning     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 9}
	// OIDExtKeyUsageDocumentSigning is RFC 9336's general-purpose
	// id-kp-documentSigning.
	OIDExtKeyUsageDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
	// OIDExtKeyUsageMSDocumentSigning is Microsoft's document signing
	// purpose (szOID_KP_DOCUMENT_SIGNING), which some document signing
	// certificates carry instead of RFC 9336's.
	OIDExtKeyUsageMSDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 12}
)

// Extended key usage OIDs of the Russian PKI, from the CryptoPro arc
// (1.2.643.2.2.34, CryptoPro CA's purposes). Qualified certificates for
// signing documents issued on CryptoPro CA software commonly carry
// OIDExtKeyUsageCryptoProRAUser beside emailProtection and clientAuth.
var (
	// OIDExtKeyUsageCryptoProTLSProxy: TLS traffic audit (szOID_KP_TLS_PROXY).
	OIDExtKeyUsageCryptoProTLSProxy = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 1}
	// OIDExtKeyUsageCryptoProRAClientAuth: temporary access to the
	// registration centre (szOID_KP_RA_CLIENT_AUTH).
	OIDExtKeyUsageCryptoProRAClientAuth = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 2}
	// OIDExtKeyUsageCryptoProWebContentSigning: signing web content
	// (szOID_KP_WEB_CONTENT_SIGNING).
	OIDExtKeyUsageCryptoProWebContentSigning = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 3}
	// OIDExtKeyUsageCryptoProRAAdministrator: registration centre
	// administrator (szOID_KP_RA_ADMINISTRATOR).
	OIDExtKeyUsageCryptoProRAAdministrator = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 4}
	// OIDExtKeyUsageCryptoProRAOperator: registration centre operator
	// (szOID_KP_RA_OPERATOR).
	OIDExtKeyUsageCryptoProRAOperator = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 5}
	// OIDExtKeyUsageCryptoProRAUser: user of the registration centre
	// («Пользователь Центра Регистрации, HTTP, TLS клиент»).
	OIDExtKeyUsageCryptoProRAUser = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 6}
	// OIDExtKeyUsageCryptoProTSPUser: user of the time-stamp service.
	OIDExtKeyUsageCryptoProTSPUser = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 25}
	// OIDExtKeyUsageCryptoProOCSPUser: user of the certificate status
	// (OCSP) service.
	OIDExtKeyUsageCryptoProOCSPUser = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 34, 26}
)

// IssuerSignTool is the issuerSignTool extension (1.2.643.100.112): the
// names of the holder's signing tool and of the CA's tool, and of the
// certificates of conformity of each.
type IssuerSignTool struct {
	SignTool     string `asn1:"utf8"`
	CATool       string `asn1:"utf8"`
	SignToolCert string `asn1:"utf8"`
	CAToolCert   string `asn1:"utf8"`
}

// handledExtensions are the extensions parseExtensions understands; any
// other critical extension makes verification fail.
var handledExtensions = []asn1.ObjectIdentifier{
	OIDExtensionSubjectKeyID, OIDExtensionKeyUsage, OIDExtensionPrivateKeyUsagePeriod,
	OIDExtensionSubjectAltName, OIDExtensionBasicConstraints, OIDExtensionCRLDistributionPoints,
	OIDExtensionCertificatePolicies, OIDExtensionAuthorityKeyID, OIDExtensionExtKeyUsage,
	OIDExtensionAuthorityInfoAccess, OIDExtensionSubjectSignTool, OIDExtensionIssuerSignTool,
}

func isHandled(oid asn1.ObjectIdentifier) bool {
	for _, h := range handledExtensions {
		if h.Equal(oid) {
			return true
		}
	}
	return false
}

type basicConstraints struct {
	IsCA       bool `asn1:"optional"`
	MaxPathLen int  `asn1:"optional,default:-1"`
}

type authorityKeyID struct {
	ID     []byte        `asn1:"optional,tag:0"`
	Issuer asn1.RawValue `asn1:"optional,tag:1"`
	Serial asn1.RawValue `asn1:"optional,tag:2"`
}

type distributionPoint struct {
	DistributionPoint distributionPointName `asn1:"optional,tag:0"`
	Reason            asn1.BitString        `asn1:"optional,tag:1"`
	CRLIssuer         asn1.RawValue         `asn1:"optional,tag:2"`
}

type distributionPointName struct {
	FullName     []asn1.RawValue `asn1:"optional,tag:0"`
	RelativeName asn1.RawValue   `asn1:"optional,tag:1"`
}

type accessDescription struct {
	Method   asn1.ObjectIdentifier
	Location asn1.RawValue
}

type policyInformation struct {
	Policy     asn1.ObjectIdentifier
	Qualifiers asn1.RawValue `asn1:"optional"`
}

type privateKeyUsagePeriod struct {
	NotBefore asn1.RawValue `asn1:"optional,tag:0"`
	NotAfter  asn1.RawValue `asn1:"optional,tag:1"`
}

// GeneralName tags (context-specific, implicit).
const (
	generalNameEmail = 1
	generalNameDNS   = 2
	generalNameURI   = 6
	generalNameIP    = 7
)

// marshalExtensions writes the typed fields in a fixed order. The key
// identifiers are the caller's: CreateCertificate fills them.
func (c *Certificate) marshalExtensions() ([]pkix.Extension, error) {
	var exts []pkix.Extension
	add := func(oid asn1.ObjectIdentifier, critical bool, v any, params string) error {
		der, err := asn1.MarshalWithParams(v, params)
		if err != nil {
			return fmt.Errorf("pki: extension %s: %w", extensionName(oid), err)
		}
		exts = append(exts, pkix.Extension{Id: oid, Critical: critical, Value: der})
		return nil
	}
	var err error
	if c.BasicConstraintsValid {
		bc := basicConstraints{IsCA: c.IsCA, MaxPathLen: -1}
		if c.MaxPathLen > 0 || c.MaxPathLen == 0 && c.MaxPathLenZero {
			if !c.IsCA {
				return nil, errors.New("pki: a path length constraint needs IsCA")
			}
			bc.MaxPathLen = c.MaxPathLen
		}
		// RFC 5280 §4.2.1.9: critical in CA certificates; OpenSSL and
		// crypto/x509 mark it critical in end-entity ones too.
		if err = add(OIDExtensionBasicConstraints, true, bc, ""); err != nil {
			return nil, err
		}
	}
	if c.KeyUsage != 0 {
		if err = add(OIDExtensionKeyUsage, true, keyUsageBits(c.KeyUsage), ""); err != nil {
			return nil, err
		}
	}
	if len(c.ExtKeyUsage) > 0 {
		if err = add(OIDExtensionExtKeyUsage, false, c.ExtKeyUsage, ""); err != nil {
			return nil, err
		}
	}
	if len(c.SubjectKeyId) > 0 {
		if err = add(OIDExtensionSubjectKeyID, false, c.SubjectKeyId, ""); err != nil {
			return nil, err
		}
	}
	if len(c.AuthorityKeyId) > 0 {
		if err = add(OIDExtensionAuthorityKeyID, false, authorityKeyID{ID: c.AuthorityKeyId}, ""); err != nil {
			return nil, err
		}
	}
	if !c.PrivateKeyUsageNotBefore.IsZero() || !c.PrivateKeyUsageNotAfter.IsZero() {
		var p privateKeyUsagePeriod
		if p.NotBefore, err = implicitGeneralizedTime(0, c.PrivateKeyUsageNotBefore); err != nil {
			return nil, err
		}
		if p.NotAfter, err = implicitGeneralizedTime(1, c.PrivateKeyUsageNotAfter); err != nil {
			return nil, err
		}
		if err = add(OIDExtensionPrivateKeyUsagePeriod, false, p, ""); err != nil {
			return nil, err
		}
	}
	if len(c.PolicyIdentifiers) > 0 {
		pols := make([]policyInformation, len(c.PolicyIdentifiers))
		for i, oid := range c.PolicyIdentifiers {
			pols[i].Policy = oid
		}
		if err = add(OIDExtensionCertificatePolicies, false, pols, ""); err != nil {
			return nil, err
		}
	}
	if c.SubjectSignTool != "" {
		if err = add(OIDExtensionSubjectSignTool, false, c.SubjectSignTool, "utf8"); err != nil {
			return nil, err
		}
	}
	if c.IssuerSignTool != nil {
		if err = add(OIDExtensionIssuerSignTool, false, *c.IssuerSignTool, ""); err != nil {
			return nil, err
		}
	}
	if len(c.DNSNames)+len(c.EmailAddresses)+len(c.IPAddresses) > 0 {
		var names []asn1.RawValue
		for _, e := range c.EmailAddresses {
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: generalNameEmail, Bytes: []byte(e)})
		}
		for _, d := range c.DNSNames {
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: generalNameDNS, Bytes: []byte(d)})
		}
		for _, ip := range c.IPAddresses {
			b := ip.To4()
			if b == nil {
				b = ip.To16()
			}
			if b == nil {
				return nil, fmt.Errorf("pki: bad IP address %v", ip)
			}
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: generalNameIP, Bytes: b})
		}
		if err = add(OIDExtensionSubjectAltName, false, names, ""); err != nil {
			return nil, err
		}
	}
	if len(c.CRLDistributionPoints) > 0 {
		dps := make([]distributionPoint, len(c.CRLDistributionPoints))
		for i, u := range c.CRLDistributionPoints {
			dps[i].DistributionPoint.FullName = []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: generalNameURI, Bytes: []byte(u)}}
		}
		if err = add(OIDExtensionCRLDistributionPoints, false, dps, ""); err != nil {
			return nil, err
		}
	}
	if len(c.OCSPServer)+len(c.IssuingCertificateURL) > 0 {
		var aia []accessDescription
		for _, u := range c.OCSPServer {
			aia = append(aia, accessDescription{oidAccessOCSP, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: generalNameURI, Bytes: []byte(u)}})
		}
		for _, u := range c.IssuingCertificateURL {
			aia = append(aia, accessDescription{oidAccessCAIssuers, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: generalNameURI, Bytes: []byte(u)}})
		}
		if err = add(OIDExtensionAuthorityInfoAccess, false, aia, ""); err != nil {
			return nil, err
		}
	}
	return exts, nil
}

// mergeExtensions appends extra to exts; an extra extension with the OID
// of a typed one replaces it, so callers can override any encoding.
func mergeExtensions(exts, extra []pkix.Extension) ([]pkix.Extension, error) {
	out := make([]pkix.Extension, 0, len(exts)+len(extra))
	for _, e := range exts {
		if !hasExtension(extra, e.Id) {
			out = append(out, e)
		}
	}
	for i, e := range extra {
		if hasExtension(extra[:i], e.Id) {
			return nil, fmt.Errorf("pki: extension %s given twice", extensionName(e.Id))
		}
		out = append(out, e)
	}
	return out, nil
}

func hasExtension(exts []pkix.Extension, oid asn1.ObjectIdentifier) bool {
	for _, e := range exts {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// keyUsageBits encodes x509.KeyUsage (bit i = 1<<i) as the DER BIT STRING
// of RFC 5280, trailing zero bits dropped.
func keyUsageBits(ku x509.KeyUsage) asn1.BitString {
	var b [2]byte
	n := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
			n = i + 1
		}
	}
	return asn1.BitString{Bytes: b[:(n+7)/8], BitLength: n}
}

func implicitGeneralizedTime(tag int, t time.Time) (asn1.RawValue, error) {
	if t.IsZero() {
		return asn1.RawValue{}, nil
	}
	der, err := asn1.MarshalWithParams(derTime(t), "generalized")
	if err != nil {
		return asn1.RawValue{}, err
	}
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: v.Bytes}, nil
}

func parseImplicitGeneralizedTime(v asn1.RawValue) (time.Time, error) {
	if len(v.FullBytes) == 0 {
		return time.Time{}, nil
	}
	der, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: v.Bytes})
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	if _, err := asn1.UnmarshalWithParams(der, &t, "generalized"); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// unmarshalExact decodes der into v and refuses trailing bytes.
func unmarshalExact(der []byte, v any, params string) error {
	rest, err := asn1.UnmarshalWithParams(der, v, params)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

// parseExtensions fills the typed fields from exts and returns the
// critical extensions it does not understand.
func (c *Certificate) parseExtensions(exts []pkix.Extension) ([]asn1.ObjectIdentifier, error) {
	var unhandled []asn1.ObjectIdentifier
	c.MaxPathLen = -1
	for i, e := range exts {
		if hasExtension(exts[:i], e.Id) {
			return nil, fmt.Errorf("pki: extension %s appears twice", extensionName(e.Id))
		}
		if !isHandled(e.Id) {
			if e.Critical {
				unhandled = append(unhandled, e.Id)
			}
			continue
		}
		if err := c.parseExtension(e); err != nil {
			return nil, fmt.Errorf("pki: malformed %s extension: %w", extensionName(e.Id), err)
		}
	}
	return unhandled, nil
}

func (c *Certificate) parseExtension(e pkix.Extension) error {
	switch {
	case e.Id.Equal(OIDExtensionBasicConstraints):
		bc := basicConstraints{MaxPathLen: -1}
		if err := unmarshalExact(e.Value, &bc, ""); err != nil {
			return err
		}
		c.BasicConstraintsValid, c.IsCA, c.MaxPathLen = true, bc.IsCA, bc.MaxPathLen
		c.MaxPathLenZero = bc.MaxPathLen == 0
	case e.Id.Equal(OIDExtensionKeyUsage):
		var bits asn1.BitString
		if err := unmarshalExact(e.Value, &bits, ""); err != nil {
			return err
		}
		for i := 0; i < 9; i++ {
			if bits.At(i) != 0 {
				c.KeyUsage |= 1 << i
			}
		}
	case e.Id.Equal(OIDExtensionExtKeyUsage):
		if err := unmarshalExact(e.Value, &c.ExtKeyUsage, ""); err != nil {
			return err
		}
	case e.Id.Equal(OIDExtensionSubjectKeyID):
		if err := unmarshalExact(e.Value, &c.SubjectKeyId, ""); err != nil {
			return err
		}
	case e.Id.Equal(OIDExtensionAuthorityKeyID):
		var aki authorityKeyID
		if err := unmarshalExact(e.Value, &aki, ""); err != nil {
			return err
		}
		c.AuthorityKeyId = aki.ID
	case e.Id.Equal(OIDExtensionPrivateKeyUsagePeriod):
		var p privateKeyUsagePeriod
		if err := unmarshalExact(e.Value, &p, ""); err != nil {
			return err
		}
		var err error
		if c.PrivateKeyUsageNotBefore, err = parseImplicitGeneralizedTime(p.NotBefore); err != nil {
			return err
		}
		if c.PrivateKeyUsageNotAfter, err = parseImplicitGeneralizedTime(p.NotAfter); err != nil {
			return err
		}
	case e.Id.Equal(OIDExtensionCertificatePolicies):
		var pols []policyInformation
		if err := unmarshalExact(e.Value, &pols, ""); err != nil {
			return err
		}
		for _, p := range pols {
			c.PolicyIdentifiers = append(c.PolicyIdentifiers, p.Policy)
		}
	case e.Id.Equal(OIDExtensionSubjectSignTool):
		var v asn1.RawValue
		if err := unmarshalExact(e.Value, &v, ""); err != nil {
			return err
		}
		s, err := decodeString(v)
		if err != nil {
			return err
		}
		c.SubjectSignTool = s
	case e.Id.Equal(OIDExtensionIssuerSignTool):
		var raw []asn1.RawValue
		if err := unmarshalExact(e.Value, &raw, ""); err != nil {
			return err
		}
		if len(raw) != 4 {
			return fmt.Errorf("%d fields, want 4", len(raw))
		}
		var s [4]string
		for i, v := range raw {
			var err error
			if s[i], err = decodeString(v); err != nil {
				return err
			}
		}
		c.IssuerSignTool = &IssuerSignTool{s[0], s[1], s[2], s[3]}
	case e.Id.Equal(OIDExtensionSubjectAltName):
		var names []asn1.RawValue
		if err := unmarshalExact(e.Value, &names, ""); err != nil {
			return err
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific {
				continue
			}
			switch n.Tag {
			case generalNameEmail:
				c.EmailAddresses = append(c.EmailAddresses, string(n.Bytes))
			case generalNameDNS:
				c.DNSNames = append(c.DNSNames, string(n.Bytes))
			case generalNameIP:
				if len(n.Bytes) != net.IPv4len && len(n.Bytes) != net.IPv6len {
					return fmt.Errorf("IP address of %d bytes", len(n.Bytes))
				}
				c.IPAddresses = append(c.IPAddresses, append(net.IP(nil), n.Bytes...))
			}
		}
	case e.Id.Equal(OIDExtensionCRLDistributionPoints):
		var dps []distributionPoint
		if err := unmarshalExact(e.Value, &dps, ""); err != nil {
			return err
		}
		for _, dp := range dps {
			for _, n := range dp.DistributionPoint.FullName {
				if n.Class == asn1.ClassContextSpecific && n.Tag == generalNameURI {
					c.CRLDistributionPoints = append(c.CRLDistributionPoints, string(n.Bytes))
				}
			}
		}
	case e.Id.Equal(OIDExtensionAuthorityInfoAccess):
		var aia []accessDescription
		if err := unmarshalExact(e.Value, &aia, ""); err != nil {
			return err
		}
		for _, a := range aia {
			if a.Location.Class != asn1.ClassContextSpecific || a.Location.Tag != generalNameURI {
				continue
			}
			switch {
			case a.Method.Equal(oidAccessOCSP):
				c.OCSPServer = append(c.OCSPServer, string(a.Location.Bytes))
			case a.Method.Equal(oidAccessCAIssuers):
				c.IssuingCertificateURL = append(c.IssuingCertificateURL, string(a.Location.Bytes))
			}
		}
	}
	return nil
}

var extensionNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{OIDExtensionSubjectKeyID, "subjectKeyIdentifier"},
	{OIDExtensionKeyUsage, "keyUsage"},
	{OIDExtensionPrivateKeyUsagePeriod, "privateKeyUsagePeriod"},
	{OIDExtensionSubjectAltName, "subjectAltName"},
	{OIDExtensionBasicConstraints, "basicConstraints"},
	{OIDExtensionCRLDistributionPoints, "cRLDistributionPoints"},
	{OIDExtensionCertificatePolicies, "certificatePolicies"},
	{OIDExtensionAuthorityKeyID, "authorityKeyIdentifier"},
	{OIDExtensionExtKeyUsage, "extKeyUsage"},
	{OIDExtensionAuthorityInfoAccess, "authorityInfoAccess"},
	{OIDExtensionSubjectSignTool, "subjectSignTool"},
	{OIDExtensionIssuerSignTool, "issuerSignTool"},
}

// extensionName is the usual name of an extension, or its dotted OID.
func extensionName(oid asn1.ObjectIdentifier) string {
	for _, e := range extensionNames {
		if e.oid.Equal(oid) {
			return e.name
		}
	}
	return oid.String()
}
