package ca

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// RenewalConfig configures renewal.
type RenewalConfig struct {
	// Window: renewal opens this long before the current certificate
	// expires; default 30 days.
	Window time.Duration
	// RevokeSupersededAfter: the predecessor is revoked (reason superseded)
	// this long after its successor is issued; 0 means at its own expiry.
	RevokeSupersededAfter time.Duration
	Proof                 ProofConfig
	Keys                  KeyPolicy
}

// DefaultRenewalWindow is how long before expiry renewal opens.
const DefaultRenewalWindow = 30 * 24 * time.Hour

// RenewalDeps are what a Renewal works with.
type RenewalDeps struct {
	Store   store.Store
	Journal *audit.Journal
	Issuer  *Issuer
	// Roots are the CA roots the current certificate must chain to.
	Roots   []*pki.Certificate
	Limiter *Limiter
	Now     func() time.Time
}

// Renewal issues successors for certificates inside the renewal window.
type Renewal struct {
	cfg    RenewalConfig
	d      RenewalDeps
	proofs *proofChecker
}

// NewRenewal checks its configuration.
func NewRenewal(cfg RenewalConfig, d RenewalDeps) (*Renewal, error) {
	if d.Store == nil || d.Journal == nil || d.Issuer == nil || len(d.Roots) == 0 || d.Limiter == nil || d.Now == nil {
		return nil, errors.New("ca: NewRenewal needs a store, a journal, an issuer, roots, a limiter and a clock")
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultRenewalWindow
	}
	if cfg.Proof.MaxAge == 0 {
		cfg.Proof.MaxAge = DefaultProofMaxAge
	}
	if cfg.Window < 0 || cfg.RevokeSupersededAfter < 0 || cfg.Proof.MaxAge < 0 {
		return nil, errors.New("ca: negative renewal durations")
	}
	return &Renewal{cfg: cfg, d: d, proofs: &proofChecker{store: d.Store, roots: d.Roots, issuer: d.Issuer.Cert(), maxAge: cfg.Proof.MaxAge}}, nil
}

// WindowOpens is when renewal of a certificate expiring at notAfter opens.
func (r *Renewal) WindowOpens(notAfter time.Time) time.Time { return notAfter.Add(-r.cfg.Window) }

// Renew takes a CMS SignedData (attached) whose content is the new PKCS#10
// request, signed by the current certificate's key, and issues the
// successor with the same identity. Refusals: not_our_certificate,
// certificate_revoked, certificate_expired, renewal_not_open (with
// WindowOpensAt), conflict (already renewed), proof_invalid, proof_stale,
// proof_replayed, csr_invalid, csr_signature, key_not_allowed, same_key,
// key_certified.
func (r *Renewal) Renew(ctx context.Context, request []byte, client netip.Addr) (*store.Certificate, error) {
	if retry, ok := r.d.Limiter.Check(client); !ok {
		return nil, rateLimited(retry)
	}
	c, err := r.renew(ctx, request)
	if err != nil {
		if _, ok := AsError(err); ok {
			r.d.Limiter.Fail(client)
		}
		return nil, err
	}
	return c, nil
}

func (r *Renewal) renew(ctx context.Context, request []byte) (*store.Certificate, error) {
	now := r.d.Now()
	hp, _, err := r.proofs.parse(ctx, request)
	if err != nil {
		return nil, err
	}
	if err := r.checkState(hp.record, now); err != nil {
		return nil, err
	}
	if err := r.proofs.verify(request, hp, now); err != nil {
		return nil, err
	}
	csr, err := parseCSR(hp.content, r.cfg.Keys)
	if err != nil {
		return nil, err
	}
	newHash, err := SPKIHash(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(newHash, hp.record.SPKIHash) {
		return nil, &Error{Kind: KindInvalid, Code: "same_key", Message: "the new request must be for a new key", Field: "request"}
	}
	pred := hp.record.Serial
	revokeAt := hp.record.NotAfter
	if r.cfg.RevokeSupersededAfter > 0 && now.Add(r.cfg.RevokeSupersededAfter).Before(revokeAt) {
		revokeAt = now.Add(r.cfg.RevokeSupersededAfter)
	}
	return r.d.Issuer.Issue(ctx, IssueRequest{
		Identity:  hp.record.Identity,
		PublicKey: csr.PublicKey,
		Renews:    &pred,
		Actor:     "renewal",
		Reserve: func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.Certificate(ctx, pred)
			if err != nil {
				return err
			}
			if err := r.checkState(cur, now); err != nil {
				return err
			}
			return r.proofs.spend(ctx, tx, hp, now)
		},
		Record: func(ctx context.Context, tx store.Tx, c *store.Certificate) error {
			if err := tx.Supersede(ctx, pred, c.Serial, now, revokeAt); err != nil {
				return fmt.Errorf("ca: superseding %v: %w", pred, err)
			}
			_, err := r.d.Journal.Append(ctx, tx, audit.Entry{Actor: "renewal", Action: "cert.supersede", Object: pred.String(),
				Details: map[string]string{"successor": c.Serial.String(), "revoke_at": revokeAt.UTC().Format(time.RFC3339)}})
			return err
		},
	})
}

// checkState refuses a current certificate that may not be renewed now.
func (r *Renewal) checkState(c store.Certificate, now time.Time) error {
	switch {
	case c.Status != store.CertValid:
		return refuse(KindConflict, "certificate_revoked", "the current certificate is revoked or on hold")
	case c.SuccessorSerial != nil:
		return refuse(KindConflict, "conflict", "the current certificate has already been renewed")
	case !now.Before(c.NotAfter):
		return refuse(KindConflict, "certificate_expired", "the current certificate has expired: enroll again")
	case now.Before(r.WindowOpens(c.NotAfter)):
		opens := r.WindowOpens(c.NotAfter)
		e := refuse(KindConflict, "renewal_not_open", "renewal opens at "+opens.UTC().Format(time.RFC3339))
		e.WindowOpensAt = opens
		return e
	}
	return nil
}
