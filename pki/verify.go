package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
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
	// the extension allows every usage). ExtKeyUsage lists purposes of
	// which the leaf's extKeyUsage, when present, must allow one.
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []asn1.ObjectIdentifier
}

// maxChainLength bounds the chain search, against loops and blow-ups.
const maxChainLength = 10

// Verify builds a chain from c to one of opts.Roots and checks it: every
// signature, every validity period at opts.CurrentTime, that each issuer is
// a CA with keyCertSign (when it has a keyUsage) within its path length,
// the leaf's usage against opts, and that no certificate has an unhandled
// critical extension. It returns the chain, leaf first and root last.
//
// Trust anchors that are version 1 certificates are taken as CAs, as
// OpenSSL does. Failures are *CertificateInvalidError: a chain whose
// signatures hold but whose constraints fail is reported before a bad
// signature, and that before an unknown authority.
func (c *Certificate) Verify(opts VerifyOptions) ([]*Certificate, error) {
	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	v := verifier{opts: opts, now: now}
	if chain := v.search([]*Certificate{c}); chain != nil {
		return chain, nil
	}
	switch {
	case v.constraintErr != nil:
		return nil, v.constraintErr
	case v.signatureErr != nil:
		return nil, v.signatureErr
	}
	last := v.deepest[len(v.deepest)-1]
	return nil, &CertificateInvalidError{Cert: last, Reason: UnknownAuthority,
		Detail: fmt.Sprintf("no issuer %q among the roots and intermediates", last.Issuer.String())}
}

type verifier struct {
	opts          VerifyOptions
	now           time.Time
	constraintErr error          // the first chain that reached a root but broke a rule
	signatureErr  error          // the first issuer whose name matched but whose key did not
	deepest       []*Certificate // the longest chain tried, for UnknownAuthority
}

func (v *verifier) isRoot(c *Certificate) bool {
	for _, r := range v.opts.Roots {
		if r.Equal(c) {
			return true
		}
	}
	return false
}

// search extends chain with issuers whose signatures verify until it
// reaches a root and the whole chain passes checkChain.
func (v *verifier) search(chain []*Certificate) []*Certificate {
	cur := chain[len(chain)-1]
	if len(chain) > len(v.deepest) {
		v.deepest = chain
	}
	if v.isRoot(cur) {
		if err := v.checkChain(chain); err != nil {
			if v.constraintErr == nil {
				v.constraintErr = err
			}
			return nil
		}
		return chain
	}
	if len(chain) >= maxChainLength {
		return nil
	}
	for _, cand := range v.candidates(cur) {
		if inChain(chain, cand) {
			continue
		}
		if err := cur.CheckSignatureFrom(cand); err != nil {
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
		next := append(append([]*Certificate(nil), chain...), cand)
		if found := v.search(next); found != nil {
			return found
		}
	}
	return nil
}

func inChain(chain []*Certificate, c *Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// candidates are the roots and intermediates whose subject is cur's issuer
// and whose key identifier, when both sides have one, matches.
func (v *verifier) candidates(cur *Certificate) []*Certificate {
	var out []*Certificate
	for _, pool := range [][]*Certificate{v.opts.Roots, v.opts.Intermediates} {
		for _, cand := range pool {
			if !namesMatch(cur.RawIssuer, cand.RawSubject) {
				continue
			}
			if len(cur.AuthorityKeyId) > 0 && len(cand.SubjectKeyId) > 0 && !bytes.Equal(cur.AuthorityKeyId, cand.SubjectKeyId) {
				continue
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

// checkChain applies every rule but the signatures (already checked) to a
// chain that reached a root.
func (v *verifier) checkChain(chain []*Certificate) error {
	for i, c := range chain {
		if v.now.Before(c.NotBefore) {
			return &CertificateInvalidError{Cert: c, Reason: NotYetValid,
				Detail: fmt.Sprintf("valid from %s, checked at %s", c.NotBefore.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339))}
		}
		if v.now.After(c.NotAfter) {
			return &CertificateInvalidError{Cert: c, Reason: Expired,
				Detail: fmt.Sprintf("valid until %s, checked at %s", c.NotAfter.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339))}
		}
		if len(c.UnhandledCriticalExtensions) > 0 {
			names := make([]string, len(c.UnhandledCriticalExtensions))
			for j, oid := range c.UnhandledCriticalExtensions {
				names[j] = oid.String()
			}
			return &CertificateInvalidError{Cert: c, Reason: UnhandledCriticalExtension, Detail: strings.Join(names, ", ")}
		}
		if i == 0 {
			if err := v.checkLeafUsage(c); err != nil {
				return err
			}
			continue
		}
		isAnchorV1 := i == len(chain)-1 && c.Version == 1
		if !isAnchorV1 && !(c.BasicConstraintsValid && c.IsCA) {
			return &CertificateInvalidError{Cert: c, Reason: NotAuthorizedToSign, Detail: "not a CA certificate (basicConstraints)"}
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
			return &CertificateInvalidError{Cert: c, Reason: NotAuthorizedToSign, Detail: "key usage lacks keyCertSign"}
		}
		// Certificates below c other than the leaf: the intermediates c's
		// pathLenConstraint limits.
		if below := i - 1; c.BasicConstraintsValid && (c.MaxPathLen > 0 || c.MaxPathLen == 0 && c.MaxPathLenZero) && below > c.MaxPathLen {
			return &CertificateInvalidError{Cert: c, Reason: TooManyIntermediates,
				Detail: fmt.Sprintf("pathLenConstraint %d, %d intermediate CAs below", c.MaxPathLen, below)}
		}
	}
	return nil
}

func (v *verifier) checkLeafUsage(c *Certificate) error {
	if want := v.opts.KeyUsage; want != 0 && c.KeyUsage != 0 && c.KeyUsage&want != want {
		return &CertificateInvalidError{Cert: c, Reason: IncompatibleUsage,
			Detail: fmt.Sprintf("key usage %s, need %s", strings.Join(keyUsageNames(c.KeyUsage), ", "), strings.Join(keyUsageNames(want), ", "))}
	}
	if len(v.opts.ExtKeyUsage) == 0 || len(c.ExtKeyUsage) == 0 {
		return nil
	}
	for _, have := range c.ExtKeyUsage {
		if have.Equal(OIDExtKeyUsageAny) {
			return nil
		}
		for _, want := range v.opts.ExtKeyUsage {
			if have.Equal(want) {
				return nil
			}
		}
	}
	return &CertificateInvalidError{Cert: c, Reason: IncompatibleUsage, Detail: "extended key usage allows none of the requested purposes"}
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
