package cms

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/gostkey/gostkey/pki"
)

// OCSPQuery asks an OCSP responder about cert; pki.QueryOCSP with SHA-1
// CertIDs is the default. Tests and servers with their own HTTP client set
// VerifyOptions.OCSPQuery.
type OCSPQuery func(ctx context.Context, url string, cert, issuer *pki.Certificate) (*pki.OCSPResponse, error)

func defaultOCSPQuery(ctx context.Context, url string, cert, issuer *pki.Certificate) (*pki.OCSPResponse, error) {
	return pki.QueryOCSP(ctx, url, cert, issuer, 0)
}

// checkRevocation decides the status of every certificate of chain but the
// root, which is trusted as given. A CRL from opts.CRLs signed by the
// issuer settles a certificate; otherwise, with opts.OCSP, the first OCSP
// responder of the certificate is asked. A certificate neither settles is
// RevocationUnknown: asking for revocation checks and getting none is a
// failure, not a pass.
func checkRevocation(ctx context.Context, chain []*pki.Certificate, at time.Time, opts *VerifyOptions) *SignerError {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		settled, ferr := checkCRLs(cert, issuer, at, opts.CRLs)
		if ferr != nil || settled {
			if ferr != nil {
				ferr.Detail = fmt.Sprintf("certificate %X: %s", cert.SerialNumber, ferr.Detail)
			}
			return ferr
		}
		if !opts.OCSP {
			return fail(RevocationUnknown, fmt.Sprintf("no CRL from the issuer of certificate %X", cert.SerialNumber), nil)
		}
		if ferr := checkOCSP(ctx, cert, issuer, at, opts); ferr != nil {
			ferr.Detail = fmt.Sprintf("certificate %X: %s", cert.SerialNumber, ferr.Detail)
			return ferr
		}
	}
	return nil
}

// checkCRLs looks cert up in the CRLs its issuer signed; settled is false
// when none of them is the issuer's.
func checkCRLs(cert, issuer *pki.Certificate, at time.Time, crls []*pki.CRL) (settled bool, ferr *SignerError) {
	for _, crl := range crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		settled = true
		entry, ok := crl.Lookup(cert.SerialNumber)
		if !ok || entry.ReasonCode == pki.ReasonRemoveFromCRL {
			continue
		}
		if revokedAt(entry.RevocationTime, entry.ReasonCode, at) {
			return true, fail(Revoked, fmt.Sprintf("revoked %s (%v) per CRL", entry.RevocationTime.UTC().Format(time.RFC3339), entry.ReasonCode), nil)
		}
	}
	return settled, nil
}

func checkOCSP(ctx context.Context, cert, issuer *pki.Certificate, at time.Time, opts *VerifyOptions) *SignerError {
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
	sr, ok := resp.Lookup(cert.SerialNumber)
	if !ok {
		return fail(RevocationUnknown, "the OCSP response does not mention the certificate", nil)
	}
	switch sr.Status {
	case pki.OCSPGood:
		return nil
	case pki.OCSPRevoked:
		if revokedAt(sr.RevokedAt, sr.RevocationReason, at) {
			return fail(Revoked, fmt.Sprintf("revoked %s (%v) per OCSP", sr.RevokedAt.UTC().Format(time.RFC3339), sr.RevocationReason), nil)
		}
		return nil
	default:
		return fail(RevocationUnknown, "OCSP status "+sr.Status.String(), nil)
	}
}

// revokedAt says whether a revocation invalidates a signature checked at
// time at. A revocation after the (claimed) signing time leaves an earlier
// signature standing, except for a key compromise: the key may have been
// in other hands before the compromise was reported, and a CAdES-BES
// signing time is only the signer's claim.
func revokedAt(when time.Time, reason pki.CRLReason, at time.Time) bool {
	switch reason {
	case pki.ReasonKeyCompromise, pki.ReasonCACompromise, pki.ReasonAACompromise, pki.ReasonUnspecified:
		return true
	}
	return !when.After(at)
}
