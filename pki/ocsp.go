package pki

// OCSP requests and responses, RFC 6960, with CertIDs hashed by SHA-1,
// SHA-2 or Streebog, and responses signed by the CA itself or by a
// delegated responder (a certificate with id-kp-OCSPSigning issued by the
// CA).
//
// API in brief:
//
//	NewOCSPCertID(CertIDHash, issuer *Certificate, serial) (OCSPCertID, error); (OCSPCertID).MatchesIssuer
//	CreateOCSPRequest(cert, issuer *Certificate, *OCSPRequestOptions) ([]byte, error)
//	ParseOCSPRequest(der) (*OCSPRequest, error)
//	CreateOCSPResponse(rand, *OCSPResponseTemplate, issuer, responderCert *Certificate, crypto.Signer) ([]byte, error)
//	CreateOCSPErrorResponse(OCSPResponseStatus) ([]byte, error)
//	ParseOCSPResponse(der, issuer *Certificate) (*OCSPResponse, error) // *OCSPResponseError for unsuccessful statuses
//	(*OCSPResponse).CheckSignatureFrom(issuer) error; (*OCSPResponse).Lookup(serial)
//	(*OCSPResponse).CheckCertificateAt(cert, OCSPFreshness) error // nil good, *RevokedError, ErrOCSPUnknownCertificate, *OCSPFreshnessError
//	(*OCSPResponse).CheckCertificate(cert) error                  // CheckCertificateAt with the default freshness
//	(*OCSPResponse).CheckNonce(nonce) error                       // ErrOCSPNonceMismatch; sets NonceMatched
//	QueryOCSP(ctx, url, cert, issuer *Certificate, CertIDHash) (*OCSPResponse, error) // client side, with a nonce
//	QueryOCSPWithClient(ctx, *http.Client, url, cert, issuer, CertIDHash)
//	ReadOCSPHTTPRequest(*http.Request, pathPrefix) (*OCSPRequest, error)               // responder side, POST or GET
//	(*OCSPRequest).Describe, (*OCSPResponse).Describe

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/gostkey/gostkey/gost"
)

// OCSP extensions (RFC 6960 §4.4). A CA puts OCSPNoCheck (value NULL,
// 05 00) in a delegated responder's certificate so that clients do not ask
// about the responder itself.
var (
	OIDExtensionOCSPNonce   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	OIDExtensionOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
)

var (
	ocspOIDBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	// SHA-1 is in no signature algorithm pki makes, but it is the CertID
	// hash most responders expect.
	oidSHA1 = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
)

// CertIDHash is the hash of an OCSP CertID's issuerNameHash and
// issuerKeyHash.
type CertIDHash int

const (
	CertIDSHA1 CertIDHash = iota + 1 // the default, and what most responders expect
	CertIDSHA256
	CertIDSHA384
	CertIDSHA512
	CertIDStreebog256 // `openssl ocsp -md_gost12_256`
	CertIDStreebog512
)

type ocspHashDetails struct {
	name string
	oid  asn1.ObjectIdentifier
	new  func() hash.Hash
}

var ocspHashes = map[CertIDHash]ocspHashDetails{
	CertIDSHA1:        {"sha1", oidSHA1, sha1.New},
	CertIDSHA256:      {"sha256", oidSHA256, sha256.New},
	CertIDSHA384:      {"sha384", oidSHA384, sha512.New384},
	CertIDSHA512:      {"sha512", oidSHA512, sha512.New},
	CertIDStreebog256: {"streebog256", gost.OIDStreebog256, gost.Streebog256.New},
	CertIDStreebog512: {"streebog512", gost.OIDStreebog512, gost.Streebog512.New},
}

// String returns the name ParseCertIDHash accepts.
func (h CertIDHash) String() string {
	if d, ok := ocspHashes[h]; ok {
		return d.name
	}
	return fmt.Sprintf("CertIDHash(%d)", int(h))
}

// ParseCertIDHash maps sha1, sha256, sha384, sha512, streebog256 or
// streebog512 to its CertIDHash.
func ParseCertIDHash(name string) (CertIDHash, error) {
	for h, d := range ocspHashes {
		if strings.EqualFold(d.name, name) {
			return h, nil
		}
	}
	return 0, fmt.Errorf("pki: unknown OCSP CertID hash %q", name)
}

func ocspHashByOID(oid asn1.ObjectIdentifier) (CertIDHash, bool) {
	for h, d := range ocspHashes {
		if d.oid.Equal(oid) {
			return h, true
		}
	}
	return 0, false
}

// OCSPCertID names a certificate in OCSP: hashes of its issuer's name and
// key, and its serial number.
type OCSPCertID struct {
	Hash           CertIDHash
	IssuerNameHash []byte // hash of the issuer's DER subject
	IssuerKeyHash  []byte // hash of the issuer's subjectPublicKey BIT STRING contents
	SerialNumber   *big.Int
}

// NewOCSPCertID computes the CertID of the certificate with the given
// serial issued by issuer.
func NewOCSPCertID(h CertIDHash, issuer *Certificate, serial *big.Int) (OCSPCertID, error) {
	d, ok := ocspHashes[h]
	if !ok {
		return OCSPCertID{}, fmt.Errorf("pki: unknown OCSP CertID hash %d", int(h))
	}
	if issuer == nil {
		return OCSPCertID{}, errors.New("pki: OCSP CertID needs the issuer certificate")
	}
	if err := revCheckSerial(serial); err != nil {
		return OCSPCertID{}, fmt.Errorf("pki: OCSP CertID: %w", err)
	}
	key, err := revSubjectPublicKey(issuer)
	if err != nil {
		return OCSPCertID{}, err
	}
	return OCSPCertID{
		Hash:           h,
		IssuerNameHash: ocspHashOf(d.new, issuer.RawSubject),
		IssuerKeyHash:  ocspHashOf(d.new, key),
		SerialNumber:   new(big.Int).Set(serial),
	}, nil
}

// MatchesIssuer reports whether the CertID's hashes are those of issuer.
func (id OCSPCertID) MatchesIssuer(issuer *Certificate) bool {
	if issuer == nil || id.SerialNumber == nil {
		return false
	}
	want, err := NewOCSPCertID(id.Hash, issuer, id.SerialNumber)
	return err == nil && bytes.Equal(want.IssuerNameHash, id.IssuerNameHash) && bytes.Equal(want.IssuerKeyHash, id.IssuerKeyHash)
}

// Equal reports whether two CertIDs are the same, hash algorithm included.
func (id OCSPCertID) Equal(o OCSPCertID) bool {
	return id.Hash == o.Hash && bytes.Equal(id.IssuerNameHash, o.IssuerNameHash) &&
		bytes.Equal(id.IssuerKeyHash, o.IssuerKeyHash) &&
		id.SerialNumber != nil && o.SerialNumber != nil && id.SerialNumber.Cmp(o.SerialNumber) == 0
}

func ocspHashOf(newHash func() hash.Hash, data []byte) []byte {
	h := newHash()
	h.Write(data)
	return h.Sum(nil)
}

// revSubjectPublicKey returns the contents of the certificate's
// subjectPublicKey BIT STRING: for GOST the inner OCTET STRING with its
// 04 40 header, which is what OpenSSL hashes for CertIDs and key IDs.
func revSubjectPublicKey(cert *Certificate) ([]byte, error) {
	key, err := subjectPublicKeyBits(cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate public key: %w", err)
	}
	return key.Bytes, nil
}

type ocspCertIDASN1 struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

func (id OCSPCertID) marshal() (ocspCertIDASN1, error) {
	d, ok := ocspHashes[id.Hash]
	if !ok {
		return ocspCertIDASN1{}, fmt.Errorf("unknown CertID hash %d", int(id.Hash))
	}
	if err := revCheckSerial(id.SerialNumber); err != nil {
		return ocspCertIDASN1{}, err
	}
	size := d.new().Size()
	if len(id.IssuerNameHash) != size || len(id.IssuerKeyHash) != size {
		return ocspCertIDASN1{}, fmt.Errorf("CertID hashes are not %s digests", d.name)
	}
	return ocspCertIDASN1{
		// NULL parameters, as OpenSSL writes them for every hash.
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: d.oid, Parameters: asn1.NullRawValue},
		IssuerNameHash: id.IssuerNameHash,
		IssuerKeyHash:  id.IssuerKeyHash,
		SerialNumber:   id.SerialNumber,
	}, nil
}

func (c ocspCertIDASN1) parse() (OCSPCertID, error) {
	h, ok := ocspHashByOID(c.HashAlgorithm.Algorithm)
	if !ok {
		return OCSPCertID{}, fmt.Errorf("unsupported CertID hash algorithm %s", c.HashAlgorithm.Algorithm)
	}
	id := OCSPCertID{Hash: h, IssuerNameHash: c.IssuerNameHash, IssuerKeyHash: c.IssuerKeyHash, SerialNumber: c.SerialNumber}
	if size := ocspHashes[h].new().Size(); len(id.IssuerNameHash) != size || len(id.IssuerKeyHash) != size {
		return OCSPCertID{}, fmt.Errorf("CertID hashes are not %s digests", h)
	}
	if id.SerialNumber == nil {
		return OCSPCertID{}, errors.New("CertID without a serial number")
	}
	return id, nil
}

// Requests.

type ocspRequestASN1 struct {
	TBSRequest        ocspTBSRequestASN1
	OptionalSignature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type ocspTBSRequestASN1 struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []ocspSingleRequestASN1
	Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type ocspSingleRequestASN1 struct {
	CertID     ocspCertIDASN1
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

// OCSPRequest is a parsed OCSP request.
type OCSPRequest struct {
	Raw []byte
	// CertIDs lists the certificates asked about, in request order.
	CertIDs []OCSPCertID
	// Nonce is the value of the nonce extension, nil when absent.
	Nonce []byte
	// Extensions holds every request extension, the nonce included.
	Extensions []pkix.Extension
	// Signed reports an optionalSignature; it is not verified.
	Signed bool
}

// OCSPRequestOptions tunes CreateOCSPRequest; nil means SHA-1 CertIDs and
// no nonce.
type OCSPRequestOptions struct {
	Hash CertIDHash // zero means CertIDSHA1
	// Nonce, when set, goes in a nonce extension (RFC 8954 allows 1 to
	// 32 octets) that a responder echoes to prove the answer is fresh.
	Nonce []byte
}

// ocspMaxNonceLen is RFC 8954's upper bound on the nonce length.
const ocspMaxNonceLen = 32

// CreateOCSPRequest builds an unsigned request for cert's status.
func CreateOCSPRequest(cert, issuer *Certificate, opts *OCSPRequestOptions) ([]byte, error) {
	if cert == nil || issuer == nil {
		return nil, errors.New("pki: an OCSP request needs the certificate and its issuer")
	}
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return nil, errors.New("pki: OCSP request: the certificate was not issued by the given issuer")
	}
	if opts == nil {
		opts = &OCSPRequestOptions{}
	}
	h := opts.Hash
	if h == 0 {
		h = CertIDSHA1
	}
	id, err := NewOCSPCertID(h, issuer, cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	cid, err := id.marshal()
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP request: %w", err)
	}
	req := ocspRequestASN1{TBSRequest: ocspTBSRequestASN1{RequestList: []ocspSingleRequestASN1{{CertID: cid}}}}
	if opts.Nonce != nil {
		ext, err := ocspNonceExtension(opts.Nonce)
		if err != nil {
			return nil, err
		}
		req.TBSRequest.Extensions = []pkix.Extension{ext}
	}
	der, err := asn1.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding OCSP request: %w", err)
	}
	return der, nil
}

func ocspNonceExtension(nonce []byte) (pkix.Extension, error) {
	if len(nonce) == 0 || len(nonce) > ocspMaxNonceLen {
		return pkix.Extension{}, fmt.Errorf("pki: OCSP nonce must be 1 to %d octets", ocspMaxNonceLen)
	}
	// The extension value is the DER of Nonce ::= OCTET STRING, as
	// RFC 8954 and OpenSSL write it.
	v, err := asn1.Marshal(nonce)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtensionOCSPNonce, Value: v}, nil
}

// ocspFindNonce returns the nonce extension's value. Responders before RFC 8954
// (old OpenSSL among them) sometimes put the raw octets in the extension,
// so a value that is not an OCTET STRING is taken as it is.
func ocspFindNonce(exts []pkix.Extension) []byte {
	for _, ext := range exts {
		if ext.Id.Equal(OIDExtensionOCSPNonce) {
			var n []byte
			if err := unmarshalExact(ext.Value, &n, ""); err == nil {
				return n
			}
			return ext.Value
		}
	}
	return nil
}

// ParseOCSPRequest parses a DER OCSP request.
func ParseOCSPRequest(der []byte) (*OCSPRequest, error) {
	var req ocspRequestASN1
	if err := unmarshalExact(der, &req, ""); err != nil {
		return nil, fmt.Errorf("pki: parsing OCSP request: %w", err)
	}
	// As for responses: only re-encoding catches an explicit tag whose
	// length does not match its contents.
	if reenc, err := asn1.Marshal(req); err != nil || !bytes.Equal(reenc, der) {
		return nil, errors.New("pki: OCSP request is not DER")
	}
	if req.TBSRequest.Version != 0 {
		return nil, fmt.Errorf("pki: unsupported OCSP request version %d", req.TBSRequest.Version+1)
	}
	if len(req.TBSRequest.RequestList) == 0 {
		return nil, errors.New("pki: OCSP request asks about no certificate")
	}
	r := &OCSPRequest{
		Raw:        der,
		Extensions: req.TBSRequest.Extensions,
		Nonce:      ocspFindNonce(req.TBSRequest.Extensions),
		Signed:     len(req.OptionalSignature.FullBytes) > 0,
	}
	for i, sr := range req.TBSRequest.RequestList {
		id, err := sr.CertID.parse()
		if err != nil {
			return nil, fmt.Errorf("pki: OCSP request entry %d: %w", i, err)
		}
		r.CertIDs = append(r.CertIDs, id)
	}
	return r, nil
}

// Responses.

// OCSPResponseStatus is the outer responseStatus of RFC 6960 §4.2.1.
type OCSPResponseStatus int

const (
	OCSPSuccessful       OCSPResponseStatus = 0
	OCSPMalformedRequest OCSPResponseStatus = 1
	OCSPInternalError    OCSPResponseStatus = 2
	OCSPTryLater         OCSPResponseStatus = 3
	// 4 is unassigned.
	OCSPSigRequired  OCSPResponseStatus = 5
	OCSPUnauthorized OCSPResponseStatus = 6
)

var ocspStatusNames = map[OCSPResponseStatus]string{
	OCSPSuccessful:       "successful",
	OCSPMalformedRequest: "malformedRequest",
	OCSPInternalError:    "internalError",
	OCSPTryLater:         "tryLater",
	OCSPSigRequired:      "sigRequired",
	OCSPUnauthorized:     "unauthorized",
}

func (s OCSPResponseStatus) String() string {
	if n, ok := ocspStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("OCSPResponseStatus(%d)", int(s))
}

// OCSPResponseError is returned by ParseOCSPResponse for a response whose
// status is not successful; such responses carry nothing else.
type OCSPResponseError struct {
	Status OCSPResponseStatus
}

func (e *OCSPResponseError) Error() string {
	return "pki: OCSP responder answered " + e.Status.String()
}

// OCSPStatus is a certificate's status in a SingleResponse. The zero
// value is no status, so that a responder that forgets to set one fails
// rather than answers good.
type OCSPStatus int

const (
	OCSPGood OCSPStatus = iota + 1
	OCSPRevoked
	OCSPUnknown
)

func (s OCSPStatus) String() string {
	switch s {
	case OCSPGood:
		return "good"
	case OCSPRevoked:
		return "revoked"
	case OCSPUnknown:
		return "unknown"
	}
	return fmt.Sprintf("OCSPStatus(%d)", int(s))
}

// OCSPSingleResponse is the status of one certificate.
type OCSPSingleResponse struct {
	CertID OCSPCertID
	Status OCSPStatus
	// RevokedAt and RevocationReason are set for OCSPRevoked; the reason
	// is ReasonUnspecified when the responder gave none.
	RevokedAt        time.Time
	RevocationReason CRLReason
	ThisUpdate       time.Time
	NextUpdate       time.Time // zero when absent
	Extensions       []pkix.Extension
}

// OCSPResponse is a parsed successful OCSP response with a
// BasicOCSPResponse.
type OCSPResponse struct {
	Raw                []byte // the whole OCSPResponse
	RawTBSResponseData []byte // what the signature covers
	// Exactly one of RawResponderName (a DER Name) and ResponderKeyHash
	// (SHA-1 of the responder's subjectPublicKey contents) is set.
	RawResponderName []byte
	ResponderKeyHash []byte
	ProducedAt       time.Time
	Responses        []OCSPSingleResponse
	// Nonce is the echoed nonce, nil when absent.
	Nonce []byte
	// NonceMatched records that Nonce is the one our request carried
	// (CheckNonce, which QueryOCSP calls): the response was made for
	// this request, so it is fresh whatever its nextUpdate.
	NonceMatched       bool
	Extensions         []pkix.Extension
	SignatureAlgorithm SignatureAlgorithm
	Signature          []byte
	// Certificates are the certificates the responder sent, normally its
	// own (delegated responders) and maybe its chain.
	Certificates []*Certificate
}

// Lookup returns the single response about serial.
func (r *OCSPResponse) Lookup(serial *big.Int) (*OCSPSingleResponse, bool) {
	if serial == nil {
		return nil, false
	}
	for i := range r.Responses {
		if r.Responses[i].CertID.SerialNumber.Cmp(serial) == 0 {
			return &r.Responses[i], true
		}
	}
	return nil, false
}

// ErrOCSPUnknownCertificate is CheckCertificate's answer when the
// responder says it does not know the certificate.
var ErrOCSPUnknownCertificate = errors.New("pki: OCSP responder does not know the certificate")

// CheckCertificate is CheckCertificateAt with the default freshness
// rules (OCSPFreshness's zero value).
func (r *OCSPResponse) CheckCertificate(cert *Certificate) error {
	return r.CheckCertificateAt(cert, OCSPFreshness{})
}

// Defaults of OCSPFreshness.
const (
	// DefaultOCSPSkew is the clock difference allowed between the
	// responder and us.
	DefaultOCSPSkew = 5 * time.Minute
	// DefaultOCSPMaxAge is how old a response without nextUpdate (and
	// without our nonce) may be. RFC 6960 leaves it to local policy; an
	// hour is what a responder signing on demand easily meets and what
	// a replayed or cached answer about a since revoked certificate
	// hardly fits in.
	DefaultOCSPMaxAge = time.Hour
)

// OCSPFreshness is the time policy CheckCertificateAt holds a response to.
type OCSPFreshness struct {
	// Now is the time judged at; zero means time.Now().
	Now time.Time
	// Skew is the clock difference allowed between the responder and us;
	// zero means DefaultOCSPSkew.
	Skew time.Duration
	// MaxAge bounds the age of thisUpdate in a response that has no
	// nextUpdate and did not echo our nonce (NonceMatched): such a
	// response would otherwise be good forever. Zero means
	// DefaultOCSPMaxAge.
	MaxAge time.Duration
}

// OCSPFreshnessReason says which time rule a response broke.
type OCSPFreshnessReason int

const (
	// OCSPNotYetValid: thisUpdate or producedAt is after Now + Skew.
	OCSPNotYetValid OCSPFreshnessReason = iota + 1
	// OCSPExpired: nextUpdate is before Now - Skew.
	OCSPExpired
	// OCSPTooOld: no nextUpdate, no nonce of ours, and thisUpdate more
	// than MaxAge before Now.
	OCSPTooOld
)

func (r OCSPFreshnessReason) String() string {
	switch r {
	case OCSPNotYetValid:
		return "not yet valid"
	case OCSPExpired:
		return "out of date"
	case OCSPTooOld:
		return "too old"
	}
	return fmt.Sprintf("OCSPFreshnessReason(%d)", int(r))
}

// OCSPFreshnessError reports a response not current at the time judged.
type OCSPFreshnessError struct {
	Reason OCSPFreshnessReason
	Detail string
}

func (e *OCSPFreshnessError) Error() string {
	return "pki: OCSP response is " + e.Reason.String() + ": " + e.Detail
}

// ErrOCSPNonceMismatch is CheckNonce's (and QueryOCSP's) answer to a
// response that echoes a nonce other than ours: it answers another
// request, perhaps a replayed one.
var ErrOCSPNonceMismatch = errors.New("pki: OCSP response nonce does not match the request's: it answers another request")

// CheckNonce compares the response's nonce with the one our request sent.
// Equal, it sets NonceMatched; another nonce is ErrOCSPNonceMismatch; no
// nonce is not an error (responders serving pre-signed answers leave it
// out) and leaves NonceMatched false, so freshness rests on the times.
func (r *OCSPResponse) CheckNonce(nonce []byte) error {
	switch {
	case r.Nonce == nil:
		return nil
	case len(nonce) == 0 || !bytes.Equal(r.Nonce, nonce):
		return ErrOCSPNonceMismatch
	}
	r.NonceMatched = true
	return nil
}

// CheckCertificateAt reads the response's verdict on cert, once the
// response is current under f: nil for good, a *RevokedError for revoked,
// ErrOCSPUnknownCertificate for unknown, an *OCSPFreshnessError for a
// response out of its time (checked first: such a response is no evidence
// either way), and an error when the response does not mention cert. It
// assumes the response was verified against cert's issuer
// (ParseOCSPResponse with the issuer, or QueryOCSP), which also ties its
// CertIDs to that issuer.
func (r *OCSPResponse) CheckCertificateAt(cert *Certificate, f OCSPFreshness) error {
	if cert == nil {
		return errors.New("pki: no certificate to check against the OCSP response")
	}
	sr, ok := r.Lookup(cert.SerialNumber)
	if !ok {
		return errors.New("pki: OCSP response does not mention the certificate")
	}
	if err := r.checkFresh(sr, f); err != nil {
		return err
	}
	switch sr.Status {
	case OCSPGood:
		return nil
	case OCSPRevoked:
		return &RevokedError{SerialNumber: sr.CertID.SerialNumber, RevokedAt: sr.RevokedAt, Reason: sr.RevocationReason, Source: "OCSP"}
	default:
		return ErrOCSPUnknownCertificate
	}
}

func (r *OCSPResponse) checkFresh(sr *OCSPSingleResponse, f OCSPFreshness) error {
	now, skew, maxAge := f.Now, f.Skew, f.MaxAge
	if now.IsZero() {
		now = time.Now()
	}
	if skew == 0 {
		skew = DefaultOCSPSkew
	}
	if maxAge == 0 {
		maxAge = DefaultOCSPMaxAge
	}
	if skew < 0 || maxAge < 0 {
		return fmt.Errorf("pki: negative OCSP clock skew (%v) or maximum age (%v)", f.Skew, f.MaxAge)
	}
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	for _, t := range []struct {
		name string
		when time.Time
	}{{"thisUpdate", sr.ThisUpdate}, {"producedAt", r.ProducedAt}} {
		if t.when.After(now.Add(skew)) {
			return &OCSPFreshnessError{Reason: OCSPNotYetValid,
				Detail: fmt.Sprintf("%s %s is after %s, beyond the %v clock skew allowed", t.name, at(t.when), at(now), skew)}
		}
	}
	switch {
	case !sr.NextUpdate.IsZero() && sr.NextUpdate.Before(now.Add(-skew)):
		return &OCSPFreshnessError{Reason: OCSPExpired,
			Detail: fmt.Sprintf("nextUpdate %s is before %s, beyond the %v clock skew allowed", at(sr.NextUpdate), at(now), skew)}
	case sr.NextUpdate.IsZero() && !r.NonceMatched && sr.ThisUpdate.Before(now.Add(-maxAge)):
		return &OCSPFreshnessError{Reason: OCSPTooOld,
			Detail: fmt.Sprintf("it has no nextUpdate and did not echo our nonce, and thisUpdate %s is more than %v before %s", at(sr.ThisUpdate), maxAge, at(now))}
	}
	return nil
}

type ocspResponseASN1 struct {
	Status        asn1.Enumerated
	ResponseBytes ocspResponseBytesASN1 `asn1:"explicit,tag:0,optional"`
}

type ocspResponseBytesASN1 struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspBasicResponseASN1 struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type ocspResponseDataASN1 struct {
	Version     int `asn1:"explicit,tag:0,default:0,optional"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []ocspSingleResponseASN1
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type ocspSingleResponseASN1 struct {
	CertID     ocspCertIDASN1
	Good       asn1.Flag           `asn1:"tag:0,optional"`
	Revoked    ocspRevokedInfoASN1 `asn1:"tag:1,optional"`
	Unknown    asn1.Flag           `asn1:"tag:2,optional"`
	ThisUpdate time.Time           `asn1:"generalized"`
	NextUpdate time.Time           `asn1:"generalized,explicit,tag:0,optional"`
	Extensions []pkix.Extension    `asn1:"explicit,tag:1,optional"`
}

type ocspRevokedInfoASN1 struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// ResponderID tags (RFC 6960 §4.2.1: byName [1], byKey [2], explicit).
const (
	ocspResponderByName = 1
	ocspResponderByKey  = 2
)

// OCSPResponseTemplate describes a successful response for
// CreateOCSPResponse.
type OCSPResponseTemplate struct {
	// ProducedAt is required; it is written with one-second precision.
	ProducedAt time.Time
	// Responses need a CertID with at least Hash (zero: SHA-1) and
	// SerialNumber; missing issuer hashes are computed from the issuer.
	// A responder answering a request copies the request's CertIDs.
	// Each needs ThisUpdate.
	Responses []OCSPSingleResponse
	// Nonce is echoed in a nonce extension when set.
	Nonce []byte
	// ResponderIDByKey identifies the responder by the SHA-1 of its key
	// instead of by its name.
	ResponderIDByKey bool
	// SignatureAlgorithm defaults to DefaultSignatureAlgorithm of the
	// signer's key.
	SignatureAlgorithm SignatureAlgorithm
	// Certificates are sent along, after the delegated responder's
	// certificate; a CA that signs itself may send its own so that
	// clients without it configured (openssl ocsp without -VAfile) can
	// find the signer.
	Certificates []*Certificate
	// ExtraExtensions are added to the response extensions; one with the
	// nonce's OID replaces the nonce.
	ExtraExtensions []pkix.Extension
}

// CreateOCSPResponse builds and signs a successful OCSP response about
// certificates issued by issuer. responderCert is the certificate whose key
// signer holds: nil (or issuer itself) when the CA signs, or a delegated
// responder certificate issued by the CA with id-kp-OCSPSigning, which is
// then included in the response. The signature is checked before the
// response is returned. Every CertID must name issuer: a responder asked
// about another issuer's certificates answers
// CreateOCSPErrorResponse(OCSPUnauthorized), as RFC 5019 §2.2.3 has it.
func CreateOCSPResponse(rand io.Reader, template *OCSPResponseTemplate, issuer, responderCert *Certificate, signer crypto.Signer) ([]byte, error) {
	if template == nil || issuer == nil || signer == nil {
		return nil, errors.New("pki: CreateOCSPResponse needs a template, an issuer and a signer")
	}
	if template.ProducedAt.IsZero() {
		return nil, errors.New("pki: OCSP response producedAt is required")
	}
	if len(template.Responses) == 0 {
		return nil, errors.New("pki: OCSP response has no single responses")
	}
	delegated := responderCert != nil && !bytes.Equal(responderCert.Raw, issuer.Raw)
	if responderCert == nil {
		responderCert = issuer
	}
	if delegated {
		if err := ocspCheckDelegated(responderCert, issuer); err != nil {
			return nil, err
		}
	}
	if err := revCheckSigner(signer, responderCert); err != nil {
		return nil, err
	}
	alg, err := algorithmFor(template.SignatureAlgorithm, signer)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP signature algorithm: %w", err)
	}

	var rid asn1.RawValue
	if template.ResponderIDByKey {
		key, err := revSubjectPublicKey(responderCert)
		if err != nil {
			return nil, err
		}
		kh, err := asn1.Marshal(ocspHashOf(sha1.New, key))
		if err != nil {
			return nil, err
		}
		rid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspResponderByKey, IsCompound: true, Bytes: kh}
	} else {
		rid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspResponderByName, IsCompound: true, Bytes: responderCert.RawSubject}
	}

	data := ocspResponseDataASN1{ResponderID: rid, ProducedAt: derTime(template.ProducedAt)}
	for i, sr := range template.Responses {
		s, err := ocspMarshalSingle(sr, issuer)
		if err != nil {
			return nil, fmt.Errorf("pki: OCSP single response %d: %w", i, err)
		}
		data.Responses = append(data.Responses, s)
	}
	if template.Nonce != nil {
		ext, err := ocspNonceExtension(template.Nonce)
		if err != nil {
			return nil, err
		}
		data.Extensions = append(data.Extensions, ext)
	}
	exts, err := mergeExtensions(data.Extensions, template.ExtraExtensions)
	if err != nil {
		return nil, err
	}
	if len(exts) > 0 {
		data.Extensions = exts
	}

	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding OCSP response: %w", err)
	}
	sig, err := Sign(rand, signer, alg, tbs)
	if err != nil {
		return nil, fmt.Errorf("pki: signing OCSP response: %w", err)
	}
	basic := ocspBasicResponseASN1{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: alg.AlgorithmIdentifier(),
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	}
	if delegated {
		basic.Certificates = append(basic.Certificates, asn1.RawValue{FullBytes: responderCert.Raw})
	}
	for _, c := range template.Certificates {
		basic.Certificates = append(basic.Certificates, asn1.RawValue{FullBytes: c.Raw})
	}
	basicDER, err := asn1.Marshal(basic)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding OCSP response: %w", err)
	}
	der, err := asn1.Marshal(ocspResponseASN1{
		Status:        asn1.Enumerated(OCSPSuccessful),
		ResponseBytes: ocspResponseBytesASN1{ResponseType: ocspOIDBasic, Response: basicDER},
	})
	if err != nil {
		return nil, fmt.Errorf("pki: encoding OCSP response: %w", err)
	}
	return der, nil
}

func ocspMarshalSingle(sr OCSPSingleResponse, issuer *Certificate) (ocspSingleResponseASN1, error) {
	id := sr.CertID
	if id.Hash == 0 {
		id.Hash = CertIDSHA1
	}
	if len(id.IssuerNameHash) == 0 && len(id.IssuerKeyHash) == 0 {
		var err error
		if id, err = NewOCSPCertID(id.Hash, issuer, id.SerialNumber); err != nil {
			return ocspSingleResponseASN1{}, err
		}
	} else if !id.MatchesIssuer(issuer) {
		return ocspSingleResponseASN1{}, errors.New("CertID names another issuer")
	}
	cid, err := id.marshal()
	if err != nil {
		return ocspSingleResponseASN1{}, err
	}
	if sr.ThisUpdate.IsZero() {
		return ocspSingleResponseASN1{}, errors.New("thisUpdate is required")
	}
	s := ocspSingleResponseASN1{CertID: cid, ThisUpdate: derTime(sr.ThisUpdate)}
	if !sr.NextUpdate.IsZero() {
		s.NextUpdate = derTime(sr.NextUpdate)
		if !s.NextUpdate.After(s.ThisUpdate) {
			return ocspSingleResponseASN1{}, errors.New("nextUpdate must be after thisUpdate")
		}
	}
	switch sr.Status {
	case OCSPGood:
		s.Good = true
	case OCSPUnknown:
		s.Unknown = true
	case OCSPRevoked:
		if sr.RevokedAt.IsZero() {
			return ocspSingleResponseASN1{}, errors.New("a revoked status needs the revocation time")
		}
		if !sr.RevocationReason.Valid() {
			return ocspSingleResponseASN1{}, fmt.Errorf("invalid revocation reason %d", int(sr.RevocationReason))
		}
		// The zero reason (unspecified) is left out, as in CRLs.
		s.Revoked = ocspRevokedInfoASN1{RevocationTime: derTime(sr.RevokedAt), Reason: asn1.Enumerated(sr.RevocationReason)}
	default:
		return ocspSingleResponseASN1{}, fmt.Errorf("invalid certificate status %d", int(sr.Status))
	}
	s.Extensions = sr.Extensions
	return s, nil
}

// ocspCheckDelegated applies RFC 6960 §4.2.2.2: a responder other than
// the CA must hold a certificate issued directly by the CA with the
// id-kp-OCSPSigning extended key usage.
func ocspCheckDelegated(responder, issuer *Certificate) error {
	if !bytes.Equal(responder.RawIssuer, issuer.RawSubject) {
		return errors.New("pki: OCSP responder certificate was not issued by the CA")
	}
	ok := false
	for _, eku := range responder.ExtKeyUsage {
		if eku.Equal(OIDExtKeyUsageOCSPSigning) {
			ok = true
		}
	}
	if !ok {
		return errors.New("pki: OCSP responder certificate lacks the OCSPSigning extended key usage")
	}
	if len(responder.UnhandledCriticalExtensions) > 0 {
		return fmt.Errorf("pki: OCSP responder certificate has unhandled critical extension %s", responder.UnhandledCriticalExtensions[0])
	}
	if err := responder.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("pki: OCSP responder certificate: %w", err)
	}
	return nil
}

// CreateOCSPErrorResponse builds an unsigned response with an error status
// (malformedRequest, internalError, tryLater, sigRequired, unauthorized).
func CreateOCSPErrorResponse(status OCSPResponseStatus) ([]byte, error) {
	if status == OCSPSuccessful {
		return nil, errors.New("pki: a successful OCSP response needs CreateOCSPResponse")
	}
	if _, ok := ocspStatusNames[status]; !ok {
		return nil, fmt.Errorf("pki: invalid OCSP response status %d", int(status))
	}
	return asn1.Marshal(ocspResponseASN1{Status: asn1.Enumerated(status)})
}

// ParseOCSPResponse parses a DER OCSP response. An unsuccessful status
// comes back as an *OCSPResponseError. With a non-nil issuer the response
// must be signed by the issuer or by a responder it authorized, and be only
// about certificates of that issuer (CheckSignatureFrom); with a nil issuer
// nothing is verified.
func ParseOCSPResponse(der []byte, issuer *Certificate) (*OCSPResponse, error) {
	var outer ocspResponseASN1
	if err := unmarshalExact(der, &outer, ""); err != nil {
		return nil, fmt.Errorf("pki: parsing OCSP response: %w", err)
	}
	status := OCSPResponseStatus(outer.Status)
	if status != OCSPSuccessful {
		if _, ok := ocspStatusNames[status]; !ok {
			return nil, fmt.Errorf("pki: invalid OCSP response status %d", int(status))
		}
		return nil, &OCSPResponseError{Status: status}
	}
	if !outer.ResponseBytes.ResponseType.Equal(ocspOIDBasic) {
		return nil, fmt.Errorf("pki: unsupported OCSP response type %s", outer.ResponseBytes.ResponseType)
	}
	var basic ocspBasicResponseASN1
	if err := unmarshalExact(outer.ResponseBytes.Response, &basic, ""); err != nil {
		return nil, fmt.Errorf("pki: parsing basic OCSP response: %w", err)
	}
	// encoding/asn1 does not check that an explicit tag's length matches
	// its contents; re-encoding the unsigned wrappers catches any such
	// change, since DER has one encoding.
	if reenc, err := asn1.Marshal(outer); err != nil || !bytes.Equal(reenc, der) {
		return nil, errors.New("pki: OCSP response is not DER")
	}
	if reenc, err := asn1.Marshal(basic); err != nil || !bytes.Equal(reenc, outer.ResponseBytes.Response) {
		return nil, errors.New("pki: basic OCSP response is not DER")
	}
	var data ocspResponseDataASN1
	if err := unmarshalExact(basic.TBSResponseData.FullBytes, &data, ""); err != nil {
		return nil, fmt.Errorf("pki: parsing OCSP response data: %w", err)
	}
	if data.Version != 0 {
		return nil, fmt.Errorf("pki: unsupported OCSP response version %d", data.Version+1)
	}
	alg, err := SignatureAlgorithmFromAI(basic.SignatureAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP response signature algorithm: %w", err)
	}
	sig, err := signatureOctets(basic.Signature)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP response signature: %w", err)
	}
	r := &OCSPResponse{
		Raw:                der,
		RawTBSResponseData: basic.TBSResponseData.FullBytes,
		ProducedAt:         data.ProducedAt,
		Extensions:         data.Extensions,
		Nonce:              ocspFindNonce(data.Extensions),
		SignatureAlgorithm: alg,
		Signature:          sig,
	}
	rid := data.ResponderID
	switch {
	case rid.Class == asn1.ClassContextSpecific && rid.IsCompound && rid.Tag == ocspResponderByName:
		var name asn1.RawValue
		if err := unmarshalExact(rid.Bytes, &name, ""); err != nil || name.Tag != asn1.TagSequence {
			return nil, errors.New("pki: OCSP responder name is not a Name")
		}
		r.RawResponderName = rid.Bytes
	case rid.Class == asn1.ClassContextSpecific && rid.IsCompound && rid.Tag == ocspResponderByKey:
		if err := unmarshalExact(rid.Bytes, &r.ResponderKeyHash, ""); err != nil {
			return nil, fmt.Errorf("pki: OCSP responder key hash: %w", err)
		}
	default:
		return nil, errors.New("pki: invalid OCSP responder ID")
	}
	if len(data.Responses) == 0 {
		return nil, errors.New("pki: OCSP response has no single responses")
	}
	for i, s := range data.Responses {
		sr, err := ocspParseSingle(s)
		if err != nil {
			return nil, fmt.Errorf("pki: OCSP single response %d: %w", i, err)
		}
		r.Responses = append(r.Responses, sr)
	}
	for i, raw := range basic.Certificates {
		c, err := ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("pki: OCSP response certificate %d: %w", i, err)
		}
		r.Certificates = append(r.Certificates, c)
	}
	if issuer != nil {
		if err := r.CheckSignatureFrom(issuer); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func ocspParseSingle(s ocspSingleResponseASN1) (OCSPSingleResponse, error) {
	id, err := s.CertID.parse()
	if err != nil {
		return OCSPSingleResponse{}, err
	}
	sr := OCSPSingleResponse{CertID: id, ThisUpdate: s.ThisUpdate, NextUpdate: s.NextUpdate, Extensions: s.Extensions}
	good, unknown, revoked := bool(s.Good), bool(s.Unknown), !s.Revoked.RevocationTime.IsZero()
	switch {
	case good && !revoked && !unknown:
		sr.Status = OCSPGood
	case revoked && !good && !unknown:
		sr.Status = OCSPRevoked
		sr.RevokedAt = s.Revoked.RevocationTime
		sr.RevocationReason = CRLReason(s.Revoked.Reason)
		if !sr.RevocationReason.Valid() {
			return sr, fmt.Errorf("invalid revocation reason %d", int(s.Revoked.Reason))
		}
	case unknown && !good && !revoked:
		sr.Status = OCSPUnknown
	default:
		return sr, errors.New("invalid certificate status")
	}
	return sr, nil
}

// CheckSignatureFrom verifies the response on behalf of issuer's
// certificates (RFC 6960 §4.2.2.2): the responder is the issuer itself, or
// a certificate in the response issued by the issuer with
// id-kp-OCSPSigning and valid when the response was produced; the
// signature verifies with the responder's key; and every single response
// is about a certificate of this issuer.
func (r *OCSPResponse) CheckSignatureFrom(issuer *Certificate) error {
	if issuer == nil {
		return errors.New("pki: no OCSP issuer certificate")
	}
	for i, sr := range r.Responses {
		if !sr.CertID.MatchesIssuer(issuer) {
			return fmt.Errorf("pki: OCSP single response %d is about another issuer's certificate", i)
		}
	}
	responder, err := r.responder(issuer)
	if err != nil {
		return err
	}
	if err := CheckSignature(r.SignatureAlgorithm, r.RawTBSResponseData, r.Signature, responder.PublicKey); err != nil {
		return fmt.Errorf("pki: OCSP response signature: %w", err)
	}
	return nil
}

// responder finds the certificate the responder ID names: the issuer, or
// an authorized delegated responder among the response's certificates.
func (r *OCSPResponse) responder(issuer *Certificate) (*Certificate, error) {
	if r.identifies(issuer) {
		return issuer, nil
	}
	for _, c := range r.Certificates {
		if !r.identifies(c) {
			continue
		}
		if err := ocspCheckDelegated(c, issuer); err != nil {
			return nil, err
		}
		if r.ProducedAt.Before(c.NotBefore) || r.ProducedAt.After(c.NotAfter) {
			return nil, errors.New("pki: OCSP responder certificate was not valid when the response was produced")
		}
		return c, nil
	}
	return nil, errors.New("pki: OCSP response is signed neither by the issuer nor by a responder certificate it carries")
}

func (r *OCSPResponse) identifies(c *Certificate) bool {
	if r.RawResponderName != nil {
		return bytes.Equal(r.RawResponderName, c.RawSubject)
	}
	key, err := revSubjectPublicKey(c)
	return err == nil && bytes.Equal(r.ResponderKeyHash, ocspHashOf(sha1.New, key))
}

// Russian titles of the OCSP statuses, for Describe.
var ocspStatusTitles = map[OCSPStatus]string{
	OCSPGood:    "действителен (good)",
	OCSPRevoked: "отозван (revoked)",
	OCSPUnknown: "неизвестен (unknown)",
}

// Describe writes a readable dump of the request, in the bilingual layout
// of Certificate.Describe.
func (req *OCSPRequest) Describe(w io.Writer) error {
	d := &dumper{w: w}
	d.line(0, "Запрос OCSP (OCSP request)", nil)
	for i, id := range req.CertIDs {
		d.line(1, fmt.Sprintf("Сертификат %d (Certificate %d)", i+1, i+1), nil)
		ocspDescribeCertID(d, 2, id)
	}
	if req.Nonce != nil {
		d.line(1, "Nonce", colonHex(req.Nonce))
	}
	if req.Signed {
		d.line(1, "Подпись (Signature)", "есть, не проверялась (present, not verified)")
	}
	return d.err
}

// Describe writes a readable dump of the response, in the bilingual layout
// of Certificate.Describe.
func (r *OCSPResponse) Describe(w io.Writer) error {
	d := &dumper{w: w}
	d.line(0, "Ответ OCSP (OCSP response)", nil)
	if r.RawResponderName != nil {
		if n, err := ParseNameDER(r.RawResponderName); err == nil {
			d.describeName(1, "Ответчик (Responder)", n)
		} else {
			d.line(1, "Ответчик (Responder)", fmt.Sprintf("%x", r.RawResponderName))
		}
	} else {
		d.line(1, "Ключ ответчика, SHA-1 (Responder key hash)", colonHex(r.ResponderKeyHash))
	}
	d.line(1, "Время ответа (Produced at)", describeTime(r.ProducedAt))
	d.line(1, "Алгоритм подписи (Signature algorithm)", r.SignatureAlgorithm)
	if r.Nonce != nil {
		d.line(1, "Nonce", colonHex(r.Nonce))
	}
	d.line(1, "Сертификаты (Certificates)", len(r.Certificates))
	for i, sr := range r.Responses {
		d.line(1, fmt.Sprintf("Ответ %d (Response %d)", i+1, i+1), nil)
		ocspDescribeCertID(d, 2, sr.CertID)
		status, ok := ocspStatusTitles[sr.Status]
		if !ok {
			status = sr.Status.String()
		}
		d.line(2, "Статус (Status)", status)
		if sr.Status == OCSPRevoked {
			d.line(2, "Дата отзыва (Revocation date)", describeTime(sr.RevokedAt))
			if sr.RevocationReason != ReasonUnspecified {
				d.line(2, "Причина (Reason)", crlDescribeReason(sr.RevocationReason))
			}
		}
		d.line(2, "Выпущен (This update)", describeTime(sr.ThisUpdate))
		if !sr.NextUpdate.IsZero() {
			d.line(2, "Следующее обновление (Next update)", describeTime(sr.NextUpdate))
		}
	}
	return d.err
}

func ocspDescribeCertID(d *dumper, indent int, id OCSPCertID) {
	d.line(indent, "Серийный номер (Serial number)", describeSerial(id.SerialNumber))
	d.line(indent, "Хэш-функция (Hash)", id.Hash)
	d.line(indent, "Хэш имени издателя (Issuer name hash)", colonHex(id.IssuerNameHash))
	d.line(indent, "Хэш ключа издателя (Issuer key hash)", colonHex(id.IssuerKeyHash))
}
