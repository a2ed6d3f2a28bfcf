package ca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/cms"
	"github.com/gostkey/gostkey/pki"
)

// ProofConfig bounds signed requests (renewal, holder revocation).
type ProofConfig struct {
	// MaxAge is how far a request's signing time may be from the CA's
	// clock, either way; default 5 minutes.
	MaxAge time.Duration
}

// DefaultProofMaxAge is how fresh a signed request must be.
const DefaultProofMaxAge = 5 * time.Minute

// holderProof is a CMS SignedData by the key of one of our certificates.
type holderProof struct {
	cert        *pki.Certificate
	record      store.Certificate
	content     []byte
	signingTime time.Time
	digest      []byte // what UseProof keeps: SHA-256 of the signature value
}

// proofChecker verifies holder-signed requests against the CA's chain.
type proofChecker struct {
	store  store.Store
	roots  []*pki.Certificate
	issuer *pki.Certificate
	maxAge time.Duration
}

// parse finds the single signer's certificate and our record of it, without
// checking the signature yet: the caller first decides on the record's
// state (expired, revoked, outside the window), which it may say to anyone
// (OCSP does), then verify checks the signature at now.
func (p *proofChecker) parse(ctx context.Context, der []byte) (*holderProof, *cms.SignedData, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalid, Code: "invalid_field", Message: "not a CMS SignedData", Field: "request", Err: err}
	}
	if len(sd.Signers) != 1 || sd.Detached {
		return nil, nil, invalidField("request", "want an attached SignedData with exactly one signer", nil)
	}
	si := sd.Signers[0]
	var cert *pki.Certificate
	for _, raw := range sd.Certificates {
		c, err := pki.ParseCertificate(raw)
		if err != nil {
			continue
		}
		if (si.SerialNumber != nil && c.SerialNumber.Cmp(si.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, si.RawIssuer)) ||
			(len(si.SubjectKeyID) > 0 && bytes.Equal(si.SubjectKeyID, c.SubjectKeyId)) {
			cert = c
			break
		}
	}
	if cert == nil || !bytes.Equal(cert.RawIssuer, p.issuer.RawSubject) || cert.SerialNumber.Sign() <= 0 || len(cert.SerialNumber.Bytes()) > len(store.Serial{}) {
		return nil, nil, notOurs(nil)
	}
	var serial store.Serial
	cert.SerialNumber.FillBytes(serial[:])
	var rec store.Certificate
	err = p.store.View(ctx, func(r store.Reader) error {
		var err error
		rec, err = r.Certificate(ctx, serial)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && !bytes.Equal(rec.DER, cert.Raw)) {
		return nil, nil, notOurs(err)
	}
	if err != nil {
		return nil, nil, err
	}
	d := sha256.Sum256(si.Signature)
	return &holderProof{cert: cert, record: rec, digest: d[:]}, sd, nil
}

func notOurs(err error) *Error {
	return &Error{Kind: KindInvalid, Code: "not_our_certificate", Message: "the request is not signed with a certificate this CA issued", Field: "request", Err: err}
}

// verify checks the signature and chain at now and the signing time.
func (p *proofChecker) verify(der []byte, hp *holderProof, now time.Time) error {
	res, err := cms.Verify(der, nil, &cms.VerifyOptions{Roots: p.roots, Intermediates: []*pki.Certificate{p.issuer}, CurrentTime: now})
	if err != nil {
		return &Error{Kind: KindInvalid, Code: "proof_invalid", Message: "the request's signature does not verify", Field: "request", Err: err}
	}
	if len(res.Signers) != 1 || !res.Signers[0].Certificate.Equal(hp.cert) {
		return notOurs(nil)
	}
	hp.content = res.Content
	hp.signingTime = res.Signers[0].SigningTime
	if hp.signingTime.IsZero() || hp.signingTime.Before(now.Add(-p.maxAge)) || hp.signingTime.After(now.Add(p.maxAge)) {
		return &Error{Kind: KindInvalid, Code: "proof_stale", Message: "the request's signing time is not within minutes of now", Field: "request"}
	}
	return nil
}

// spend records the proof as used, in tx: proof_replayed the second time.
func (p *proofChecker) spend(ctx context.Context, tx store.Tx, hp *holderProof, now time.Time) error {
	err := tx.UseProof(ctx, hp.digest, now, now.Add(2*p.maxAge))
	if errors.Is(err, store.ErrProofReplayed) {
		return &Error{Kind: KindConflict, Code: "proof_replayed", Message: "this signed request was already used", Field: "request", Err: err}
	}
	return err
}
