package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// InvalidReason says which check a certificate failed in Verify.
type InvalidReason int

const (
	// BadSignature: the issuer's key did not sign this certificate.
	BadSignature InvalidReason = iota + 1
	// UnknownAuthority: no chain leads from this certificate to a root.
	UnknownAuthority
	// Expired: the time checked is after NotAfter.
	Expired
	// NotYetValid: the time checked is before NotBefore.
	NotYetValid
	// NotAuthorizedToSign: an issuer is not a CA (basic constraints) or
	// its key usage lacks keyCertSign.
	NotAuthorizedToSign
	// TooManyIntermediates: an issuer's path length constraint is exceeded.
	TooManyIntermediates
	// IncompatibleUsage: the leaf's key usage or extended key usage does
	// not allow what VerifyOptions asks for.
	IncompatibleUsage
	// UnhandledCriticalExtension: a critical extension pki does not know.
	UnhandledCriticalExtension
	// UnsupportedAlgorithm: a signature or key algorithm outside pki's table.
	UnsupportedAlgorithm
	// TooManySignatureChecks: the chain search spent its allowance of
	// signature checks (maxChainSignatureChecks) without finding a chain.
	TooManySignatureChecks
)

var reasonNames = map[InvalidReason]string{
	BadSignature:               "bad signature",
	UnknownAuthority:           "signed by an unknown authority",
	Expired:                    "expired",
	NotYetValid:                "not yet valid",
	NotAuthorizedToSign:        "issuer not authorized to sign certificates",
	TooManyIntermediates:       "path length constraint exceeded",
	IncompatibleUsage:          "key usage does not allow this use",
	UnhandledCriticalExtension: "unhandled critical extension",
	UnsupportedAlgorithm:       "unsupported algorithm",
	TooManySignatureChecks:     "too many signature checks while building the chain",
}

func (r InvalidReason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("InvalidReason(%d)", int(r))
}

// CertificateInvalidError reports the check that failed and the
// certificate that failed it.
type CertificateInvalidError struct {
	Cert   *Certificate
	Reason InvalidReason
	Detail string
	Err    error // the underlying error, e.g. one wrapping ErrInvalidSignature
}

func (e *CertificateInvalidError) Error() string {
	var b strings.Builder
	b.WriteString("pki: certificate")
	if e.Cert != nil {
		fmt.Fprintf(&b, " %q", e.Cert.Subject.String())
		if e.Cert.SerialNumber != nil {
			fmt.Fprintf(&b, " (serial %X)", e.Cert.SerialNumber)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Reason.String())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *CertificateInvalidError) Unwrap() error { return e.Err }

// VerifyOptions are the inputs of Certificate.Verify.
type VerifyOptions struct {
	Roots         []*Certificate // trust anchors
	Intermediates []*Certificate // candidates for the middle of the chain
	CurrentTime   time.Time      // zero: time.Now()
	// KeyUsage lists bits the leaf's keyUsage must have (a leaf without
	// the extension allows every usage).
	KeyUsage x509.KeyUsage
	// ExtKeyUsage lists acceptable purposes, any one of which will do.
	// Each certificate of the chain that has an extKeyUsage extension,
	// CAs and trust anchor included, must allow one of them, and the
	// same one all the way: purposes a certificate does not allow are
	// struck off for the certificates below it, as crypto/x509 does.
	// anyExtendedKeyUsage in a certificate allows every purpose; asked
	// for, as in crypto/x509, it accepts any. Empty: no check.
	ExtKeyUsage []asn1.ObjectIdentifier
}

// Bounds on the chain search, which an attacker feeds: a signature can
// carry any number of certificates, and same-named issuers multiply the
// orderings to try.
const (
	// maxChainLength bounds the chain, leaf and root included.
	maxChainLength = 10
	// maxChainSignatureChecks bounds the signature checks of one Verify,
	// as crypto/x509 does with the same number: room for several long
	// chains and the failed tries of same-named issuers.
	maxChainSignatureChecks = 100
	// maxCandidatesPerStep bounds the issuers tried for one certificate;
	// more same-named issuers than this would spend the whole allowance
	// of signature checks on one step.
	maxCandidatesPerStep = 16
)

// Verify is VerifyContext without a deadline.
func (c *Certificate) Verify(opts VerifyOptions) ([]*Certificate, error) {
	return c.VerifyContext(context.Background(), opts)
}

// VerifyContext builds a chain from c to one of opts.Roots and checks it:
// every signature, every validity period at opts.CurrentTime, that each
// issuer is a CA with keyCertSign (when it has a keyUsage) within its path
// length, the leaf's key usage and the chain's extended key usages against
// opts, and that no certificate has an unhandled critical extension. It
// returns the chain, leaf first and root last.
//
// Trust anchors that are version 1 certificates are taken as CAs, as
// OpenSSL does. Failures are *CertificateInvalidError: an issuer whose
// signature holds but which breaks a rule is reported before a bad
// signature, and that before an unknown authority.
//
// The search is bounded whatever the input: no certificate is explored
// twice at the same depth, an issuer with the subject and key of one
// already in the chain is not tried again, at most maxCandidatesPerStep
// issuers are tried per certificate and maxChainSignatureChecks signatures
// checked in all (beyond that, TooManySignatureChecks). It stops when ctx
// is done, with an error wrapping ctx.Err().
func (c *Certificate) VerifyContext(ctx context.Context, opts VerifyOptions) ([]*Certificate, error) {
	return newVerifier(ctx, opts).verify(c)
}

type verifier struct {
	ctx          context.Context
	opts         VerifyOptions
	leaf         *Certificate
	now          time.Time
	maxSigChecks int // maxChainSignatureChecks; tests lower it

	expanded   int                             // search states explored
	sigChecks  int                             // signatures checked so far
	afterCheck func()                          // test hook, run after each signature check
	sigResults map[[2]*Certificate]error       // (child, parent) → CheckSignatureFrom's answer
	dead       map[searchState]bool            // states whose subtree held no chain
	issuers    map[*Certificate][]*Certificate // candidates' answers
	truncated  bool                            // some step had more than maxCandidatesPerStep issuers

	constraintErr error          // the first issuer whose signature held but which broke a rule
	signatureErr  error          // the first issuer whose name matched but whose key did not
	deepest       []*Certificate // the longest chain tried, for UnknownAuthority
}

// searchState is what the rest of a search depends on besides the
// certificates already used: the certificate reached, its depth (path
// length constraints and the length bound only get stricter deeper), and
// the requested purposes still allowed. A state found barren is not
// explored again under another prefix: what the first prefix excluded
// from its subtree were certificates of that prefix, and a chain through
// one of them has a shorter form through the prefix itself.
type searchState struct {
	cert     *Certificate
	depth    int
	purposes string
}

func newVerifier(ctx context.Context, opts VerifyOptions) *verifier {
	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	return &verifier{
		ctx: ctx, opts: opts, now: now, maxSigChecks: maxChainSignatureChecks,
		sigResults: map[[2]*Certificate]error{}, dead: map[searchState]bool{}, issuers: map[*Certificate][]*Certificate{},
	}
}

// errStop ends the search early: the context is done or the signature
// checks are spent.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

func (v *verifier) verify(c *Certificate) ([]*Certificate, error) {
	v.leaf = c
	if err := v.ctx.Err(); err != nil {
		return nil, fmt.Errorf("pki: chain building stopped: %w", err)
	}
	isRoot := v.isRoot(c)
	purposes, err := v.admit(c, 0, isRoot, allPurposes(len(v.opts.ExtKeyUsage)))
	if err != nil {
		return nil, err
	}
	if isRoot {
		return []*Certificate{c}, nil
	}
	chain, err := v.search([]*Certificate{c}, purposes)
	var stop errStop
	switch {
	case errors.As(err, &stop):
		return nil, stop.err
	case chain != nil:
		return chain, nil
	case v.constraintErr != nil:
		return nil, v.constraintErr
	case v.signatureErr != nil:
		return nil, v.signatureErr
	}
	last := v.deepest[len(v.deepest)-1]
	detail := fmt.Sprintf("no issuer %q among the roots and intermediates", last.Issuer.String())
	if v.truncated {
		detail += fmt.Sprintf(" (only the first %d same-named issuers of a certificate were tried)", maxCandidatesPerStep)
	}
	return nil, &CertificateInvalidError{Cert: last, Reason: UnknownAuthority, Detail: detail}
}

func (v *verifier) isRoot(c *Certificate) bool {
	for _, r := range v.opts.Roots {
		if r.Equal(c) {
			return true
		}
	}
	return false
}

// search extends chain, whose certificates all passed admit, with issuers
// whose signatures verify and which pass admit in turn, until it reaches
// a root. The error is an errStop or nil.
func (v *verifier) search(chain []*Certificate, purposes []bool) ([]*Certificate, error) {
	if len(chain) > len(v.deepest) {
		v.deepest = chain
	}
	if len(chain) >= maxChainLength {
		return nil, nil
	}
	cur := chain[len(chain)-1]
	state := searchState{cur, len(chain), purposeKey(purposes)}
	if v.dead[state] {
		return nil, nil
	}
	v.expanded++
	for _, cand := range v.candidates(cur) {
		if alreadyInChain(chain, cand) {
			continue
		}
		if err := v.checkSignature(cur, cand); err != nil {
			var stop errStop
			if errors.As(err, &stop) {
				return nil, err
			}
			if v.signatureErr == nil {
				// A key of the wrong kind for the signature algorithm is
				// just a key that did not sign it.
				reason := BadSignature
				if cur.SignatureAlgorithm == UnknownSignatureAlgorithm || cand.PublicKey == nil {
					reason = UnsupportedAlgorithm
				}
				v.signatureErr = &CertificateInvalidError{Cert: cur, Reason: reason,
					Detail: fmt.Sprintf("not signed by %q", cand.Subject.String()), Err: err}
			}
			continue
		}
		isRoot := v.isRoot(cand)
		narrowed, err := v.admit(cand, len(chain), isRoot, purposes)
		if err != nil {
			if v.constraintErr == nil {
				v.constraintErr = err
			}
			continue
		}
		next := append(chain[:len(chain):len(chain)], cand)
		if isRoot {
			return next, nil
		}
		if found, err := v.search(next, narrowed); found != nil || err != nil {
			return found, err
		}
	}
	// Only a search that ran to its end proves the state barren; an
	// errStop has returned above.
	v.dead[state] = true
	return nil, nil
}

// alreadyInChain reports whether an issuer with cand's subject and key is
// in the chain above the leaf, as crypto/x509 judges loops: a chain that
// passed through such a certificate and came back to its name and key
// can always be cut short at the first one (the child below it verifies
// against the second), so nothing is lost by not trying it, and mutual
// cross-certificates or re-issued CA certificates no longer multiply the
// paths. The leaf itself only counts when it is the very same certificate.
func alreadyInChain(chain []*Certificate, cand *Certificate) bool {
	if chain[0].Equal(cand) {
		return true
	}
	for _, c := range chain[1:] {
		if bytes.Equal(c.RawSubject, cand.RawSubject) && bytes.Equal(c.RawSubjectPublicKeyInfo, cand.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}

// checkSignature is child.CheckSignatureFrom(parent), each pair checked
// at most once. It refuses with an errStop when the context is done or
// the allowance of checks is spent.
func (v *verifier) checkSignature(child, parent *Certificate) error {
	pair := [2]*Certificate{child, parent}
	if err, ok := v.sigResults[pair]; ok {
		return err
	}
	if err := v.ctx.Err(); err != nil {
		return errStop{fmt.Errorf("pki: chain building stopped: %w", err)}
	}
	if v.sigChecks >= v.maxSigChecks {
		return errStop{&CertificateInvalidError{Cert: v.leaf, Reason: TooManySignatureChecks,
			Detail: fmt.Sprintf("gave up after %d signature checks without finding a chain to a root", v.sigChecks)}}
	}
	v.sigChecks++
	err := child.CheckSignatureFrom(parent)
	v.sigResults[pair] = err
	if v.afterCheck != nil {
		v.afterCheck()
	}
	return err
}

// candidates are the roots and intermediates whose subject is cur's issuer
// and whose key identifier, when both sides have one, matches: roots
// first, each certificate once, at most maxCandidatesPerStep. They are
// looked for once per certificate, however many states reach it.
func (v *verifier) candidates(cur *Certificate) []*Certificate {
	if out, ok := v.issuers[cur]; ok {
		return out
	}
	out := v.findCandidates(cur)
	v.issuers[cur] = out
	return out
}

func (v *verifier) findCandidates(cur *Certificate) []*Certificate {
	var out []*Certificate
	for _, pool := range [][]*Certificate{v.opts.Roots, v.opts.Intermediates} {
		for _, cand := range pool {
			if !namesMatch(cur.RawIssuer, cand.RawSubject) {
				continue
			}
			if len(cur.AuthorityKeyId) > 0 && len(cand.SubjectKeyId) > 0 && !bytes.Equal(cur.AuthorityKeyId, cand.SubjectKeyId) {
				continue
			}
			if slices.ContainsFunc(out, cand.Equal) {
				continue
			}
			if len(out) == maxCandidatesPerStep {
				v.truncated = true
				return out
			}
			out = append(out, cand)
		}
	}
	return out
}

// namesMatch compares two DER names as RFC 5280 §7.1 suggests: equal bytes,
// or the same attributes with values compared case-insensitively after
// collapsing spaces (whatever string types they were written in).
func namesMatch(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	na, err1 := ParseNameDER(a)
	nb, err2 := ParseNameDER(b)
	if err1 != nil || err2 != nil || len(na.Attributes) != len(nb.Attributes) {
		return false
	}
	for i := range na.Attributes {
		x, y := na.Attributes[i], nb.Attributes[i]
		if !x.Type.Equal(y.Type) || !strings.EqualFold(foldSpaces(x.Value), foldSpaces(y.Value)) {
			return false
		}
	}
	return true
}

func foldSpaces(s string) string { return strings.Join(strings.Fields(s), " ") }

// admit applies to c, at index i of the chain (0 the leaf), every rule
// but its signature: validity at v.now, critical extensions, the leaf's
// key usage, for issuers CA-ness, keyCertSign and path length, and for
// all the requested purposes. The rules
// depend on c and i alone (and deeper is never more lenient), so a chain
// whose certificates each passed is valid. It returns the requested
// purposes c leaves allowed.
func (v *verifier) admit(c *Certificate, i int, anchor bool, purposes []bool) ([]bool, error) {
	if v.now.Before(c.NotBefore) {
		return nil, &CertificateInvalidError{Cert: c, Reason: NotYetValid,
			Detail: fmt.Sprintf("valid from %s, checked at %s", c.NotBefore.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339))}
	}
	if v.now.After(c.NotAfter) {
		return nil, &CertificateInvalidError{Cert: c, Reason: Expired,
			Detail: fmt.Sprintf("valid until %s, checked at %s", c.NotAfter.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339))}
	}
	if len(c.UnhandledCriticalExtensions) > 0 {
		names := make([]string, len(c.UnhandledCriticalExtensions))
		for j, oid := range c.UnhandledCriticalExtensions {
			names[j] = oid.String()
		}
		return nil, &CertificateInvalidError{Cert: c, Reason: UnhandledCriticalExtension, Detail: strings.Join(names, ", ")}
	}
	if i == 0 {
		return v.checkLeafUsage(c, purposes)
	}
	isAnchorV1 := anchor && c.Version == 1
	if !isAnchorV1 && !(c.BasicConstraintsValid && c.IsCA) {
		return nil, &CertificateInvalidError{Cert: c, Reason: NotAuthorizedToSign, Detail: "not a CA certificate (basicConstraints)"}
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, &CertificateInvalidError{Cert: c, Reason: NotAuthorizedToSign, Detail: "key usage lacks keyCertSign"}
	}
	// Certificates below c other than the leaf: the intermediates c's
	// pathLenConstraint limits.
	if below := i - 1; c.BasicConstraintsValid && (c.MaxPathLen > 0 || c.MaxPathLen == 0 && c.MaxPathLenZero) && below > c.MaxPathLen {
		return nil, &CertificateInvalidError{Cert: c, Reason: TooManyIntermediates,
			Detail: fmt.Sprintf("pathLenConstraint %d, %d intermediate CAs below", c.MaxPathLen, below)}
	}
	// A CA's extKeyUsage bounds what it certifies. The trust anchor's
	// counts too, as crypto/x509 has it: a root its owner restricted to
	// TLS does not vouch for document signers.
	narrowed, ok := narrowPurposes(c, v.opts.ExtKeyUsage, purposes)
	if !ok {
		return nil, v.usageError(c, purposes)
	}
	return narrowed, nil
}

// usageError reports that c's extKeyUsage allows none of the purposes
// still allowed below it.
func (v *verifier) usageError(c *Certificate, purposes []bool) error {
	var have, want []string
	for _, oid := range c.ExtKeyUsage {
		have = append(have, titled(extKeyUsageTitles, oid))
	}
	for j, allowed := range purposes {
		if allowed {
			want = append(want, titled(extKeyUsageTitles, v.opts.ExtKeyUsage[j]))
		}
	}
	return &CertificateInvalidError{Cert: c, Reason: IncompatibleUsage,
		Detail: fmt.Sprintf("extended key usage %s allows none of %s", strings.Join(have, ", "), strings.Join(want, ", "))}
}

func (v *verifier) checkLeafUsage(c *Certificate, purposes []bool) ([]bool, error) {
	if want := v.opts.KeyUsage; want != 0 && c.KeyUsage != 0 && c.KeyUsage&want != want {
		return nil, &CertificateInvalidError{Cert: c, Reason: IncompatibleUsage,
			Detail: fmt.Sprintf("key usage %s, need %s", strings.Join(keyUsageNames(c.KeyUsage), ", "), strings.Join(keyUsageNames(want), ", "))}
	}
	narrowed, ok := narrowPurposes(c, v.opts.ExtKeyUsage, purposes)
	if !ok {
		return nil, v.usageError(c, purposes)
	}
	return narrowed, nil
}

// allPurposes marks all n requested purposes as still allowed.
func allPurposes(n int) []bool {
	p := make([]bool, n)
	for i := range p {
		p[i] = true
	}
	return p
}

// narrowPurposes keeps of the still allowed requested purposes (want[j]
// for purposes[j] true) those c's extKeyUsage allows; ok is false when
// none is left. No extension, or anyExtendedKeyUsage in it, allows them
// all; anyExtendedKeyUsage asked for takes whatever c allows.
func narrowPurposes(c *Certificate, want []asn1.ObjectIdentifier, purposes []bool) (narrowed []bool, ok bool) {
	if len(want) == 0 || len(c.ExtKeyUsage) == 0 || slices.ContainsFunc(c.ExtKeyUsage, OIDExtKeyUsageAny.Equal) ||
		slices.ContainsFunc(want, OIDExtKeyUsageAny.Equal) {
		return purposes, true
	}
	narrowed = make([]bool, len(purposes))
	for j, allowed := range purposes {
		if allowed && slices.ContainsFunc(c.ExtKeyUsage, want[j].Equal) {
			narrowed[j], ok = true, true
		}
	}
	return narrowed, ok
}

// purposeKey is purposes as a map key.
func purposeKey(purposes []bool) string {
	b := make([]byte, len(purposes))
	for i, p := range purposes {
		if p {
			b[i] = 1
		}
	}
	return string(b)
}

var keyUsageNameList = []string{
	"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
}

func keyUsageNames(ku x509.KeyUsage) []string {
	var names []string
	for i, n := range keyUsageNameList {
		if ku&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}
