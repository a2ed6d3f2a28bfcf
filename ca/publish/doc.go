// Package publish makes the issuing CA's revocation information public:
// full and delta CRLs, an RFC 6960 OCSP responder, and the plain-HTTP
// listener that serves them with the CA certificates.
//
// The interface the server wires:
//
//	NewCRLPublisher(CRLConfig, CRLDeps) (*CRLPublisher, error)
//	(*CRLPublisher).Reissue(ctx) error   // new full + delta CRL now; coalesced; returns once stored
//	(*CRLPublisher).Run(ctx) error       // reissues on schedule before nextUpdate until ctx ends
//	(*CRLPublisher).Latest(ctx, store.CRLKind) (store.CRL, error)
//	NewOCSPResponder(OCSPConfig, OCSPDeps) (*OCSPResponder, error)
//	(*OCSPResponder).Respond(ctx, der []byte) []byte // always a DER OCSPResponse
//	ResponderTemplate(serial, subject, notBefore, notAfter) *pki.Certificate // the responder profile for init
//	Handler(roots []*pki.Certificate, issuer *pki.Certificate, *CRLPublisher, *OCSPResponder) http.Handler
//
// CRLs. Each run takes two numbers from store.Tx.NextCRLNumber (full, then
// delta) in the same transaction that reads the revocations, so numbers
// increase with the state the CRLs show, also between processes sharing
// the database. It signs outside any transaction and stores both CRLs with
// one ca/audit record each ("crl.publish", object "crl/N") in a second
// transaction. The full CRL lists every revoked or held certificate not yet
// expired and names the delta's URL in freshestCRL; the delta is relative
// to the oldest full CRL still current (store.Reader.OldestCurrentCRL), so
// it updates every full CRL a relying party may hold. Its entries are the
// exact difference between that base's entries and the state now: what is
// revoked or held now and not so in the base, and removeFromCRL for what
// the base lists and is valid again (released from hold). It is computed
// from the base CRL itself, not from status timestamps, so a revocation
// stamped with an earlier time (a holder's signed request) is not missed.
//
// Schedule: Run reissues RenewBefore ahead of the latest full CRL's
// nextUpdate. Of processes sharing the database, the holder of the store
// lease "crl.schedule" (CRLDeps.Holder) does; the others re-check every
// Retry and take over when it lapses.
//
// Coalescing: Reissue joins the run that has not started yet, or starts
// one; runs go one at a time, and a run starts after its callers asked, so
// every revocation committed before a Reissue call is in the CRL that call
// waits for, and all the calls that arrive while a run is signing share
// the one run after it.
//
// OCSP. Every answer is made from the store when asked (a revocation
// committed is answered revoked by the next request), signed by the
// delegated responder certificate (id-kp-OCSPSigning, ocsp-nocheck; its key
// on the token), with the responder named by key hash (RFC 5019), the
// request's nonce echoed, and producedAt = thisUpdate = now, nextUpdate =
// now + OCSPConfig.Validity. CertIDs in SHA-1, SHA-256/384/512 and
// Streebog-256/512 are answered; a serial the store does not hold is
// unknown, a request that does not parse malformedRequest, a CertID of
// another issuer unauthorized.
//
// Clocks are passed in (CRLDeps.Now and After, OCSPDeps.Now), so tests move
// time without sleeping.
package publish
