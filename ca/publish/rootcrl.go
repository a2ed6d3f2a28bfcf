package publish

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/pki"
)

// DefaultRootCRLValidity is nextUpdate − thisUpdate of the root's CRL: the
// root signs rarely (the issuing CA certificate, a revocation of it), so
// its CRL lives long, as root CRLs do.
const DefaultRootCRLValidity = 30 * 24 * time.Hour

// RootCRLConfig tunes a RootCRLPublisher; the zero value takes the defaults.
type RootCRLConfig struct {
	// Validity defaults to DefaultRootCRLValidity; RenewBefore (how long
	// before nextUpdate Run reissues) to Validity/2; Retry (after a failed
	// run) to DefaultCRLRetry.
	Validity, RenewBefore, Retry time.Duration
}

// RootCRLDeps are what a RootCRLPublisher works with.
type RootCRLDeps struct {
	// Store gives the CRL numbers (one sequence with the issuing CA's
	// CRLs, so numbers never repeat) and the audit transactions.
	Store   store.Store
	Journal *audit.Journal
	// Root is the root certificate; Signer holds its key (on the token).
	Root   *pki.Certificate
	Signer crypto.Signer
	// Revoked lists the CA certificates the root has revoked (the issuing
	// CA's, should it be compromised); nil: none.
	Revoked func(ctx context.Context) ([]pki.RevokedCertificate, error)
	Now     func() time.Time
	After   func(time.Duration) <-chan time.Time
	Rand    io.Reader
	Logger  *slog.Logger
}

// RootCRLPublisher keeps the root's CRL, the one the issuing CA
// certificate's CRL distribution point names. It is a plain full CRL,
// kept in memory and signed again at start, on schedule and by Reissue
// (when the root revokes a CA certificate): every replica signs its own,
// each with a number from the shared sequence and an audit record, so no
// store table is needed for a list that is almost always empty.
type RootCRLPublisher struct {
	cfg     RootCRLConfig
	store   store.Store
	jrnl    *audit.Journal
	root    *pki.Certificate
	signer  crypto.Signer
	revoked func(context.Context) ([]pki.RevokedCertificate, error)
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	rand    io.Reader
	log     *slog.Logger

	// mu serialises signing runs and guards latest.
	mu     sync.Mutex
	latest store.CRL
}

// NewRootCRLPublisher checks its dependencies: the signer must hold the
// root certificate's key, which must allow CRL signing.
func NewRootCRLPublisher(cfg RootCRLConfig, deps RootCRLDeps) (*RootCRLPublisher, error) {
	if err := schedule("root CRL", &cfg.Validity, &cfg.RenewBefore, &cfg.Retry, DefaultRootCRLValidity); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Journal == nil || deps.Root == nil || deps.Signer == nil {
		return nil, errors.New("publish: a root CRL publisher needs a store, a journal, the root certificate and its signer")
	}
	if err := checkCRLSigner(deps.Signer, deps.Root, "root"); err != nil {
		return nil, err
	}
	p := &RootCRLPublisher{cfg: cfg, store: deps.Store, jrnl: deps.Journal, root: deps.Root, signer: deps.Signer,
		revoked: deps.Revoked, now: deps.Now, after: deps.After, rand: deps.Rand, log: deps.Logger}
	p.now, p.after, p.rand, p.log = withDefaults(p.now, p.after, p.rand, p.log)
	return p, nil
}

// Reissue signs a new root CRL now and returns once its audit record is
// committed; only then is it served.
func (p *RootCRLPublisher) Reissue(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var entries []pki.RevokedCertificate
	if p.revoked != nil {
		var err error
		if entries, err = p.revoked(ctx); err != nil {
			return fmt.Errorf("publish: revoked CA certificates: %w", err)
		}
	}
	now := p.now().UTC().Truncate(time.Second)
	c := store.CRL{Kind: store.CRLFull, ThisUpdate: now, NextUpdate: now.Add(p.cfg.Validity)}
	// The number is taken in its own transaction: signing on the token
	// must not hold the writer. A crash before the audit leaves an unused
	// number, never a served CRL without its record.
	err := p.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		c.Number, err = tx.NextCRLNumber(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("publish: root CRL number: %w", err)
	}
	if c.DER, err = pki.CreateCRL(p.rand, &pki.CRLTemplate{Number: big.NewInt(c.Number), ThisUpdate: c.ThisUpdate,
		NextUpdate: c.NextUpdate, RevokedCertificates: entries}, p.root, p.signer); err != nil {
		return fmt.Errorf("publish: signing root CRL %d: %w", c.Number, err)
	}
	details := crlDetails(c, len(entries))
	details.Kind = "root"
	err = p.store.Tx(ctx, func(tx store.Tx) error {
		_, err := p.jrnl.Append(ctx, tx, audit.Entry{Actor: "system", Action: "crl.publish",
			Object: fmt.Sprintf("crl/%d", c.Number), Details: details})
		return err
	})
	if err != nil {
		return fmt.Errorf("publish: auditing root CRL %d: %w", c.Number, err)
	}
	p.latest = c
	return nil
}

// Latest is the root CRL served now (Number 0 before the first Reissue).
func (p *RootCRLPublisher) Latest() store.CRL {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latest
}

// Run signs the first root CRL at once, then RenewBefore ahead of each
// nextUpdate (Retry after a failure), until ctx ends; it returns nil then.
func (p *RootCRLPublisher) Run(ctx context.Context) error {
	for {
		wait := p.cfg.Retry
		if next := p.Latest().NextUpdate; !next.IsZero() && p.now().Before(next.Add(-p.cfg.RenewBefore)) {
			wait = next.Add(-p.cfg.RenewBefore).Sub(p.now())
		} else if err := p.Reissue(ctx); err == nil {
			continue
		} else if ctx.Err() == nil {
			p.log.ErrorContext(ctx, "scheduled root CRL reissue failed", "error", err, "retry_in", p.cfg.Retry)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.after(wait):
		}
	}
}
