package cms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gostkey/gostkey/pki"
)

// OCSPQuery asks an OCSP responder about cert; pki.QueryOCSP with SHA-1
// CertIDs is the default. Tests and servers with their own HTTP client set
// VerifyOptions.OCSPQuery.
type OCSPQuery func(ctx context.Context, url string, cert, issuer *pki.Certificate) (*pki.OCSPResponse, error)

// CRLFetch gets the CRL at a CRL distribution point URL.
type CRLFetch func(ctx context.Context, url string) (*pki.CRL, error)

func defaultOCSPQuery(ctx context.Context, url string, cert, issuer *pki.Certificate) (*pki.OCSPResponse, error) {
	return pki.QueryOCSP(ctx, url, cert, issuer, 0)
}

// checkRevocation decides the status of every certificate of chain but the
// root, which is trusted as given. A CRL from opts.CRLs signed by the
// issuer settles a certificate; otherwise, with opts.OCSP, the first OCSP
// responder of the certificate is asked. A certificate neither settles is
// RevocationUnknown: asking for revocation checks and getting none is a
// failure, not a pass.
//
// at is the time checked at; asserted says the caller asserted it (else it
// is now). A CRL's currency is judged at the real time in either case: only
// a CRL current now can say that no compromise was reported since at.
func checkRevocation(ctx context.Context, chain []*pki.Certificate, at time.Time, asserted bool, opts *VerifyOptions) *SignerError {
	now := time.Now()
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		settled, stale, ferr := checkCRLs(cert, issuer, at, asserted, now, opts.CRLs)
		switch {
		case ferr == nil && settled:
			continue
		case ferr == nil && !opts.OCSP && stale != nil:
			ferr = fail(RevocationUnknown, fmt.Sprintf("its issuer's CRL is out of date (this update %s, next update %s)",
				stale.ThisUpdate.UTC().Format(time.RFC3339), stale.NextUpdate.UTC().Format(time.RFC3339)), nil)
		case ferr == nil && !opts.OCSP:
			ferr = fail(RevocationUnknown, "no CRL from its issuer", nil)
		case ferr == nil && len(cert.OCSPServer) == 0 && opts.CRLFetch != nil && len(cert.CRLDistributionPoints) > 0:
			ferr = checkFetchedCRLs(ctx, cert, issuer, at, asserted, now, opts.CRLFetch)
		case ferr == nil:
			ferr = checkOCSP(ctx, cert, issuer, at, asserted, opts)
		}
		if ferr != nil {
			ferr.Detail = strings.TrimSuffix(fmt.Sprintf("certificate %X: %s", cert.SerialNumber, ferr.Detail), ": ")
			return ferr
		}
	}
	return nil
}

// checkCRLs checks cert against the CRLs its issuer signed; settled is
// false when none of them is the issuer's (a CRL under the issuer's name
// whose signature fails is no evidence either way). A revocation counts
// whatever the CRL's age, but "not revoked" only from a CRL current at now
// (thisUpdate ≤ now ≤ nextUpdate), as OpenSSL's -crl_check has it: an
// expired CRL would otherwise clear a certificate revoked since. stale is
// such an expired CRL, for the error message.
func checkCRLs(cert, issuer *pki.Certificate, at time.Time, asserted bool, now time.Time, crls []*pki.CRL) (settled bool, stale *pki.CRL, ferr *SignerError) {
	for _, crl := range crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
			continue
		}
		err := crl.CheckCertificate(cert, issuer)
		var revoked *pki.RevokedError
		switch {
		case errors.As(err, &revoked):
			if ferr := revocationFailure(revoked, at, asserted); ferr != nil {
				return true, nil, ferr
			}
			settled = true
		case err == nil && crlCurrent(crl, now):
			settled = true
		case err == nil:
			stale = crl
		}
	}
	return settled, stale, nil
}

// checkFetchedCRLs settles cert with the CRL at the first of its
// distribution points that does; a point that fails or gives no current
// CRL of the issuer leaves it to the next, and none settling it is
// RevocationUnknown with every point's reason.
func checkFetchedCRLs(ctx context.Context, cert, issuer *pki.Certificate, at time.Time, asserted bool, now time.Time, fetch CRLFetch) *SignerError {
	var errs []error
	for _, url := range cert.CRLDistributionPoints {
		crl, err := fetch(ctx, url)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", url, err))
			continue
		}
		settled, stale, ferr := checkCRLs(cert, issuer, at, asserted, now, []*pki.CRL{crl})
		switch {
		case ferr != nil || settled:
			return ferr
		case stale != nil:
			errs = append(errs, fmt.Errorf("%s: the CRL is out of date (next update %s)", url, stale.NextUpdate.UTC().Format(time.RFC3339)))
		default:
			errs = append(errs, fmt.Errorf("%s: not a CRL its issuer signed", url))
		}
	}
	return fail(RevocationUnknown, "CRL distribution point", errors.Join(errs...))
}

func crlCurrent(crl *pki.CRL, now time.Time) bool {
	return !now.Before(crl.ThisUpdate) && (crl.NextUpdate.IsZero() || !now.After(crl.NextUpdate))
}

func checkOCSP(ctx context.Context, cert, issuer *pki.Certificate, at time.Time, asserted bool, opts *VerifyOptions) *SignerError {
	if len(cert.OCSPServer) == 0 {
		return fail(RevocationUnknown, "no CRL given and no OCSP responder in the certificate", nil)
	}
	query := opts.OCSPQuery
	if query == nil {
		query = defaultOCSPQuery
	}
	resp, err := query(ctx, cert.OCSPServer[0], cert, issuer)
	if err != nil {
		return fail(RevocationUnknown, "OCSP", err)
	}
	err = resp.CheckCertificateAt(cert, pki.OCSPFreshness{Skew: opts.OCSPSkew, MaxAge: opts.OCSPMaxAge})
	var revoked *pki.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return revocationFailure(revoked, at, asserted)
	default:
		return fail(RevocationUnknown, "OCSP", err)
	}
}

// revocationFailure applies revokedAt to a revocation: a Revoked failure,
// or nil when the revocation leaves a signature checked at time at
// standing.
func revocationFailure(revoked *pki.RevokedError, at time.Time, asserted bool) *SignerError {
	if !revokedAt(revoked.RevokedAt, revoked.Reason, at, asserted) {
		return nil
	}
	return fail(Revoked, "", revoked)
}

// revokedAt says whether a revocation invalidates a signature checked at
// time at. Checked now, every revocation does. Checked at a time the
// caller asserts, a revocation after it leaves the signature standing,
// except for a compromise (or no reason given): the key may have been in
// other hands before the compromise was reported. The signer's claimed
// signingTime plays no part: its holder can backdate it.
func revokedAt(when time.Time, reason pki.CRLReason, at time.Time, asserted bool) bool {
	if !asserted {
		return true
	}
	switch reason {
	case pki.ReasonKeyCompromise, pki.ReasonCACompromise, pki.ReasonAACompromise, pki.ReasonUnspecified:
		return true
	}
	return !when.After(at)
}
