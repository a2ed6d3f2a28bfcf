package pki

// Certificate revocation lists, RFC 5280 §5, for GOST, ECDSA and RSA issuers
// alike.
//
// API in brief:
//
//	CreateCRL(rand, *CRLTemplate, issuer *Certificate, crypto.Signer) ([]byte, error) // DER
//	ParseCRL(pemOrDER) (*CRL, error)
//	(*CRL).CheckSignatureFrom(issuer *Certificate) error
//	(*CRL).Lookup(serial *big.Int) (*RevokedCertificate, bool)
//	(*CRL).CheckCertificate(cert, issuer *Certificate) error // *RevokedError when listed; an error when out of scope (RFC 5280 §6.3.3)
//	(*CRL).Describe(io.Writer) error
//	CRLReason (String, ParseCRLReason) — shared with OCSP revokedInfo.

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// Extensions of CRLs and CRL entries (RFC 5280 §5.2, §5.3).
var (
	OIDExtensionCRLNumber                = asn1.ObjectIdentifier{2, 5, 29, 20}
	OIDExtensionDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	OIDExtensionIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	OIDExtensionReasonCode               = asn1.ObjectIdentifier{2, 5, 29, 21}
	OIDExtensionInvalidityDate           = asn1.ObjectIdentifier{2, 5, 29, 24}
	// OIDExtensionFreshestCRL (RFC 5280 §5.2.6) in a complete CRL says
	// where its delta CRLs are published.
	OIDExtensionFreshestCRL = asn1.ObjectIdentifier{2, 5, 29, 46}
)

// CRLReason is the reasonCode of RFC 5280 §5.3.1. The same enumeration is
// the revocationReason of an OCSP response.
type CRLReason int

// The values are the ASN.1 ENUMERATED values; 7 is unassigned.
const (
	ReasonUnspecified          CRLReason = 0
	ReasonKeyCompromise        CRLReason = 1
	ReasonCACompromise         CRLReason = 2
	ReasonAffiliationChanged   CRLReason = 3
	ReasonSuperseded           CRLReason = 4
	ReasonCessationOfOperation CRLReason = 5
	ReasonCertificateHold      CRLReason = 6
	ReasonRemoveFromCRL        CRLReason = 8
	ReasonPrivilegeWithdrawn   CRLReason = 9
	ReasonAACompromise         CRLReason = 10
)

var crlReasonNames = map[CRLReason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// String returns the RFC 5280 name (keyCompromise, cACompromise, …), which
// is also what the CLI's --reason accepts.
func (r CRLReason) String() string {
	if n, ok := crlReasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("CRLReason(%d)", int(r))
}

// Valid reports whether r is an assigned reason code.
func (r CRLReason) Valid() bool {
	_, ok := crlReasonNames[r]
	return ok
}

// ParseCRLReason maps a reason name to its code. The match ignores case so
// that OpenSSL's spellings (CACompromise) are accepted as well.
func ParseCRLReason(name string) (CRLReason, error) {
	for r, n := range crlReasonNames {
		if strings.EqualFold(n, name) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("pki: unknown CRL reason %q", name)
}

// CRLReasons lists the assigned reason codes in numeric order, for usage
// messages.
func CRLReasons() []CRLReason {
	return []CRLReason{ReasonUnspecified, ReasonKeyCompromise, ReasonCACompromise,
		ReasonAffiliationChanged, ReasonSuperseded, ReasonCessationOfOperation,
		ReasonCertificateHold, ReasonRemoveFromCRL, ReasonPrivilegeWithdrawn, ReasonAACompromise}
}

// RevokedCertificate is one CRL entry.
type RevokedCertificate struct {
	SerialNumber   *big.Int
	RevocationTime time.Time
	// ReasonCode is ReasonUnspecified when the entry carries no reason:
	// RFC 5280 asks issuers to omit the extension rather than write
	// unspecified, and CreateCRL does so.
	ReasonCode CRLReason
	// InvalidityDate is when the key is known or suspected to have been
	// compromised; zero when absent.
	InvalidityDate time.Time
	// Extensions holds every entry extension as parsed, including the
	// ones decoded into the fields above.
	Extensions []pkix.Extension
	// ExtraExtensions are written by CreateCRL after the typed ones; one
	// with the OID of a typed extension replaces it.
	ExtraExtensions []pkix.Extension
}

// CRL is a parsed X.509 v2 (or v1) certificate revocation list.
type CRL struct {
	Raw                  []byte // the whole CertificateList, DER
	RawTBSRevocationList []byte // what the signature covers
	RawIssuer            []byte // DER Name
	Issuer               Name

	Version            int // 1 or 2, as displayed (v2 encodes the INTEGER 1)
	SignatureAlgorithm SignatureAlgorithm
	Signature          []byte

	ThisUpdate time.Time
	NextUpdate time.Time // zero when absent

	// Number is the cRLNumber extension; nil when absent (v1 CRLs).
	Number *big.Int
	// AuthorityKeyId is the keyIdentifier of the authorityKeyIdentifier
	// extension.
	AuthorityKeyId []byte
	// BaseCRLNumber is the deltaCRLIndicator: non-nil marks a delta CRL
	// that applies on top of the complete CRL with this number.
	BaseCRLNumber *big.Int
	// IssuingDistributionPoint is the CRL's scope; nil when the CRL has
	// none and so covers every certificate of its issuer.
	IssuingDistributionPoint *IssuingDistributionPoint
	// FreshestCRL are the URIs of the freshestCRL extension: where the
	// delta CRLs of this complete CRL are.
	FreshestCRL []string

	RevokedCertificates []RevokedCertificate
	// Extensions holds every CRL extension as parsed.
	Extensions []pkix.Extension
}

// IssuingDistributionPoint is the issuingDistributionPoint extension
// (RFC 5280 §5.2.5): where the CRL is published and which certificates it
// covers.
type IssuingDistributionPoint struct {
	// URIs are the fullName URIs of the distributionPoint: a CRL with a
	// distributionPoint covers only certificates whose CRL distribution
	// points name one of them (CheckCertificate).
	URIs                       []string
	OnlyContainsUserCerts      bool
	OnlyContainsCACerts        bool
	OnlyContainsAttributeCerts bool
	// OnlySomeReasons marks a CRL partitioned by reason code: a
	// certificate it does not list may be on another partition.
	OnlySomeReasons bool
	IndirectCRL     bool

	// namesPoint records that the extension has a distributionPoint,
	// whether or not any of its names is a URI.
	namesPoint bool
}

type crlIDPASN1 struct {
	DistributionPoint          asn1.RawValue  `asn1:"optional,tag:0"`
	OnlyContainsUserCerts      bool           `asn1:"optional,tag:1"`
	OnlyContainsCACerts        bool           `asn1:"optional,tag:2"`
	OnlySomeReasons            asn1.BitString `asn1:"optional,tag:3"`
	IndirectCRL                bool           `asn1:"optional,tag:4"`
	OnlyContainsAttributeCerts bool           `asn1:"optional,tag:5"`
}

// crlParseIDP decodes the extension; of the distribution point name only
// the URIs of a fullName are kept, which is what CAs publish.
func crlParseIDP(der []byte) (*IssuingDistributionPoint, error) {
	var a crlIDPASN1
	if err := unmarshalExact(der, &a, ""); err != nil {
		return nil, err
	}
	idp := &IssuingDistributionPoint{
		OnlyContainsUserCerts:      a.OnlyContainsUserCerts,
		OnlyContainsCACerts:        a.OnlyContainsCACerts,
		OnlyContainsAttributeCerts: a.OnlyContainsAttributeCerts,
		OnlySomeReasons:            a.OnlySomeReasons.BitLength > 0,
		IndirectCRL:                a.IndirectCRL,
	}
	if len(a.DistributionPoint.FullBytes) == 0 {
		return idp, nil
	}
	idp.namesPoint = true
	// DistributionPointName is a CHOICE, so [0] wraps it explicitly;
	// fullName is its [0] IMPLICIT GeneralNames.
	var name asn1.RawValue
	if err := unmarshalExact(a.DistributionPoint.Bytes, &name, ""); err != nil {
		return nil, err
	}
	if name.Class != asn1.ClassContextSpecific || name.Tag != 0 {
		return idp, nil // nameRelativeToCRLIssuer
	}
	for rest := name.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return nil, err
		}
		if gn.Class == asn1.ClassContextSpecific && gn.Tag == generalNameURI {
			idp.URIs = append(idp.URIs, string(gn.Bytes))
		}
	}
	return idp, nil
}

// CRLTemplate describes a CRL for CreateCRL.
type CRLTemplate struct {
	// Number is the monotonically increasing cRLNumber; required.
	Number *big.Int
	// ThisUpdate and NextUpdate are required (RFC 5280 §5.1.2.5 makes
	// nextUpdate mandatory for conforming CAs); they are written with
	// one-second precision in UTC.
	ThisUpdate, NextUpdate time.Time
	RevokedCertificates    []RevokedCertificate
	// BaseCRLNumber, when non-nil, makes this a delta CRL against the
	// complete CRL of that number (critical deltaCRLIndicator).
	BaseCRLNumber *big.Int
	// FreshestCRL, on a complete CRL, lists the URIs of its delta CRLs
	// (the freshestCRL extension, not critical).
	FreshestCRL []string
	// SignatureAlgorithm defaults to DefaultSignatureAlgorithm of the
	// signer's key.
	SignatureAlgorithm SignatureAlgorithm
	// ExtraExtensions are added to the CRL extensions; one with the OID
	// of a typed extension (AKI, CRL number, delta indicator, freshest
	// CRL) replaces it.
	ExtraExtensions []pkix.Extension
}

type crlCertificateList struct {
	TBS                asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
}

type crlTBSCertList struct {
	Raw                 asn1.RawContent
	Version             int `asn1:"optional,default:0"`
	Signature           pkix.AlgorithmIdentifier
	Issuer              asn1.RawValue
	ThisUpdate          time.Time
	NextUpdate          time.Time         `asn1:"optional"`
	RevokedCertificates []crlRevokedEntry `asn1:"optional"`
	Extensions          []pkix.Extension  `asn1:"tag:0,optional,explicit"`
}

type crlRevokedEntry struct {
	SerialNumber   *big.Int
	RevocationDate time.Time
	Extensions     []pkix.Extension `asn1:"optional"`
}

// crlMaxNumberLen is RFC 5280's limit on serial numbers (and CRL numbers):
// 20 octets.
const crlMaxNumberLen = 20

// CreateCRL builds and signs a CRL for issuer, returning its DER. signer
// must hold issuer's key. The issuer name and authority key identifier are
// taken from the issuer certificate; the signature is checked against the
// issuer key before the CRL is returned.
func CreateCRL(rand io.Reader, template *CRLTemplate, issuer *Certificate, signer crypto.Signer) ([]byte, error) {
	if template == nil || issuer == nil || signer == nil {
		return nil, errors.New("pki: CreateCRL needs a template, an issuer and a signer")
	}
	if err := revCheckSigner(signer, issuer); err != nil {
		return nil, err
	}
	if issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, errors.New("pki: issuer certificate lacks the cRLSign key usage")
	}
	if err := crlCheckNumber("CRL number", template.Number); err != nil {
		return nil, err
	}
	if template.ThisUpdate.IsZero() || template.NextUpdate.IsZero() {
		return nil, errors.New("pki: CRL thisUpdate and nextUpdate are required")
	}
	thisUpdate, nextUpdate := derTime(template.ThisUpdate), derTime(template.NextUpdate)
	if !nextUpdate.After(thisUpdate) {
		return nil, errors.New("pki: CRL nextUpdate must be after thisUpdate")
	}
	alg, err := algorithmFor(template.SignatureAlgorithm, signer)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL signature algorithm: %w", err)
	}

	var exts []pkix.Extension
	if len(issuer.SubjectKeyId) > 0 {
		v, err := asn1.Marshal(authorityKeyID{ID: issuer.SubjectKeyId})
		if err != nil {
			return nil, fmt.Errorf("pki: CRL authority key identifier: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: OIDExtensionAuthorityKeyID, Value: v})
	}
	v, err := asn1.Marshal(template.Number)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL number: %w", err)
	}
	exts = append(exts, pkix.Extension{Id: OIDExtensionCRLNumber, Value: v})
	delta := template.BaseCRLNumber != nil
	if delta {
		if err := crlCheckNumber("base CRL number", template.BaseCRLNumber); err != nil {
			return nil, err
		}
		if template.BaseCRLNumber.Cmp(template.Number) >= 0 {
			return nil, errors.New("pki: a delta CRL's base CRL number must be below its own number")
		}
		v, err := asn1.Marshal(template.BaseCRLNumber)
		if err != nil {
			return nil, fmt.Errorf("pki: base CRL number: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: OIDExtensionDeltaCRLIndicator, Critical: true, Value: v})
	}
	if len(template.FreshestCRL) > 0 {
		// RFC 5280 §5.2.6: a delta CRL must not carry the extension.
		if delta {
			return nil, errors.New("pki: a delta CRL cannot name a freshest CRL")
		}
		dps := make([]distributionPoint, len(template.FreshestCRL))
		for i, u := range template.FreshestCRL {
			dps[i].DistributionPoint.FullName = []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: generalNameURI, Bytes: []byte(u)}}
		}
		v, err := asn1.Marshal(dps)
		if err != nil {
			return nil, fmt.Errorf("pki: freshest CRL: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: OIDExtensionFreshestCRL, Value: v})
	}
	if exts, err = mergeExtensions(exts, template.ExtraExtensions); err != nil {
		return nil, err
	}

	var entries []crlRevokedEntry
	for i, rc := range template.RevokedCertificates {
		e, err := crlMarshalEntry(rc, delta)
		if err != nil {
			return nil, fmt.Errorf("pki: CRL entry %d: %w", i, err)
		}
		entries = append(entries, e)
	}

	tbs, err := asn1.Marshal(crlTBSCertList{
		Version:             1,
		Signature:           alg.AlgorithmIdentifier(),
		Issuer:              asn1.RawValue{FullBytes: issuer.RawSubject},
		ThisUpdate:          thisUpdate,
		NextUpdate:          nextUpdate,
		RevokedCertificates: entries,
		Extensions:          exts,
	})
	if err != nil {
		return nil, fmt.Errorf("pki: encoding CRL: %w", err)
	}
	der, err := signTBS(rand, signer, alg, tbs)
	if err != nil {
		return nil, fmt.Errorf("pki: signing CRL: %w", err)
	}
	return der, nil
}

func crlMarshalEntry(rc RevokedCertificate, delta bool) (crlRevokedEntry, error) {
	if err := revCheckSerial(rc.SerialNumber); err != nil {
		return crlRevokedEntry{}, err
	}
	if rc.RevocationTime.IsZero() {
		return crlRevokedEntry{}, errors.New("revocation time is required")
	}
	if !rc.ReasonCode.Valid() {
		return crlRevokedEntry{}, fmt.Errorf("invalid reason code %d", int(rc.ReasonCode))
	}
	if rc.ReasonCode == ReasonRemoveFromCRL && !delta {
		return crlRevokedEntry{}, errors.New("removeFromCRL belongs only in delta CRLs")
	}
	e := crlRevokedEntry{SerialNumber: rc.SerialNumber, RevocationDate: derTime(rc.RevocationTime)}
	if rc.ReasonCode != ReasonUnspecified {
		v, err := asn1.Marshal(asn1.Enumerated(rc.ReasonCode))
		if err != nil {
			return crlRevokedEntry{}, err
		}
		e.Extensions = append(e.Extensions, pkix.Extension{Id: OIDExtensionReasonCode, Value: v})
	}
	if !rc.InvalidityDate.IsZero() {
		// invalidityDate is a GeneralizedTime whatever the year.
		v, err := asn1.MarshalWithParams(derTime(rc.InvalidityDate), "generalized")
		if err != nil {
			return crlRevokedEntry{}, err
		}
		e.Extensions = append(e.Extensions, pkix.Extension{Id: OIDExtensionInvalidityDate, Value: v})
	}
	exts, err := mergeExtensions(e.Extensions, rc.ExtraExtensions)
	if err != nil {
		return crlRevokedEntry{}, err
	}
	// An entry without extensions must leave the field out, not write an
	// empty SEQUENCE.
	if len(exts) > 0 {
		e.Extensions = exts
	}
	return e, nil
}

func revCheckSerial(n *big.Int) error {
	if n == nil {
		return errors.New("serial number is required")
	}
	if n.Sign() < 0 {
		return errors.New("serial number is negative")
	}
	return nil
}

func crlCheckNumber(what string, n *big.Int) error {
	if n == nil {
		return fmt.Errorf("pki: %s is required", what)
	}
	if n.Sign() < 0 || len(n.Bytes()) > crlMaxNumberLen {
		return fmt.Errorf("pki: %s must be a non-negative integer of at most %d octets", what, crlMaxNumberLen)
	}
	return nil
}

// revCheckSigner makes sure the signer holds the key of cert, so that
// nothing is signed that the certificate's key would not verify.
func revCheckSigner(signer crypto.Signer, cert *Certificate) error {
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return errors.New("pki: the signer's public key does not match the certificate")
	}
	return nil
}

// ParseCRL parses a CRL in DER, or the first X509 CRL block of PEM input. It does not verify the
// signature: call CheckSignatureFrom. It rejects critical extensions it does
// not understand, as RFC 5280 §5.2 requires of a CRL user: an indirect or
// otherwise scoped CRL must not be mistaken for a complete one.
func ParseCRL(data []byte) (*CRL, error) {
	if isPEM(data) {
		der, ok := firstPEMBlock(data, "X509 CRL")
		if !ok {
			return nil, errors.New("pki: no X509 CRL block in PEM data")
		}
		data = der
	}
	var cl crlCertificateList
	rest, err := asn1.Unmarshal(data, &cl)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing CRL: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("pki: trailing data after CRL")
	}
	var tbs crlTBSCertList
	if rest, err := asn1.Unmarshal(cl.TBS.FullBytes, &tbs); err != nil {
		return nil, fmt.Errorf("pki: parsing CRL contents: %w", err)
	} else if len(rest) > 0 {
		return nil, errors.New("pki: trailing data in CRL contents")
	}
	if tbs.Version != 0 && tbs.Version != 1 {
		return nil, fmt.Errorf("pki: unsupported CRL version %d", tbs.Version+1)
	}
	if tbs.Version == 0 && len(tbs.Extensions) > 0 {
		return nil, errors.New("pki: v1 CRL carries extensions")
	}
	sig, err := signatureOctets(cl.Signature)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL signature: %w", err)
	}
	alg, err := crlSignatureAlgorithm(cl.SignatureAlgorithm, tbs.Signature)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL: %w", err)
	}
	issuer, err := ParseNameDER(tbs.Issuer.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL issuer: %w", err)
	}
	crl := &CRL{
		Raw:                  data,
		Issuer:               issuer,
		RawTBSRevocationList: cl.TBS.FullBytes,
		RawIssuer:            tbs.Issuer.FullBytes,
		Version:              tbs.Version + 1,
		SignatureAlgorithm:   alg,
		Signature:            sig,
		ThisUpdate:           tbs.ThisUpdate,
		NextUpdate:           tbs.NextUpdate,
		Extensions:           tbs.Extensions,
	}
	if err := crl.parseExtensions(); err != nil {
		return nil, err
	}
	crl.RevokedCertificates = make([]RevokedCertificate, 0, len(tbs.RevokedCertificates))
	for i, e := range tbs.RevokedCertificates {
		rc, err := crlParseEntry(e)
		if err != nil {
			return nil, fmt.Errorf("pki: CRL entry %d: %w", i, err)
		}
		crl.RevokedCertificates = append(crl.RevokedCertificates, rc)
	}
	return crl, nil
}

func (crl *CRL) parseExtensions() error {
	seen := map[string]bool{}
	for _, ext := range crl.Extensions {
		id := ext.Id.String()
		if seen[id] {
			return fmt.Errorf("pki: CRL extension %s appears twice", id)
		}
		seen[id] = true
		var err error
		switch {
		case ext.Id.Equal(OIDExtensionCRLNumber):
			crl.Number, err = crlParseInteger(ext.Value)
		case ext.Id.Equal(OIDExtensionDeltaCRLIndicator):
			crl.BaseCRLNumber, err = crlParseInteger(ext.Value)
		case ext.Id.Equal(OIDExtensionAuthorityKeyID):
			// authorityCertIssuer and authorityCertSerialNumber (OpenSSL
			// may write them) are not used: the key identifier is what
			// matches a CRL to its issuer's key.
			var aki authorityKeyID
			err = unmarshalExact(ext.Value, &aki, "")
			crl.AuthorityKeyId = aki.ID
		case ext.Id.Equal(OIDExtensionIssuingDistributionPoint):
			crl.IssuingDistributionPoint, err = crlParseIDP(ext.Value)
		case ext.Id.Equal(OIDExtensionFreshestCRL):
			crl.FreshestCRL, err = crlParseFreshest(ext.Value)
		case ext.Critical:
			return fmt.Errorf("pki: CRL has unsupported critical extension %s", id)
		}
		if err != nil {
			return fmt.Errorf("pki: CRL extension %s: %w", id, err)
		}
	}
	return nil
}

// crlParseFreshest keeps the fullName URIs of the distribution points, as
// for certificates' CRL distribution points.
func crlParseFreshest(der []byte) ([]string, error) {
	var dps []distributionPoint
	if err := unmarshalExact(der, &dps, ""); err != nil {
		return nil, err
	}
	var uris []string
	for _, dp := range dps {
		for _, n := range dp.DistributionPoint.FullName {
			if n.Class == asn1.ClassContextSpecific && n.Tag == generalNameURI {
				uris = append(uris, string(n.Bytes))
			}
		}
	}
	return uris, nil
}

func crlParseEntry(e crlRevokedEntry) (RevokedCertificate, error) {
	rc := RevokedCertificate{SerialNumber: e.SerialNumber, RevocationTime: e.RevocationDate, Extensions: e.Extensions}
	for _, ext := range e.Extensions {
		switch {
		case ext.Id.Equal(OIDExtensionReasonCode):
			var r asn1.Enumerated
			if err := unmarshalExact(ext.Value, &r, ""); err != nil {
				return rc, fmt.Errorf("reason code: %w", err)
			}
			rc.ReasonCode = CRLReason(r)
			if !rc.ReasonCode.Valid() {
				return rc, fmt.Errorf("invalid reason code %d", int(r))
			}
		case ext.Id.Equal(OIDExtensionInvalidityDate):
			var t time.Time
			if err := unmarshalExact(ext.Value, &t, "generalized"); err != nil {
				return rc, fmt.Errorf("invalidity date: %w", err)
			}
			rc.InvalidityDate = t
		case ext.Critical:
			// certificateIssuer (indirect CRLs) is the usual one.
			return rc, fmt.Errorf("unsupported critical entry extension %s", ext.Id)
		}
	}
	return rc, nil
}

// CheckSignatureFrom verifies that issuer signed the CRL: the CRL names
// the issuer, the issuer may sign CRLs (cRLSign, when its certificate has
// a key usage extension) and the signature verifies with its key.
func (crl *CRL) CheckSignatureFrom(issuer *Certificate) error {
	if issuer == nil {
		return errors.New("pki: no CRL issuer certificate")
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return errors.New("pki: CRL issuer name does not match the issuer certificate's subject")
	}
	if issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return errors.New("pki: CRL issuer certificate lacks the cRLSign key usage")
	}
	if len(crl.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(crl.AuthorityKeyId, issuer.SubjectKeyId) {
		return errors.New("pki: CRL authority key identifier does not match the issuer's subject key identifier")
	}
	if err := CheckSignature(crl.SignatureAlgorithm, crl.RawTBSRevocationList, crl.Signature, issuer.PublicKey); err != nil {
		return fmt.Errorf("pki: CRL signature: %w", err)
	}
	return nil
}

// Lookup finds the entry for a serial number. In a delta CRL an entry with
// ReasonRemoveFromCRL means the certificate is no longer revoked (it was on
// hold): the caller checks ReasonCode.
func (crl *CRL) Lookup(serial *big.Int) (*RevokedCertificate, bool) {
	if serial == nil {
		return nil, false
	}
	for i := range crl.RevokedCertificates {
		if crl.RevokedCertificates[i].SerialNumber.Cmp(serial) == 0 {
			return &crl.RevokedCertificates[i], true
		}
	}
	return nil, false
}

// RevokedError reports that a CRL or an OCSP responder lists a certificate
// as revoked. Callers deciding about a signature made before RevokedAt
// apply their own policy; the error only states the fact.
type RevokedError struct {
	SerialNumber *big.Int
	RevokedAt    time.Time
	Reason       CRLReason // ReasonUnspecified when none was given
	Source       string    // "CRL" or "OCSP"
}

func (e *RevokedError) Error() string {
	msg := fmt.Sprintf("pki: certificate %X revoked at %s (%s says so)", e.SerialNumber, describeTime(e.RevokedAt), e.Source)
	if e.Reason != ReasonUnspecified {
		msg += ": " + e.Reason.String()
	}
	return msg
}

// CheckCertificate is the revocation check of cert against this CRL: the
// CRL must be issuer's (CheckSignatureFrom), cert must be issued by issuer
// and within the CRL's scope, and cert must not be listed; a listed one
// yields a *RevokedError. An entry with ReasonRemoveFromCRL (a delta CRL
// releasing a hold) does not count as revoked. A CRL that cannot settle
// the question returns an error that is not a *RevokedError: a delta CRL
// not listing cert, a CRL whose scope (RFC 5280 §6.3.3) leaves cert out,
// such as one partition's CRL for a certificate of another, and a CRL for
// only some reasons not listing cert. Whether the CRL is current
// (NextUpdate) is the caller's policy.
func (crl *CRL) CheckCertificate(cert, issuer *Certificate) error {
	if cert == nil {
		return errors.New("pki: no certificate to check against the CRL")
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return err
	}
	if !bytes.Equal(cert.RawIssuer, crl.RawIssuer) {
		return errors.New("pki: the certificate is not from the CRL's issuer")
	}
	if err := crl.covers(cert); err != nil {
		return err
	}
	rc, ok := crl.Lookup(cert.SerialNumber)
	switch {
	case ok && rc.ReasonCode == ReasonRemoveFromCRL:
		return nil
	case ok:
		return &RevokedError{SerialNumber: rc.SerialNumber, RevokedAt: rc.RevocationTime, Reason: rc.ReasonCode, Source: "CRL"}
	case crl.BaseCRLNumber != nil:
		return errors.New("pki: a delta CRL that does not list the certificate says nothing without its base CRL")
	case crl.IssuingDistributionPoint != nil && crl.IssuingDistributionPoint.OnlySomeReasons:
		// The other reasons are on other CRLs: a revocation for one of
		// them would not be listed here.
		return errors.New("pki: the CRL covers only some revocation reasons, so not being listed on it does not clear the certificate")
	}
	return nil
}

// covers reports, as an error, a scope (RFC 5280 §6.3.3 (b)) that leaves
// cert out or that CheckCertificate cannot judge: such a CRL neither
// clears nor revokes cert. Reason partitions are CheckCertificate's: a CRL
// for some reasons still revokes.
func (crl *CRL) covers(cert *Certificate) error {
	idp := crl.IssuingDistributionPoint
	switch {
	case idp == nil:
		return nil
	case idp.IndirectCRL:
		// Its entries may be other issuers' (certificateIssuer), which
		// pki does not track.
		return errors.New("pki: indirect CRLs are not supported")
	case idp.OnlyContainsAttributeCerts:
		return errors.New("pki: the CRL covers attribute certificates only")
	case idp.OnlyContainsCACerts && !cert.IsCA:
		return errors.New("pki: the CRL covers CA certificates only")
	case idp.OnlyContainsUserCerts && cert.IsCA:
		return errors.New("pki: the CRL covers end-entity certificates only")
	case idp.namesPoint && !crlPointsMeet(idp.URIs, cert.CRLDistributionPoints):
		// As OpenSSL does, a certificate without distribution points is
		// not in any partition either.
		return fmt.Errorf("pki: the CRL's issuing distribution point (%s) is none of the certificate's CRL distribution points (%s): it is another partition's CRL",
			crlListOrNone(idp.URIs), crlListOrNone(cert.CRLDistributionPoints))
	}
	return nil
}

// crlPointsMeet reports whether a CRL's distribution point URIs and a
// certificate's share one.
func crlPointsMeet(crlURIs, certURIs []string) bool {
	for _, a := range crlURIs {
		for _, b := range certURIs {
			if crlSameURI(a, b) {
				return true
			}
		}
	}
	return false
}

// crlSameURI compares URIs as RFC 5280 §7.4 has it: the scheme and host
// without regard to case, the rest exactly.
func crlSameURI(a, b string) bool {
	if a == b {
		return true
	}
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Opaque != "" || ub.Opaque != "" {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		ua.User.String() == ub.User.String() && ua.EscapedPath() == ub.EscapedPath() &&
		ua.RawQuery == ub.RawQuery && ua.Fragment == ub.Fragment
}

func crlListOrNone(uris []string) string {
	if len(uris) == 0 {
		return "none by URI"
	}
	return strings.Join(uris, ", ")
}

// Russian titles of the reason codes, for Describe.
var crlReasonTitles = map[CRLReason]string{
	ReasonUnspecified:          "не указана",
	ReasonKeyCompromise:        "компрометация ключа",
	ReasonCACompromise:         "компрометация ключа УЦ",
	ReasonAffiliationChanged:   "изменение сведений о владельце",
	ReasonSuperseded:           "сертификат заменён",
	ReasonCessationOfOperation: "прекращение деятельности",
	ReasonCertificateHold:      "приостановление действия",
	ReasonRemoveFromCRL:        "исключение из СОС",
	ReasonPrivilegeWithdrawn:   "отзыв полномочий",
	ReasonAACompromise:         "компрометация центра атрибутов",
}

// crlDescribeReason is the reason in Russian and by its RFC name.
func crlDescribeReason(r CRLReason) string {
	if t, ok := crlReasonTitles[r]; ok {
		return t + " (" + r.String() + ")"
	}
	return r.String()
}

// Describe writes a readable dump of the CRL, for `gostkey cert show`, in
// the bilingual layout of Certificate.Describe.
func (crl *CRL) Describe(w io.Writer) error {
	d := &dumper{w: w}
	d.line(0, "Список отозванных сертификатов (Certificate revocation list)", nil)
	d.line(1, "Версия (Version)", crl.Version)
	d.line(1, "Алгоритм подписи (Signature algorithm)", crl.SignatureAlgorithm)
	d.describeName(1, "Издатель (Issuer)", crl.Issuer)
	d.line(1, "Дата выпуска (This update)", describeTime(crl.ThisUpdate))
	if !crl.NextUpdate.IsZero() {
		d.line(1, "Следующий выпуск (Next update)", describeTime(crl.NextUpdate))
	}
	if crl.Number != nil {
		d.line(1, "Номер СОС (CRL number)", crl.Number)
	}
	if crl.BaseCRLNumber != nil {
		d.line(1, "Разностный СОС, номер базового (Delta CRL, base CRL number)", crl.BaseCRLNumber)
	}
	if len(crl.AuthorityKeyId) > 0 {
		d.line(1, "Идентификатор ключа издателя (Authority key ID)", colonHex(crl.AuthorityKeyId))
	}
	if crl.IssuingDistributionPoint != nil {
		crl.IssuingDistributionPoint.describe(d, 1)
	}
	for _, ext := range crl.Extensions {
		if !crlKnownExtension(ext.Id) {
			revDescribeExtension(d, 1, ext)
		}
	}
	d.line(1, "Отозванные сертификаты (Revoked certificates)", len(crl.RevokedCertificates))
	for _, rc := range crl.RevokedCertificates {
		d.line(2, "Серийный номер (Serial number)", describeSerial(rc.SerialNumber))
		d.line(3, "Дата отзыва (Revocation date)", describeTime(rc.RevocationTime))
		if rc.ReasonCode != ReasonUnspecified {
			d.line(3, "Причина (Reason)", crlDescribeReason(rc.ReasonCode))
		}
		if !rc.InvalidityDate.IsZero() {
			d.line(3, "Дата компрометации (Invalidity date)", describeTime(rc.InvalidityDate))
		}
		for _, ext := range rc.Extensions {
			if !ext.Id.Equal(OIDExtensionReasonCode) && !ext.Id.Equal(OIDExtensionInvalidityDate) {
				revDescribeExtension(d, 3, ext)
			}
		}
	}
	d.line(1, "Подпись (Signature)", fmt.Sprintf("%d bytes", len(crl.Signature)))
	return d.err
}

func crlKnownExtension(id asn1.ObjectIdentifier) bool {
	return id.Equal(OIDExtensionCRLNumber) || id.Equal(OIDExtensionDeltaCRLIndicator) || id.Equal(OIDExtensionAuthorityKeyID) ||
		id.Equal(OIDExtensionIssuingDistributionPoint)
}

func (idp *IssuingDistributionPoint) describe(d *dumper, indent int) {
	d.line(indent, "Точка распространения СОС (Issuing distribution point)", strings.Join(idp.URIs, ", "))
	for _, f := range []struct {
		set   bool
		title string
	}{
		{idp.OnlyContainsUserCerts, "только сертификаты пользователей (only user certificates)"},
		{idp.OnlyContainsCACerts, "только сертификаты УЦ (only CA certificates)"},
		{idp.OnlyContainsAttributeCerts, "только атрибутные сертификаты (only attribute certificates)"},
		{idp.OnlySomeReasons, "только некоторые причины (only some reasons)"},
		{idp.IndirectCRL, "косвенный СОС (indirect CRL)"},
	} {
		if f.set {
			d.line(indent+1, "Область (Scope)", f.title)
		}
	}
}

// revDescribeExtension prints an extension Describe has no words for.
func revDescribeExtension(d *dumper, indent int, ext pkix.Extension) {
	label := "Расширение (Extension) " + ext.Id.String()
	if ext.Critical {
		label += " (critical)"
	}
	d.line(indent, label, describeBytes(ext.Value))
}

func crlParseInteger(der []byte) (*big.Int, error) {
	n := new(big.Int)
	if err := unmarshalExact(der, &n, ""); err != nil {
		return nil, err
	}
	if n.Sign() < 0 {
		return nil, errors.New("negative number")
	}
	return n, nil
}

// crlSignatureAlgorithm checks that the signed and the unsigned copy
// of the signature algorithm agree (RFC 5280 §5.1.1.2) and resolves it.
// GOST identifiers may differ in carrying NULL parameters or none.
func crlSignatureAlgorithm(outer, inner pkix.AlgorithmIdentifier) (SignatureAlgorithm, error) {
	a, err := SignatureAlgorithmFromAI(outer)
	if err != nil {
		return UnknownSignatureAlgorithm, fmt.Errorf("signature algorithm: %w", err)
	}
	b, err := SignatureAlgorithmFromAI(inner)
	if err != nil {
		return UnknownSignatureAlgorithm, fmt.Errorf("inner signature algorithm: %w", err)
	}
	if a != b {
		return UnknownSignatureAlgorithm, errors.New("inner and outer signature algorithms differ")
	}
	return a, nil
}
