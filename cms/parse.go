package cms

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformed is wrapped by every error that comes from input which is not
// a well-formed CMS SignedData (bad PEM, bad BER/DER, wrong content type).
// A CLI maps it to "unreadable input" rather than "invalid signature".
var ErrMalformed = errors.New("cms: malformed SignedData")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// SignedData is a parsed CMS SignedData (RFC 5652 §5.1). Byte fields alias
// the parsed input; the raw encodings of SignerInfos and attributes are kept
// so that signatures can be checked over exactly what was signed and so that
// AddSigner re-emits existing signers unchanged.
type SignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier
	// ContentType is eContentType (id-data for ordinary documents).
	ContentType asn1.ObjectIdentifier
	// Content is the encapsulated content; nil when Detached.
	Content  []byte
	Detached bool
	// Certificates holds the DER of each embedded X.509 certificate, in
	// the order they appear. Other CertificateChoices are skipped.
	Certificates [][]byte
	// RawCRLs holds each RevocationInfoChoice element as it appears.
	RawCRLs [][]byte
	Signers []*SignerInfo

	// rawCertChoices keeps every CertificateChoices element, including
	// kinds not in Certificates, so AddSigner re-emits them.
	rawCertChoices [][]byte
}

// SignerInfo is one signature of a SignedData (RFC 5652 §5.3).
type SignerInfo struct {
	// Raw is the whole SignerInfo element as it appeared in the input.
	Raw     []byte
	Version int
	// The signer identifier is either an issuer and serial number
	// (RawIssuer is the DER of the issuer Name) or a subject key identifier.
	RawIssuer       []byte
	SerialNumber    *big.Int
	SubjectKeyID    []byte
	DigestAlgorithm pkix.AlgorithmIdentifier
	// RawSignedAttrs is the [0] IMPLICIT element as encoded (tag 0xA0); the
	// signature covers it with the tag replaced by SET OF (0x31). Nil when
	// the SignerInfo has no signed attributes and the signature covers the
	// content digest directly.
	RawSignedAttrs     []byte
	SignedAttrs        []Attribute
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      []Attribute
}

// Attribute is a CMS attribute; each value is kept as its DER element.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// Parse decodes a ContentInfo holding SignedData, PEM ("CMS", "PKCS7" or
// "PKCS #7 SIGNED DATA") or DER. BER input (indefinite lengths, constructed
// OCTET STRINGs, as streaming encoders write) is accepted and normalized.
// Parse checks structure only; Verify checks signatures and certificates.
func Parse(data []byte) (*SignedData, error) {
	der, err := unPEM(data)
	if err != nil {
		return nil, err
	}
	sd, err := parseDER(der)
	if err == nil {
		return sd, nil
	}
	// Strict DER failed: retry on a DER normalization of BER input. The
	// elements that signatures cover (signed attributes, certificates)
	// are DER in any valid input, so normalization leaves them unchanged.
	norm, berErr := berToDER(der)
	if berErr != nil || bytes.Equal(norm, der) {
		return nil, err
	}
	return parseDER(norm)
}

var pemTypes = map[string]bool{"CMS": true, "PKCS7": true, "PKCS #7 SIGNED DATA": true}

// unPEM returns the DER inside a PEM block, or data itself when it does not
// look like PEM.
func unPEM(data []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return data, nil
	}
	block, _ := pem.Decode(trimmed)
	if block == nil {
		return nil, malformed("bad PEM")
	}
	if !pemTypes[block.Type] {
		return nil, malformed("unexpected PEM block %q", block.Type)
	}
	return block.Bytes, nil
}

func parseDER(der []byte) (*SignedData, error) {
	input := cryptobyte.String(der)
	var ci, content cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !input.ReadASN1(&ci, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, malformed("ContentInfo is not a single SEQUENCE")
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) {
		return nil, malformed("bad contentType")
	}
	if !ctype.Equal(oidSignedData) {
		return nil, malformed("content type %v is not signedData", ctype)
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() {
		return nil, malformed("bad ContentInfo content")
	}
	var s cryptobyte.String
	if !content.ReadASN1(&s, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("SignedData is not a SEQUENCE")
	}
	sd := &SignedData{}
	if !s.ReadASN1Integer(&sd.Version) {
		return nil, malformed("bad SignedData version")
	}
	var digestSet cryptobyte.String
	if !s.ReadASN1(&digestSet, cbasn1.SET) {
		return nil, malformed("bad digestAlgorithms")
	}
	for !digestSet.Empty() {
		ai, err := readAlgorithmIdentifier(&digestSet)
		if err != nil {
			return nil, fmt.Errorf("digestAlgorithms: %w", err)
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, ai)
	}
	if err := sd.readEncapContentInfo(&s); err != nil {
		return nil, err
	}
	var err error
	var certTags []cbasn1.Tag
	if sd.rawCertChoices, certTags, err = readOptionalSet(&s, 0, "certificate"); err != nil {
		return nil, err
	}
	for i, elem := range sd.rawCertChoices {
		// Only plain certificates (SEQUENCE) matter here; attribute and
		// other certificates ([1]..[3]) are skipped.
		if certTags[i] == cbasn1.SEQUENCE {
			sd.Certificates = append(sd.Certificates, elem)
		}
	}
	if sd.RawCRLs, _, err = readOptionalSet(&s, 1, "crl"); err != nil {
		return nil, err
	}
	var signerSet cryptobyte.String
	if !s.ReadASN1(&signerSet, cbasn1.SET) || !s.Empty() {
		return nil, malformed("bad signerInfos")
	}
	for i := 0; !signerSet.Empty(); i++ {
		var elem cryptobyte.String
		if !signerSet.ReadASN1Element(&elem, cbasn1.SEQUENCE) {
			return nil, malformed("signerInfos[%d] is not a SEQUENCE", i)
		}
		si, err := parseSignerInfo(elem)
		if err != nil {
			return nil, fmt.Errorf("signerInfos[%d]: %w", i, err)
		}
		sd.Signers = append(sd.Signers, si)
	}
	return sd, nil
}

// readOptionalSet reads the [tag] IMPLICIT SET OF of certificates or CRLs,
// if present, as its DER elements and their tags.
func readOptionalSet(s *cryptobyte.String, tag int, what string) ([][]byte, []cbasn1.Tag, error) {
	var set cryptobyte.String
	if !s.ReadOptionalASN1(&set, nil, cbasn1.Tag(tag).Constructed().ContextSpecific()) {
		return nil, nil, malformed("bad %ss", what)
	}
	var elems [][]byte
	var tags []cbasn1.Tag
	for !set.Empty() {
		var elem cryptobyte.String
		var t cbasn1.Tag
		if !set.ReadAnyASN1Element(&elem, &t) {
			return nil, nil, malformed("bad %s element", what)
		}
		elems, tags = append(elems, elem), append(tags, t)
	}
	return elems, tags, nil
}

func (sd *SignedData) readEncapContentInfo(s *cryptobyte.String) error {
	var eci cryptobyte.String
	if !s.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&sd.ContentType) {
		return malformed("bad encapContentInfo")
	}
	var explicit cryptobyte.String
	var present bool
	if !eci.ReadOptionalASN1(&explicit, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) || !eci.Empty() {
		return malformed("bad eContent")
	}
	if !present {
		sd.Detached = true
		return nil
	}
	var octets cryptobyte.String
	if !explicit.ReadASN1(&octets, cbasn1.OCTET_STRING) || !explicit.Empty() {
		return malformed("eContent is not an OCTET STRING")
	}
	// An attached empty document is a present, empty content, not a
	// detached one.
	sd.Content = append([]byte{}, octets...)
	return nil
}

func parseSignerInfo(raw cryptobyte.String) (*SignerInfo, error) {
	si := &SignerInfo{Raw: raw}
	var s cryptobyte.String
	if !raw.ReadASN1(&s, cbasn1.SEQUENCE) {
		return nil, malformed("bad SignerInfo")
	}
	if !s.ReadASN1Integer(&si.Version) {
		return nil, malformed("bad SignerInfo version")
	}
	var tag cbasn1.Tag
	var sid cryptobyte.String
	if !s.ReadAnyASN1(&sid, &tag) {
		return nil, malformed("bad sid")
	}
	switch tag {
	case cbasn1.SEQUENCE:
		var issuer cryptobyte.String
		si.SerialNumber = new(big.Int)
		if !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1Integer(si.SerialNumber) || !sid.Empty() {
			return nil, malformed("bad issuerAndSerialNumber")
		}
		si.RawIssuer = issuer
	case cbasn1.Tag(0).ContextSpecific():
		si.SubjectKeyID = sid
	default:
		return nil, malformed("unknown sid choice")
	}
	var err error
	if si.DigestAlgorithm, err = readAlgorithmIdentifier(&s); err != nil {
		return nil, fmt.Errorf("digestAlgorithm: %w", err)
	}
	signedTag := cbasn1.Tag(0).Constructed().ContextSpecific()
	if s.PeekASN1Tag(signedTag) {
		var elem cryptobyte.String
		if !s.ReadASN1Element(&elem, signedTag) {
			return nil, malformed("bad signedAttrs")
		}
		si.RawSignedAttrs = elem
		var body cryptobyte.String
		elem.ReadASN1(&body, signedTag)
		if si.SignedAttrs, err = parseAttributes(body); err != nil {
			return nil, fmt.Errorf("signedAttrs: %w", err)
		}
	}
	if si.SignatureAlgorithm, err = readAlgorithmIdentifier(&s); err != nil {
		return nil, fmt.Errorf("signatureAlgorithm: %w", err)
	}
	var sig cryptobyte.String
	if !s.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, malformed("bad signature")
	}
	si.Signature = sig
	var unsigned cryptobyte.String
	var hasUnsigned bool
	if !s.ReadOptionalASN1(&unsigned, &hasUnsigned, cbasn1.Tag(1).Constructed().ContextSpecific()) || !s.Empty() {
		return nil, malformed("bad unsignedAttrs")
	}
	if hasUnsigned {
		if si.UnsignedAttrs, err = parseAttributes(unsigned); err != nil {
			return nil, fmt.Errorf("unsignedAttrs: %w", err)
		}
	}
	return si, nil
}

func parseAttributes(s cryptobyte.String) ([]Attribute, error) {
	var attrs []Attribute
	for !s.Empty() {
		var attr, values cryptobyte.String
		var a Attribute
		if !s.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&a.Type) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return nil, malformed("bad Attribute")
		}
		for !values.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !values.ReadAnyASN1Element(&v, &tag) {
				return nil, malformed("bad value of attribute %v", a.Type)
			}
			a.Values = append(a.Values, v)
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

func readAlgorithmIdentifier(s *cryptobyte.String) (pkix.AlgorithmIdentifier, error) {
	var ai pkix.AlgorithmIdentifier
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&ai.Algorithm) {
		return ai, malformed("bad AlgorithmIdentifier")
	}
	if seq.Empty() {
		return ai, nil
	}
	var params cryptobyte.String
	var tag cbasn1.Tag
	if !seq.ReadAnyASN1Element(&params, &tag) || !seq.Empty() {
		return ai, malformed("bad AlgorithmIdentifier parameters")
	}
	if _, err := asn1.Unmarshal(params, &ai.Parameters); err != nil {
		return ai, fmt.Errorf("%w: bad AlgorithmIdentifier parameters: %w", ErrMalformed, err)
	}
	return ai, nil
}

// attribute returns the values of the attribute of the given type and how
// many times the type occurs.
func attribute(attrs []Attribute, oid asn1.ObjectIdentifier) (values [][]byte, count int) {
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			if count == 0 {
				values = a.Values
			}
			count++
		}
	}
	return values, count
}

// SigningTime returns the signingTime signed attribute, if present and
// well-formed.
func (si *SignerInfo) SigningTime() (time.Time, bool) {
	values, n := attribute(si.SignedAttrs, oidSigningTime)
	if n != 1 || len(values) != 1 {
		return time.Time{}, false
	}
	t, err := parseTime(values[0])
	return t, err == nil
}

// parseTime reads a UTCTime or GeneralizedTime element (RFC 5652 §11.3).
func parseTime(elem []byte) (time.Time, error) {
	s := cryptobyte.String(elem)
	var t time.Time
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) || !s.Empty() {
			return t, malformed("bad UTCTime")
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		if !s.ReadASN1GeneralizedTime(&t) || !s.Empty() {
			return t, malformed("bad GeneralizedTime")
		}
	default:
		return t, malformed("signingTime is not a Time")
	}
	return t, nil
}
