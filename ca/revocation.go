package ca

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// CRLReissuer makes a new CRL now (ca/publish's CRLPublisher).
type CRLReissuer interface {
	Reissue(ctx context.Context) error
}

// RevocationConfig configures revocation.
type RevocationConfig struct {
	// CodeTTL is how long a lost-token revocation code stays usable;
	// default 7 days (the holder must reach a device and the CA).
	CodeTTL time.Duration
	Proof   ProofConfig
}

// DefaultRevocationCodeTTL is a revocation code's lifetime.
const DefaultRevocationCodeTTL = 7 * 24 * time.Hour

// RevocationDeps are what a Revocation works with.
type RevocationDeps struct {
	Store   store.Store
	Journal *audit.Journal
	Hasher  *code.Hasher
	// CRL is told after every committed change of status.
	CRL     CRLReissuer
	Roots   []*pki.Certificate
	Issuer  *pki.Certificate
	Limiter *Limiter
	Now     func() time.Time
	Rand    io.Reader
	// Log receives CRL reissue failures (the change itself stands: OCSP
	// answers it at once and the scheduled CRL run catches up).
	Log *slog.Logger
}

// Revocation changes certificates' status: registrars (any RFC 5280
// reason, hold and release, revocation codes), holders (a CMS-signed
// request or a revocation code).
type Revocation struct {
	cfg    RevocationConfig
	d      RevocationDeps
	proofs *proofChecker
}

// NewRevocation checks its dependencies.
func NewRevocation(cfg RevocationConfig, d RevocationDeps) (*Revocation, error) {
	if d.Store == nil || d.Journal == nil || d.Hasher == nil || d.CRL == nil || len(d.Roots) == 0 || d.Issuer == nil || d.Limiter == nil || d.Now == nil {
		return nil, errors.New("ca: NewRevocation needs a store, a journal, a hasher, a CRL publisher, roots, the issuer, a limiter and a clock")
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = DefaultRevocationCodeTTL
	}
	if cfg.Proof.MaxAge == 0 {
		cfg.Proof.MaxAge = DefaultProofMaxAge
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Revocation{cfg: cfg, d: d, proofs: &proofChecker{store: d.Store, roots: d.Roots, issuer: d.Issuer, maxAge: cfg.Proof.MaxAge}}, nil
}

// ParseReason reads an RFC 5280 reason name as an invalid_field error
// for field when it is not one.
func ParseReason(name, field string) (store.RevocationReason, error) {
	r, err := store.ParseRevocationReason(name)
	if err != nil {
		return 0, invalidField(field, "not an RFC 5280 reason name (keyCompromise, superseded, …)", err)
	}
	return r, nil
}

// Certificate returns a certificate's record; not_found when unknown.
func (rv *Revocation) Certificate(ctx context.Context, serial store.Serial) (store.Certificate, error) {
	var c store.Certificate
	err := rv.d.Store.View(ctx, func(r store.Reader) error {
		var err error
		c, err = r.Certificate(ctx, serial)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return c, refuse(KindNotFound, "not_found", "no such certificate")
	}
	return c, err
}

// change runs fn (a status change) with its audit record, then reissues
// the CRL, and returns the certificate as now stored.
// serial is read after fn ran (a revocation code names it only then).
func (rv *Revocation) change(ctx context.Context, actor, action string, serial *store.Serial, details map[string]string,
	fn func(ctx context.Context, tx store.Tx, now time.Time) error) (store.Certificate, error) {
	now := rv.d.Now()
	var c store.Certificate
	err := rv.d.Store.Tx(ctx, func(tx store.Tx) error {
		if err := fn(ctx, tx, now); err != nil {
			return err
		}
		if _, err := rv.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: action, Object: serial.String(), Details: details}); err != nil {
			return err
		}
		var err error
		c, err = tx.Certificate(ctx, *serial)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c, refuse(KindNotFound, "not_found", "no such certificate")
	case errors.Is(err, store.ErrConflict):
		return c, &Error{Kind: KindConflict, Code: "conflict", Message: "the certificate's status does not allow this", Err: err}
	case err != nil:
		return c, err
	}
	if err := rv.d.CRL.Reissue(ctx); err != nil {
		rv.d.Log.Error("crl reissue after status change failed", "serial", serial.String(), "action", action, "error", err)
	}
	return c, nil
}

// Revoke revokes with reason (certificateHold puts on hold; removeFromCRL
// is Release's business and refused here).
func (rv *Revocation) Revoke(ctx context.Context, actor string, serial store.Serial, reason store.RevocationReason) (store.Certificate, error) {
	switch reason {
	case store.ReasonCertificateHold:
		return rv.Hold(ctx, actor, serial)
	case store.ReasonRemoveFromCRL:
		return store.Certificate{}, invalidField("reason", "removeFromCRL is a release, not a revocation", nil)
	}
	return rv.change(ctx, actor, "cert.revoke", &serial, map[string]string{"reason": reason.String()},
		func(ctx context.Context, tx store.Tx, now time.Time) error {
			return tx.Revoke(ctx, serial, reason, now)
		})
}

// Hold puts a valid certificate on hold.
func (rv *Revocation) Hold(ctx context.Context, actor string, serial store.Serial) (store.Certificate, error) {
	return rv.change(ctx, actor, "cert.hold", &serial, nil,
		func(ctx context.Context, tx store.Tx, now time.Time) error { return tx.Hold(ctx, serial, now) })
}

// Release takes a certificate off hold.
func (rv *Revocation) Release(ctx context.Context, actor string, serial store.Serial) (store.Certificate, error) {
	return rv.change(ctx, actor, "cert.release", &serial, nil,
		func(ctx context.Context, tx store.Tx, now time.Time) error { return tx.Release(ctx, serial, now) })
}

// IssueCode makes a lost-token revocation code for a valid or held
// certificate, after the registrar has checked the holder's identity.
func (rv *Revocation) IssueCode(ctx context.Context, actor string, serial store.Serial) (code.Secret, store.RevocationCode, error) {
	secret, err := code.New(rv.d.Rand)
	if err != nil {
		return code.Secret{}, store.RevocationCode{}, err
	}
	now := rv.d.Now()
	rc := store.RevocationCode{Serial: serial, CodeHash: rv.d.Hasher.Sum(secret), CreatedBy: actor, CreatedAt: now, ExpiresAt: now.Add(rv.cfg.CodeTTL)}
	err = rv.d.Store.Tx(ctx, func(tx store.Tx) error {
		c, err := tx.Certificate(ctx, serial)
		if err != nil {
			return err
		}
		if c.Status == store.CertRevoked {
			return fmt.Errorf("already revoked: %w", store.ErrConflict)
		}
		r := rc
		if err := tx.CreateRevocationCode(ctx, &r); err != nil {
			return err
		}
		if _, err := rv.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: "revcode.create", Object: serial.String(),
			Details: map[string]string{"code_id": r.ID, "expires_at": r.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		rc = r
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return code.Secret{}, rc, refuse(KindNotFound, "not_found", "no such certificate")
	case errors.Is(err, store.ErrConflict):
		return code.Secret{}, rc, &Error{Kind: KindConflict, Code: "conflict", Message: "the certificate is already revoked", Err: err}
	case err != nil:
		return code.Secret{}, rc, err
	}
	return secret, rc, nil
}

// holderReasons are the reasons a holder may give.
var holderReasons = map[store.RevocationReason]bool{
	store.ReasonUnspecified: true, store.ReasonKeyCompromise: true, store.ReasonAffiliationChanged: true,
	store.ReasonSuperseded: true, store.ReasonCessationOfOperation: true,
}

// RevokeWithCode revokes the certificate of a revocation code (reason
// default keyCompromise: a lost token is in somebody's hands).
func (rv *Revocation) RevokeWithCode(ctx context.Context, text string, reason *store.RevocationReason, client netip.Addr) (store.Certificate, error) {
	if retry, ok := rv.d.Limiter.Check(client); !ok {
		return store.Certificate{}, rateLimited(retry)
	}
	c, err := rv.revokeWithCode(ctx, text, reason)
	if _, ok := AsError(err); ok {
		rv.d.Limiter.Fail(client)
	}
	return c, err
}

func (rv *Revocation) revokeWithCode(ctx context.Context, text string, reason *store.RevocationReason) (store.Certificate, error) {
	r := store.ReasonKeyCompromise
	if reason != nil {
		r = *reason
	}
	if !holderReasons[r] {
		return store.Certificate{}, invalidField("reason", "a holder may give unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation", nil)
	}
	secret, err := code.Parse(text)
	switch {
	case errors.Is(err, code.ErrMistyped):
		return store.Certificate{}, &Error{Kind: KindInvalid, Code: "code_mistyped", Message: "the code's check character does not match: it was mistyped", Field: "code"}
	case err != nil:
		return store.Certificate{}, invalidField("code", "not a revocation code (XXXX-XXXX-XXXX-C)", err)
	}
	hash := rv.d.Hasher.Sum(secret)
	var serial store.Serial
	c, err := rv.change(ctx, "holder-code", "cert.revoke", &serial, map[string]string{"reason": r.String(), "by": "revocation code"},
		func(ctx context.Context, tx store.Tx, now time.Time) error {
			rc, err := tx.RedeemRevocationCode(ctx, hash, now)
			if err != nil {
				return err
			}
			serial = rc.Serial
			return tx.Revoke(ctx, rc.Serial, r, now)
		})
	if isCodeError(err) {
		return c, codeError(err)
	}
	return c, err
}

// revocationRequest is the content of a holder's signed revocation.
type revocationRequest struct {
	Serial string    `json:"serial"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// RevokeSigned revokes on a CMS SignedData by the certificate's own key
// whose content is JSON {"serial","reason","time"}: the serial must be the
// signer's, the time and signing time fresh, and the request unused.
func (rv *Revocation) RevokeSigned(ctx context.Context, request []byte, client netip.Addr) (store.Certificate, error) {
	if retry, ok := rv.d.Limiter.Check(client); !ok {
		return store.Certificate{}, rateLimited(retry)
	}
	c, err := rv.revokeSigned(ctx, request)
	if _, ok := AsError(err); ok {
		rv.d.Limiter.Fail(client)
	}
	return c, err
}

func (rv *Revocation) revokeSigned(ctx context.Context, request []byte) (store.Certificate, error) {
	now := rv.d.Now()
	hp, _, err := rv.proofs.parse(ctx, request)
	if err != nil {
		return store.Certificate{}, err
	}
	if hp.record.Status == store.CertRevoked {
		return store.Certificate{}, refuse(KindConflict, "conflict", "the certificate is already revoked")
	}
	if err := rv.proofs.verify(request, hp, now); err != nil {
		return store.Certificate{}, err
	}
	var req revocationRequest
	if err := json.Unmarshal(hp.content, &req); err != nil {
		return store.Certificate{}, invalidField("request", "the signed content is not {\"serial\",\"reason\",\"time\"}", err)
	}
	serial, err := store.ParseSerial(req.Serial)
	if err != nil || serial != hp.record.Serial {
		return store.Certificate{}, invalidField("request", "the signed serial is not the signer certificate's", err)
	}
	reason, err := ParseReason(req.Reason, "request")
	if err != nil {
		return store.Certificate{}, err
	}
	if !holderReasons[reason] {
		return store.Certificate{}, invalidField("request", "a holder may give unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation", nil)
	}
	if req.Time.Before(now.Add(-rv.cfg.Proof.MaxAge)) || req.Time.After(now.Add(rv.cfg.Proof.MaxAge)) {
		return store.Certificate{}, &Error{Kind: KindInvalid, Code: "proof_stale", Message: "the request's time is not within minutes of now", Field: "request"}
	}
	return rv.change(ctx, "holder", "cert.revoke", &serial, map[string]string{"reason": reason.String(), "by": "holder signature"},
		func(ctx context.Context, tx store.Tx, now time.Time) error {
			if err := rv.proofs.spend(ctx, tx, hp, now); err != nil {
				return err
			}
			return tx.Revoke(ctx, serial, reason, now)
		})
}

// RevokeDueSuperseded revokes, reason superseded, each renewed
// certificate whose time has come, and returns how many.
func (rv *Revocation) RevokeDueSuperseded(ctx context.Context) (int, error) {
	var due []store.Certificate
	now := rv.d.Now()
	if err := rv.d.Store.View(ctx, func(r store.Reader) error {
		var err error
		due, err = r.DueSupersededRevocations(ctx, now)
		return err
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range due {
		_, err := rv.change(ctx, "system", "cert.revoke", &c.Serial, map[string]string{"reason": "superseded"},
			func(ctx context.Context, tx store.Tx, now time.Time) error {
				return tx.Revoke(ctx, c.Serial, store.ReasonSuperseded, now)
			})
		if ce, ok := AsError(err); ok && ce.Kind == KindConflict {
			continue // revoked meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
