package cms

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gostkey/gostkey/pki"
)

// Reason says why a signer's verification failed.
type Reason int

const (
	// BadSignature: the signature value does not verify under the signer
	// certificate's key (over the signed attributes, or over the content
	// digest when there are none).
	BadSignature Reason = iota + 1
	// DigestMismatch: the messageDigest attribute differs from the digest
	// of the content.
	DigestMismatch
	// MissingAttribute: a required signed attribute is absent
	// (contentType, messageDigest; signingCertificate(V2) under RequireCAdES).
	MissingAttribute
	// DuplicateAttribute: an attribute that must occur once occurs more
	// often, or has more than one value.
	DuplicateAttribute
	// MalformedAttribute: a signed attribute cannot be decoded.
	MalformedAttribute
	// ContentTypeMismatch: the contentType attribute differs from
	// eContentType.
	ContentTypeMismatch
	// CertificateNotFound: no certificate (embedded or given) matches the
	// signer identifier, or it does not parse.
	CertificateNotFound
	// SigningCertificateMismatch: signingCertificate(V2) does not identify
	// the signer certificate.
	SigningCertificateMismatch
	// UnsupportedAlgorithm: the digest or signature algorithm is unknown or
	// does not fit the certificate key.
	UnsupportedAlgorithm
	// ContentMissing: a detached SignedData was verified without content.
	ContentMissing
	// ChainInvalid: the signer certificate does not chain to a given root
	// at the verification time (or no roots were given), or that time is
	// outside its privateKeyUsagePeriod.
	ChainInvalid
	// Revoked: a certificate of the chain is revoked.
	Revoked
	// RevocationUnknown: revocation was asked for but could not be decided.
	RevocationUnknown
	// WrongPurpose: the signer certificate is not fit for
	// VerifyOptions.Purpose: its keyUsage allows neither digitalSignature
	// nor nonRepudiation, or its extKeyUsage (or, along the chain, an
	// issuer's) names none of the purpose's usages.
	WrongPurpose
)

var reasonNames = map[Reason]string{
	BadSignature:               "bad signature",
	DigestMismatch:             "message digest mismatch",
	MissingAttribute:           "missing signed attribute",
	DuplicateAttribute:         "duplicate signed attribute",
	MalformedAttribute:         "malformed signed attribute",
	ContentTypeMismatch:        "content type mismatch",
	CertificateNotFound:        "signer certificate not found",
	SigningCertificateMismatch: "signing certificate attribute does not match the signer certificate",
	UnsupportedAlgorithm:       "unsupported algorithm",
	ContentMissing:             "detached signature without content",
	ChainInvalid:               "certificate chain invalid",
	Revoked:                    "certificate revoked",
	RevocationUnknown:          "revocation status unknown",
	WrongPurpose:               "certificate not fit for the purpose",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// SignerError is why one signer of a SignedData failed verification.
type SignerError struct {
	Index  int // position of the SignerInfo in the SignedData, from 0 (messages count from 1, as people do)
	Reason Reason
	Detail string
	Err    error // underlying cause, if any
}

func (e *SignerError) Error() string {
	msg := fmt.Sprintf("cms: signer %d: %s", e.Index+1, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SignerError) Unwrap() error { return e.Err }

// Purpose is what a signer certificate must be fit for.
type Purpose int

const (
	// PurposeDocumentSigning, the zero value, is what OpenSSL's smimesign
	// purpose accepts (no extKeyUsage, anyExtendedKeyUsage or
	// emailProtection) plus the document-signing usages (RFC 9336's,
	// Microsoft's, and CryptoPro's registration-centre user that Russian
	// qualified certificates carry), required of the signer certificate
	// and, where they have an extKeyUsage, of its issuers.
	PurposeDocumentSigning Purpose = iota
	// PurposeAny accepts any extKeyUsage, as openssl's -purpose any. The
	// keyUsage rule (digitalSignature or nonRepudiation) still applies:
	// a key certified only for other uses does not sign documents.
	PurposeAny
)

var purposeNames = map[Purpose]string{PurposeDocumentSigning: "document", PurposeAny: "any"}

// String is the name ParsePurpose reads: "document" or "any".
func (p Purpose) String() string {
	if s, ok := purposeNames[p]; ok {
		return s
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// ParsePurpose reads a purpose name as a CLI's --purpose gives it:
// "document" (the default) or "any".
func ParsePurpose(s string) (Purpose, error) {
	for p, name := range purposeNames {
		if s == name {
			return p, nil
		}
	}
	return 0, fmt.Errorf("cms: unknown purpose %q (want document or any)", s)
}

// documentSigningEKUs are the extKeyUsage values of which a document
// signer's certificate, when it has the extension, must name one (or
// anyExtendedKeyUsage).
var documentSigningEKUs = []asn1.ObjectIdentifier{
	pki.OIDExtKeyUsageEmailProtection,
	pki.OIDExtKeyUsageDocumentSigning,
	pki.OIDExtKeyUsageMSDocumentSigning,
	pki.OIDExtKeyUsageCryptoProRAUser,
}

// extKeyUsages are the usages p asks of a certificate; nil asks none.
func (p Purpose) extKeyUsages() ([]asn1.ObjectIdentifier, error) {
	switch p {
	case PurposeDocumentSigning:
		return documentSigningEKUs, nil
	case PurposeAny:
		return nil, nil
	}
	return nil, fmt.Errorf("unknown purpose %v", p)
}

// checkPurpose applies opts.Purpose to the signer certificate itself, so
// that it holds with SkipChainVerification too; pki.Verify checks the
// same usages along the chain.
func checkPurpose(cert *pki.Certificate, ekus []asn1.ObjectIdentifier) *SignerError {
	// Like OpenSSL's smimesign purpose, accept digitalSignature or
	// nonRepudiation.
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fail(WrongPurpose, "the certificate's key usage does not allow signing", nil)
	}
	if len(ekus) == 0 || len(cert.ExtKeyUsage) == 0 {
		return nil
	}
	for _, have := range cert.ExtKeyUsage {
		if have.Equal(pki.OIDExtKeyUsageAny) || slices.ContainsFunc(ekus, have.Equal) {
			return nil
		}
	}
	return fail(WrongPurpose, "the certificate's extended key usage does not allow signing documents", nil)
}

// VerifyOptions control Verify. The zero value checks signatures, the
// attribute rules and the chain, and fails every signer for want of roots.
type VerifyOptions struct {
	// Roots are the trusted anchors of the signer chains.
	Roots []*pki.Certificate
	// Intermediates add to the certificates embedded in the SignedData,
	// both to find signer certificates by (as openssl's -certfile) and to
	// build chains with.
	Intermediates []*pki.Certificate
	// SkipChainVerification checks signatures only; SignerResult.Chain
	// stays nil. A caller with no roots (a CLI run without --ca) says so
	// explicitly.
	SkipChainVerification bool
	// CurrentTime is when the chain must be valid and unrevoked: zero
	// means now. A nonzero CurrentTime is a time the caller asserts (a
	// CLI's --at), reported back as TimeAsserted. The signer's own
	// signingTime is never used: it is only the signer's claim, which the
	// holder of an expired or revoked certificate's key can backdate.
	CurrentTime time.Time
	// Purpose is what the signer certificate (and its chain) must be fit
	// for; the zero value is PurposeDocumentSigning. A misfit is a
	// WrongPurpose failure.
	Purpose Purpose
	// RequireCAdES makes a missing signingCertificate(V2) attribute a
	// MissingAttribute failure, as `openssl cms -verify -cades` does.
	RequireCAdES bool

	// Revocation of every certificate of the chain but the root is checked
	// when CRLs are given or OCSP is set (it needs the chain, so not with
	// SkipChainVerification). A CRL signed by the certificate's issuer
	// settles it; otherwise, with OCSP, the certificate's first OCSP
	// responder is asked (through OCSPQuery, default pki.QueryOCSP). A
	// certificate neither settles fails with RevocationUnknown. A CRL
	// clears a certificate only while it is current (thisUpdate ≤ now ≤
	// nextUpdate, now being the real time even when CurrentTime is
	// asserted: a compromise reported since must still be seen); its
	// revocations count whatever its age. Checked now, every revocation
	// counts. Checked at an asserted CurrentTime, a revocation dated after
	// it leaves the signature valid, unless its reason is a key, CA or AA
	// compromise or unspecified.
	//
	// CRLFetch, with OCSP, settles a certificate that names no OCSP
	// responder (a CA certificate, typically: roots publish CRLs, not
	// OCSP) with the CRLs at its CRL distribution points, which it
	// fetches; a fetched CRL counts as one given in CRLs would.
	CRLs      []*pki.CRL
	OCSP      bool
	OCSPQuery OCSPQuery
	CRLFetch  CRLFetch
	// An OCSP answer counts only while it is current at the real time
	// (pki.OCSPResponse.CheckCertificateAt): thisUpdate and producedAt
	// not after now + OCSPSkew, nextUpdate, when present, not before
	// now - OCSPSkew, and, for an answer without nextUpdate that did not
	// echo our nonce, thisUpdate not more than OCSPMaxAge ago. Zero means
	// pki.DefaultOCSPSkew (5 minutes) and pki.DefaultOCSPMaxAge (1 hour).
	// An answer out of its time is RevocationUnknown.
	OCSPMaxAge time.Duration
	OCSPSkew   time.Duration
}

// VerifyResult is what Verify found. Signers is in SignedData order and
// has one entry per SignerInfo, valid or not.
type VerifyResult struct {
	ContentType asn1.ObjectIdentifier
	Detached    bool
	// Content is the embedded content of an attached SignedData.
	Content []byte
	Signers []*SignerResult
}

// TimeBasis says where the time a signer's chain and revocation were
// checked at came from, so that a caller can print "checked at T (now)"
// or "checked at T (asserted)". A signer's own signingTime is never one:
// it is the signer's claim, reported in SignerResult.SigningTime only.
// A trusted timestamp (CAdES-T) would be a third basis.
type TimeBasis int

const (
	// TimeNotChecked: verification stopped before the chain was checked,
	// or VerifyOptions.SkipChainVerification was set.
	TimeNotChecked TimeBasis = iota
	// TimeNow: VerifyOptions.CurrentTime was zero; checked at the time of
	// verification.
	TimeNow
	// TimeAsserted: checked at VerifyOptions.CurrentTime, a time the
	// caller asserts (gostkey verify --at).
	TimeAsserted
)

func (b TimeBasis) String() string {
	switch b {
	case TimeNotChecked:
		return "not checked"
	case TimeNow:
		return "now"
	case TimeAsserted:
		return "asserted"
	}
	return fmt.Sprintf("TimeBasis(%d)", int(b))
}

// SignerResult is one signer's outcome.
type SignerResult struct {
	// Certificate is the signer certificate; nil if not found.
	Certificate *pki.Certificate
	// Chain runs from Certificate to a root; nil when the chain was not
	// verified or not valid.
	Chain []*pki.Certificate
	// Algorithm is the signature algorithm taken from the certificate key
	// and DigestAlgorithm.
	Algorithm       pki.SignatureAlgorithm
	DigestAlgorithm asn1.ObjectIdentifier
	// SigningTime is the signingTime attribute, the signer's unverified
	// claim; zero when absent. No decision depends on it.
	SigningTime time.Time
	// CheckedAt is the time the chain (and revocation) were checked at,
	// and TimeBasis where it came from; zero and TimeNotChecked when the
	// chain was not checked.
	CheckedAt time.Time
	TimeBasis TimeBasis
	// SignedAttributes reports whether the SignerInfo had signed
	// attributes; CAdES whether it also had a signingCertificate(V2)
	// that matched the certificate (a CAdES-BES signature).
	SignedAttributes bool
	CAdES            bool
	// Err is nil when this signer verified; otherwise a *SignerError.
	Err error
}

// Verify checks a SignedData (PEM or DER) and each of its signers. content
// is the document for a detached SignedData, read once whatever its size,
// every digest the signers need computed in the same pass. For an attached
// SignedData content may be nil; when given, it must equal the embedded
// content, or every signer fails with DigestMismatch (so a CLI can verify
// "this file" against either kind).
//
// A malformed input gives an error wrapping ErrMalformed and no result;
// so does a content that cannot be read (an I/O error, not ErrMalformed).
// Otherwise the result lists every signer; the error is nil only if there
// is at least one signer and every signer verified, and otherwise joins
// the *SignerError of each failed signer (errors.As finds the first).
func Verify(signedData []byte, content io.Reader, opts *VerifyOptions) (*VerifyResult, error) {
	return VerifyContext(context.Background(), signedData, content, opts)
}

// VerifyContext is Verify with a context that bounds OCSP queries.
func VerifyContext(ctx context.Context, signedData []byte, content io.Reader, opts *VerifyOptions) (*VerifyResult, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	sd, err := Parse(signedData)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{ContentType: sd.ContentType, Detached: sd.Detached, Content: sd.Content}
	if len(sd.Signers) == 0 {
		return res, errors.New("cms: SignedData has no signers")
	}
	var digests map[string][]byte
	// contentErr, when set, fails every signer once its certificate is
	// known.
	var contentErr *SignerError
	switch {
	case sd.Detached && content == nil:
		contentErr = fail(ContentMissing, "", nil)
	case !sd.Detached && content != nil:
		same, err := sameContent(content, sd.Content)
		if err != nil {
			return nil, err
		}
		if !same {
			contentErr = fail(DigestMismatch, "the given content differs from the embedded content", nil)
			break
		}
		fallthrough
	default:
		if !sd.Detached {
			content = bytes.NewReader(sd.Content)
		}
		oids := make([]asn1.ObjectIdentifier, len(sd.Signers))
		for i, si := range sd.Signers {
			oids[i] = si.DigestAlgorithm.Algorithm
		}
		if digests, err = digestContent(content, oids, nil); err != nil {
			return nil, err
		}
	}
	return verifySigners(ctx, sd, res, digests, contentErr, opts)
}

// verifySigners verifies each signer of sd, given the content digests
// (keyed by digest OID string) or the failure every signer shares.
func verifySigners(ctx context.Context, sd *SignedData, res *VerifyResult, digests map[string][]byte, contentErr *SignerError, opts *VerifyOptions) (*VerifyResult, error) {
	certs := newCertPool(sd.Certificates, opts)
	var errs []error
	for i, si := range sd.Signers {
		r := &SignerResult{DigestAlgorithm: si.DigestAlgorithm.Algorithm, SignedAttributes: si.RawSignedAttrs != nil}
		res.Signers = append(res.Signers, r)
		if ferr := verifySigner(ctx, sd, si, r, digests, contentErr, certs, opts); ferr != nil {
			// A copy: contentErr is shared between signers.
			err := *ferr
			err.Index = i
			r.Err = &err
			errs = append(errs, &err)
		}
	}
	return res, errors.Join(errs...)
}

func fail(reason Reason, detail string, err error) *SignerError {
	return &SignerError{Reason: reason, Detail: detail, Err: err}
}

func verifySigner(ctx context.Context, sd *SignedData, si *SignerInfo, r *SignerResult, digests map[string][]byte, contentErr *SignerError, certs *certPool, opts *VerifyOptions) *SignerError {
	cert, err := certs.find(si)
	if err != nil {
		return fail(CertificateNotFound, "", err)
	}
	r.Certificate = cert
	alg, err := signerAlgorithm(cert.PublicKey, si.DigestAlgorithm, si.SignatureAlgorithm)
	if err != nil {
		return fail(UnsupportedAlgorithm, "", err)
	}
	r.Algorithm = alg
	if contentErr != nil {
		return contentErr
	}
	contentDigest, ok := digests[si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		// VerifyStream digests the content in one pass with the algorithms
		// SignedData.digestAlgorithms announces before it.
		return fail(UnsupportedAlgorithm, fmt.Sprintf("digest algorithm %v is not among the SignedData's digestAlgorithms", si.DigestAlgorithm.Algorithm), nil)
	}
	if si.RawSignedAttrs == nil {
		// Without signed attributes the signature is over the content
		// digest itself (RFC 5652 §5.4).
		if opts.RequireCAdES {
			return fail(MissingAttribute, "no signed attributes (signingCertificate required)", nil)
		}
		if err := pki.CheckDigestSignature(alg, contentDigest, si.Signature, cert.PublicKey); err != nil {
			return fail(BadSignature, "", err)
		}
	} else {
		messageDigest, ferr := checkAttributes(sd, si, r)
		if ferr != nil {
			return ferr
		}
		h := alg.NewHash()
		h.Write([]byte{0x31})
		h.Write(si.RawSignedAttrs[1:])
		if err := pki.CheckDigestSignature(alg, h.Sum(nil), si.Signature, cert.PublicKey); err != nil {
			return fail(BadSignature, "", err)
		}
		if ferr := checkSigningCertificate(si, cert, r, opts); ferr != nil {
			return ferr
		}
		if !bytes.Equal(messageDigest, contentDigest) {
			return fail(DigestMismatch, "", nil)
		}
	}
	ekus, err := opts.Purpose.extKeyUsages()
	if err != nil {
		return fail(WrongPurpose, "", err)
	}
	if ferr := checkPurpose(cert, ekus); ferr != nil {
		return ferr
	}
	if opts.SkipChainVerification {
		if len(opts.CRLs) > 0 || opts.OCSP {
			return fail(RevocationUnknown, "revocation checks need chain verification", nil)
		}
		return nil
	}
	if len(opts.Roots) == 0 {
		return fail(ChainInvalid, "no trusted roots given", nil)
	}
	// The signer's signingTime is a claim anyone holding the key can
	// backdate, so it never moves the check into the past: only a time
	// the caller asserts does. (A trusted timestamp, CAdES-T, would be the
	// other such basis.)
	r.CheckedAt, r.TimeBasis = opts.CurrentTime, TimeAsserted
	if r.CheckedAt.IsZero() {
		r.CheckedAt, r.TimeBasis = time.Now(), TimeNow
	}
	// ctx reaches chain building, which can be long on hostile input.
	chain, err := cert.VerifyContext(ctx, pki.VerifyOptions{Roots: opts.Roots, Intermediates: certs.all(), CurrentTime: r.CheckedAt, ExtKeyUsage: ekus})
	var invalid *pki.CertificateInvalidError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == pki.IncompatibleUsage:
		return fail(WrongPurpose, "", err)
	case err != nil:
		return fail(ChainInvalid, "", err)
	}
	if ferr := checkKeyUsagePeriod(cert, r.CheckedAt); ferr != nil {
		return ferr
	}
	r.Chain = chain
	if len(opts.CRLs) > 0 || opts.OCSP {
		return checkRevocation(ctx, chain, r.CheckedAt, r.TimeBasis == TimeAsserted, opts)
	}
	return nil
}

// checkKeyUsagePeriod applies the signer certificate's
// privateKeyUsagePeriod, the time its key may sign in (Russian qualified
// certificates carry one shorter than the validity): at must lie in it.
// Outside it nothing shows the signature was made while the key could
// sign; a claimed signingTime inside it is the signer's word only.
func checkKeyUsagePeriod(cert *pki.Certificate, at time.Time) *SignerError {
	from, until := cert.PrivateKeyUsageNotBefore, cert.PrivateKeyUsageNotAfter
	if (from.IsZero() || !at.Before(from)) && (until.IsZero() || !at.After(until)) {
		return nil
	}
	var period []string
	if !from.IsZero() {
		period = append(period, "from "+from.UTC().Format(time.RFC3339))
	}
	if !until.IsZero() {
		period = append(period, "until "+until.UTC().Format(time.RFC3339))
	}
	return fail(ChainInvalid, fmt.Sprintf("the signing key may sign only %s (privateKeyUsagePeriod), checked at %s",
		strings.Join(period, " "), at.UTC().Format(time.RFC3339)), nil)
}

// checkAttributes applies the signed-attribute rules of RFC 5652 §5.3 and
// §11 as OpenSSL does (fact sheet §4.5): contentType and messageDigest
// exactly once and single-valued, contentType equal to eContentType,
// signingTime and the ESS signing-certificate attributes at most once. It
// returns the messageDigest value and fills r.SigningTime.
func checkAttributes(sd *SignedData, si *SignerInfo, r *SignerResult) ([]byte, *SignerError) {
	single := func(oid asn1.ObjectIdentifier, name string, required bool) ([]byte, *SignerError) {
		values, n := attribute(si.SignedAttrs, oid)
		switch {
		case n == 0 && required:
			return nil, fail(MissingAttribute, name, nil)
		case n == 0:
			return nil, nil
		case n > 1 || len(values) > 1:
			return nil, fail(DuplicateAttribute, name, nil)
		case len(values) == 0:
			return nil, fail(MalformedAttribute, name+" has no value", nil)
		}
		return values[0], nil
	}
	ct, ferr := single(oidContentType, "contentType", true)
	if ferr != nil {
		return nil, ferr
	}
	md, ferr := single(oidMessageDigest, "messageDigest", true)
	if ferr != nil {
		return nil, ferr
	}
	st, ferr := single(oidSigningTime, "signingTime", false)
	if ferr != nil {
		return nil, ferr
	}
	for _, ess := range []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{{oidSigningCertificate, "signingCertificate"}, {oidSigningCertificateV2, "signingCertificateV2"}} {
		if _, ferr := single(ess.oid, ess.name, false); ferr != nil {
			return nil, ferr
		}
	}
	ctOID, err := parseOID(ct)
	if err != nil {
		return nil, fail(MalformedAttribute, "contentType", err)
	}
	if !ctOID.Equal(sd.ContentType) {
		return nil, fail(ContentTypeMismatch, fmt.Sprintf("attribute %v, content %v", ctOID, sd.ContentType), nil)
	}
	digest, err := parseOctetString(md)
	if err != nil {
		return nil, fail(MalformedAttribute, "messageDigest", err)
	}
	if st != nil {
		t, err := parseTime(st)
		if err != nil {
			return nil, fail(MalformedAttribute, "signingTime", err)
		}
		r.SigningTime = t
	}
	return digest, nil
}

func parseOID(elem []byte) (asn1.ObjectIdentifier, error) {
	s := cryptobyte.String(elem)
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1ObjectIdentifier(&oid) || !s.Empty() {
		return nil, malformed("not an OBJECT IDENTIFIER")
	}
	return oid, nil
}

// checkSigningCertificate matches signingCertificateV2 (and the SHA-1
// signingCertificate of RFC 2634, when present) against the signer
// certificate: the first ESSCertID must hash to it and, when it names an
// issuer and serial, name it (RFC 5035 §4: the first entry is the signer's).
func checkSigningCertificate(si *SignerInfo, cert *pki.Certificate, r *SignerResult, opts *VerifyOptions) *SignerError {
	found := false
	for _, v := range []struct {
		oid asn1.ObjectIdentifier
		v2  bool
	}{{oidSigningCertificateV2, true}, {oidSigningCertificate, false}} {
		values, n := attribute(si.SignedAttrs, v.oid)
		if n == 0 {
			continue
		}
		found = true
		id, err := parseFirstESSCertID(values[0], v.v2)
		if err != nil {
			return fail(MalformedAttribute, "signingCertificate", err)
		}
		h, ok := newDigest(id.hashAlgorithm)
		if !ok {
			return fail(UnsupportedAlgorithm, fmt.Sprintf("signingCertificate hash %v", id.hashAlgorithm), nil)
		}
		h.Write(cert.Raw)
		if !bytes.Equal(h.Sum(nil), id.certHash) {
			return fail(SigningCertificateMismatch, "certificate hash differs", nil)
		}
		if id.serial != nil && (id.serial.Cmp(cert.SerialNumber) != 0 || !containsName(id.issuerNames, cert.RawIssuer)) {
			return fail(SigningCertificateMismatch, "issuer and serial differ", nil)
		}
	}
	if !found && opts.RequireCAdES {
		return fail(MissingAttribute, "signingCertificate", nil)
	}
	r.CAdES = found
	return nil
}

type essCertID struct {
	hashAlgorithm asn1.ObjectIdentifier
	certHash      []byte
	issuerNames   [][]byte // DER Names of directoryName entries
	serial        *big.Int // nil when issuerSerial is absent
}

// parseFirstESSCertID reads the first ESSCertID(v2) of a
// SigningCertificate(V2) value.
func parseFirstESSCertID(value []byte, v2 bool) (*essCertID, error) {
	s := cryptobyte.String(value)
	var sc, ids, id cryptobyte.String
	if !s.ReadASN1(&sc, cbasn1.SEQUENCE) || !s.Empty() || !sc.ReadASN1(&ids, cbasn1.SEQUENCE) || !ids.ReadASN1(&id, cbasn1.SEQUENCE) {
		return nil, malformed("bad SigningCertificate")
	}
	out := &essCertID{hashAlgorithm: oidSHA1}
	if v2 {
		out.hashAlgorithm = oidSHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			ai, err := readAlgorithmIdentifier(&id)
			if err != nil {
				return nil, err
			}
			out.hashAlgorithm = ai.Algorithm
		}
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) {
		return nil, malformed("bad certHash")
	}
	out.certHash = certHash
	if id.Empty() {
		return out, nil
	}
	var issuerSerial, names cryptobyte.String
	out.serial = new(big.Int)
	if !id.ReadASN1(&issuerSerial, cbasn1.SEQUENCE) || !id.Empty() ||
		!issuerSerial.ReadASN1(&names, cbasn1.SEQUENCE) || !issuerSerial.ReadASN1Integer(out.serial) || !issuerSerial.Empty() {
		return nil, malformed("bad issuerSerial")
	}
	for !names.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&gn, &tag) {
			return nil, malformed("bad GeneralName")
		}
		if tag == cbasn1.Tag(4).Constructed().ContextSpecific() {
			out.issuerNames = append(out.issuerNames, gn)
		}
	}
	return out, nil
}

func containsName(names [][]byte, name []byte) bool {
	for _, n := range names {
		if bytes.Equal(n, name) {
			return true
		}
	}
	return false
}

// certPool holds the candidate certificates of one verification, parsed
// once.
type certPool struct {
	certs []*pki.Certificate
	errs  []error // parse errors of embedded certificates, for diagnostics
}

func newCertPool(embedded [][]byte, opts *VerifyOptions) *certPool {
	p := &certPool{}
	for _, der := range embedded {
		c, err := pki.ParseCertificate(der)
		if err != nil {
			p.errs = append(p.errs, err)
			continue
		}
		p.certs = append(p.certs, c)
	}
	p.certs = append(p.certs, opts.Intermediates...)
	return p
}

func (p *certPool) all() []*pki.Certificate { return p.certs }

// find returns the certificate the SignerInfo's sid names.
func (p *certPool) find(si *SignerInfo) (*pki.Certificate, error) {
	for _, c := range p.certs {
		if si.SerialNumber != nil {
			if c.SerialNumber != nil && c.SerialNumber.Cmp(si.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, si.RawIssuer) {
				return c, nil
			}
		} else if len(si.SubjectKeyID) > 0 && bytes.Equal(c.SubjectKeyId, si.SubjectKeyID) {
			return c, nil
		}
	}
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("no matching certificate; unparsable embedded certificates: %w", errors.Join(p.errs...))
	}
	return nil, errors.New("no matching certificate")
}
