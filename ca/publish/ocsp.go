package publish

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// Defaults of OCSPConfig.
const (
	DefaultOCSPValidity   = time.Hour
	DefaultOCSPMaxCertIDs = 16
)

// ocspMaxNonce is RFC 8954's bound: a responder may leave longer nonces
// unanswered (and so the response carries none).
const ocspMaxNonce = 32

// OCSPConfig tunes an OCSPResponder; the zero value takes the defaults.
type OCSPConfig struct {
	// Validity is nextUpdate − thisUpdate of each answer; default
	// DefaultOCSPValidity. Every answer is made from the store when asked,
	// so a revocation shows in the next response whatever this is; it
	// bounds how long a client may keep using a cached answer.
	Validity time.Duration
	// MaxCertIDs is how many certificates one request may ask about;
	// more is malformedRequest. Default DefaultOCSPMaxCertIDs (RFC 5019
	// clients ask about one).
	MaxCertIDs int
}

// OCSPDeps are what an OCSPResponder works with.
type OCSPDeps struct {
	Store store.Store
	// Issuer is the issuing CA certificate the responder answers for.
	Issuer *pki.Certificate
	// Responder is the delegated responder certificate: issued by Issuer,
	// with id-kp-OCSPSigning and ocsp-nocheck. Signer holds its key (on
	// the token).
	Responder *pki.Certificate
	Signer    crypto.Signer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand feeds the signatures; default crypto/rand.
	Rand io.Reader
	// Logger reports internal errors behind internalError answers;
	// default: discarded.
	Logger *slog.Logger
}

// OCSPResponder answers RFC 6960 requests about the issuing CA's
// certificates from the store, signing each answer with the delegated
// responder's key.
type OCSPResponder struct {
	cfg       OCSPConfig
	store     store.Store
	issuer    *pki.Certificate
	responder *pki.Certificate
	signer    crypto.Signer
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger

	// The unsigned error answers, made once.
	malformed, unauthorized, internal []byte
}

// NewOCSPResponder checks the responder certificate (issued and signed by
// the issuer, id-kp-OCSPSigning, ocsp-nocheck, valid now) and that the
// signer holds its key.
func NewOCSPResponder(cfg OCSPConfig, deps OCSPDeps) (*OCSPResponder, error) {
	if cfg.Validity == 0 {
		cfg.Validity = DefaultOCSPValidity
	}
	if cfg.MaxCertIDs == 0 {
		cfg.MaxCertIDs = DefaultOCSPMaxCertIDs
	}
	if cfg.Validity < time.Minute || cfg.MaxCertIDs < 1 {
		return nil, fmt.Errorf("publish: OCSP validity %v under a minute or max_cert_ids %d under 1", cfg.Validity, cfg.MaxCertIDs)
	}
	if deps.Store == nil || deps.Issuer == nil || deps.Responder == nil || deps.Signer == nil {
		return nil, errors.New("publish: an OCSP responder needs a store, the issuer and responder certificates and the responder's signer")
	}
	o := &OCSPResponder{cfg: cfg, store: deps.Store, issuer: deps.Issuer, responder: deps.Responder, signer: deps.Signer,
		now: deps.Now, rand: deps.Rand, log: deps.Logger}
	if o.now == nil {
		o.now = time.Now
	}
	if o.rand == nil {
		o.rand = rand.Reader
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if err := checkResponderCert(deps.Responder, deps.Issuer, o.now()); err != nil {
		return nil, err
	}
	if err := checkKeyPair(deps.Signer, deps.Responder); err != nil {
		return nil, fmt.Errorf("publish: OCSP responder signer: %w", err)
	}
	var err error
	for _, e := range []struct {
		der    *[]byte
		status pki.OCSPResponseStatus
	}{{&o.malformed, pki.OCSPMalformedRequest}, {&o.unauthorized, pki.OCSPUnauthorized}, {&o.internal, pki.OCSPInternalError}} {
		if *e.der, err = pki.CreateOCSPErrorResponse(e.status); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ResponderTemplate is the profile of the delegated responder certificate
// NewOCSPResponder accepts, for the CA's init to sign with the issuing CA's
// key: digitalSignature, id-kp-OCSPSigning, and ocsp-nocheck (so clients do
// not ask the responder about its own certificate; keep it short-lived).
func ResponderTemplate(serial *big.Int, subject pki.Name, notBefore, notAfter time.Time) *pki.Certificate {
	return &pki.Certificate{
		SerialNumber: serial, Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []asn1.ObjectIdentifier{pki.OIDExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: pki.OIDExtensionOCSPNoCheck, Value: asn1.NullBytes}},
	}
}

// checkResponderCert applies RFC 6960 §4.2.2.2 (issued by the CA, with
// id-kp-OCSPSigning) and §4.2.2.2.1 (ocsp-nocheck, since the responder
// answers for itself only through this certificate).
func checkResponderCert(resp, issuer *pki.Certificate, now time.Time) error {
	if !bytes.Equal(resp.RawIssuer, issuer.RawSubject) {
		return errors.New("publish: the OCSP responder certificate was not issued by the issuing CA")
	}
	if err := resp.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("publish: OCSP responder certificate: %w", err)
	}
	eku := false
	for _, u := range resp.ExtKeyUsage {
		eku = eku || u.Equal(pki.OIDExtKeyUsageOCSPSigning)
	}
	if !eku {
		return errors.New("publish: the OCSP responder certificate lacks id-kp-OCSPSigning")
	}
	nocheck := false
	for _, e := range resp.Extensions {
		nocheck = nocheck || e.Id.Equal(pki.OIDExtensionOCSPNoCheck)
	}
	if !nocheck {
		return errors.New("publish: the OCSP responder certificate lacks ocsp-nocheck")
	}
	if now.Before(resp.NotBefore) || now.After(resp.NotAfter) {
		return fmt.Errorf("publish: the OCSP responder certificate is valid only from %v to %v", resp.NotBefore, resp.NotAfter)
	}
	return nil
}

// Respond answers one DER-encoded request. It always returns a DER
// OCSPResponse: signed for a well-formed request about the issuer's
// certificates (good, revoked or unknown each), malformedRequest for one
// that does not parse or asks about too many, unauthorized for one naming
// another issuer, internalError when the store or the signer fails.
func (o *OCSPResponder) Respond(ctx context.Context, der []byte) []byte {
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		return o.malformed
	}
	return o.respond(ctx, req)
}

func (o *OCSPResponder) respond(ctx context.Context, req *pki.OCSPRequest) []byte {
	if len(req.CertIDs) > o.cfg.MaxCertIDs {
		return o.malformed
	}
	for _, id := range req.CertIDs {
		if !id.MatchesIssuer(o.issuer) {
			return o.unauthorized
		}
	}
	now := o.now().UTC().Truncate(time.Second)
	if now.After(o.responder.NotAfter) {
		o.log.ErrorContext(ctx, "OCSP responder certificate expired", "not_after", o.responder.NotAfter)
		return o.internal
	}
	tmpl := &pki.OCSPResponseTemplate{ProducedAt: now, ResponderIDByKey: true}
	// The status is read when asked: a revocation committed before this
	// read is answered revoked.
	err := o.store.View(ctx, func(r store.Reader) error {
		tmpl.Responses = tmpl.Responses[:0]
		for _, id := range req.CertIDs {
			sr := pki.OCSPSingleResponse{CertID: id, Status: pki.OCSPUnknown, ThisUpdate: now, NextUpdate: now.Add(o.cfg.Validity)}
			if serial, ok := storeSerial(id.SerialNumber); ok {
				c, err := r.Certificate(ctx, serial)
				switch {
				case err == nil:
					setStatus(&sr, c)
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
			}
			tmpl.Responses = append(tmpl.Responses, sr)
		}
		return nil
	})
	if err != nil {
		o.log.ErrorContext(ctx, "OCSP status lookup failed", "error", err)
		return o.internal
	}
	// The request's nonce extension is echoed as it came (RFC 8954), so a
	// client comparing the extension bytes finds its own.
	if n := len(req.Nonce); n >= 1 && n <= ocspMaxNonce {
		for _, e := range req.Extensions {
			if e.Id.Equal(pki.OIDExtensionOCSPNonce) {
				tmpl.ExtraExtensions = []pkix.Extension{{Id: e.Id, Value: e.Value}}
			}
		}
	}
	der, err := pki.CreateOCSPResponse(o.rand, tmpl, o.issuer, o.responder, o.signer)
	if err != nil {
		o.log.ErrorContext(ctx, "OCSP response signing failed", "error", err)
		return o.internal
	}
	return der
}

// storeSerial maps a CertID serial to the store's form; serials that
// cannot be ours (not positive, over 20 octets) are not.
func storeSerial(n *big.Int) (store.Serial, bool) {
	var s store.Serial
	if n == nil || n.Sign() <= 0 || len(n.Bytes()) > len(s) {
		return s, false
	}
	n.FillBytes(s[:])
	return s, true
}

// setStatus answers from the stored certificate: a hold is revoked with
// certificateHold (RFC 6960 §2.2), a release is good again.
func setStatus(sr *pki.OCSPSingleResponse, c store.Certificate) {
	switch c.Status {
	case store.CertValid:
		sr.Status = pki.OCSPGood
	case store.CertRevoked, store.CertOnHold:
		sr.Status, sr.RevokedAt, sr.RevocationReason = pki.OCSPRevoked, c.RevokedAt, pki.CRLReason(c.RevocationReason)
	}
}

// checkKeyPair makes sure signer holds cert's key.
func checkKeyPair(signer crypto.Signer, cert *pki.Certificate) error {
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return errors.New("the signer's public key is not the certificate's")
	}
	return nil
}
