package publish

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// Defaults of CRLConfig.
const (
	DefaultCRLValidity = 24 * time.Hour
	DefaultCRLRetry    = time.Minute
)

// CRLConfig tunes a CRLPublisher; the zero value takes the defaults.
type CRLConfig struct {
	// Validity is nextUpdate − thisUpdate of every CRL, full and delta;
	// default DefaultCRLValidity.
	Validity time.Duration
	// RenewBefore is how long before the latest full CRL's nextUpdate Run
	// reissues; default Validity/2. It must be below Validity.
	RenewBefore time.Duration
	// Retry is how long Run waits after a failed scheduled reissue, or
	// while another process holds the schedule's lease, before trying
	// again; default DefaultCRLRetry. It must be below RenewBefore, so a
	// retry still comes before nextUpdate.
	Retry time.Duration
	// DeltaURL goes into every full CRL's freshestCRL extension (the
	// contract's <public_http_url>/crl/issuing-delta.crl); empty: none.
	DeltaURL string
}

func (c CRLConfig) withDefaults() (CRLConfig, error) {
	err := schedule("CRL", &c.Validity, &c.RenewBefore, &c.Retry, DefaultCRLValidity)
	return c, err
}

// schedule fills a CRL schedule's zero fields (validity defaultValidity,
// renewal at half of it, DefaultCRLRetry) and checks that renewal falls
// inside the validity and retries inside the renewal margin; what names
// the CRL in the error.
func schedule(what string, validity, renewBefore, retry *time.Duration, defaultValidity time.Duration) error {
	if *validity == 0 {
		*validity = defaultValidity
	}
	if *renewBefore == 0 {
		*renewBefore = *validity / 2
	}
	if *retry == 0 {
		*retry = DefaultCRLRetry
	}
	switch {
	case *validity < time.Minute:
		return fmt.Errorf("publish: %s validity %v is under a minute", what, *validity)
	case *renewBefore <= 0 || *renewBefore >= *validity:
		return fmt.Errorf("publish: %s renew_before %v must be between 0 and the validity %v", what, *renewBefore, *validity)
	case *retry <= 0 || *retry >= *renewBefore:
		return fmt.Errorf("publish: %s retry %v must be between 0 and renew_before %v", what, *retry, *renewBefore)
	}
	return nil
}

// CRLDeps are what a CRLPublisher works with.
type CRLDeps struct {
	Store   store.Store
	Journal *audit.Journal
	// Issuer is the issuing CA certificate; Signer holds its key (on the
	// token) and signs the CRLs.
	Issuer *pki.Certificate
	Signer crypto.Signer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// After waits as time.After does, on the same clock as Now; default
	// time.After. Tests pass a fake clock's.
	After func(time.Duration) <-chan time.Time
	// Rand feeds the signatures; default crypto/rand.
	Rand io.Reader
	// Logger reports scheduled runs that fail; default: discarded.
	Logger *slog.Logger
	// Holder names this process in the lease on the CRL schedule, so that
	// of several processes sharing the database one runs it (Reissue after
	// a revocation runs wherever it is called); default a random ID.
	Holder string
}

// crlScheduleLease is the store lease Run holds while it keeps the
// schedule.
const crlScheduleLease = "crl.schedule"

// CRLPublisher makes, stores and audits the issuing CA's full and delta
// CRLs.
type CRLPublisher struct {
	cfg    CRLConfig
	store  store.Store
	jrnl   *audit.Journal
	issuer *pki.Certificate
	signer crypto.Signer
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	rand   io.Reader
	log    *slog.Logger
	holder string

	mu sync.Mutex
	// pending is the run the next callers join: it starts once the run in
	// progress (if any) ends, so it sees every revocation committed before
	// any of its callers asked.
	pending *crlRun
	// running is true while the runner goroutine owns the runs.
	running bool
	// queued, when set (by tests), is called each time a caller has joined
	// a pending run.
	queued func()

	// base caches the entries of the delta CRLs' base, which changes only
	// when the oldest current full CRL expires. Only the runner uses it.
	base struct {
		number  int64
		entries map[store.Serial]pki.CRLReason
	}
}

// crlRun is one signing run and the callers waiting for it.
type crlRun struct {
	done chan struct{}
	err  error
	// full and delta are what the run stored.
	full, delta store.CRL
}

// NewCRLPublisher checks its dependencies: the signer must hold the issuer
// certificate's key, and the certificate must allow CRL signing.
func NewCRLPublisher(cfg CRLConfig, deps CRLDeps) (*CRLPublisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Journal == nil || deps.Issuer == nil || deps.Signer == nil {
		return nil, errors.New("publish: a CRL publisher needs a store, a journal, the issuer certificate and its signer")
	}
	if err := checkCRLSigner(deps.Signer, deps.Issuer, "issuer"); err != nil {
		return nil, err
	}
	p := &CRLPublisher{cfg: cfg, store: deps.Store, jrnl: deps.Journal, issuer: deps.Issuer, signer: deps.Signer,
		now: deps.Now, after: deps.After, rand: deps.Rand, log: deps.Logger, holder: deps.Holder}
	p.now, p.after, p.rand, p.log = withDefaults(p.now, p.after, p.rand, p.log)
	if p.holder == "" {
		id := make([]byte, 8)
		if _, err := io.ReadFull(p.rand, id); err != nil {
			return nil, fmt.Errorf("publish: lease holder ID: %w", err)
		}
		p.holder = "crl-" + hex.EncodeToString(id)
	}
	return p, nil
}

// Reissue makes a new full CRL and a delta CRL now and returns once both
// are stored, with their audit records, durably. Concurrent callers are
// coalesced: a caller joins the run that has not started yet, or, when
// none is waiting, starts one; a run starts only after the one before it
// has ended, so the run a caller waits for sees every revocation committed
// before the caller asked. A caller whose ctx ends stops waiting; the run
// goes on for the others.
func (p *CRLPublisher) Reissue(ctx context.Context) error {
	_, err := p.reissue(ctx)
	return err
}

func (p *CRLPublisher) reissue(ctx context.Context) (*crlRun, error) {
	p.mu.Lock()
	if p.pending == nil {
		p.pending = &crlRun{done: make(chan struct{})}
	}
	r := p.pending
	if !p.running {
		p.running = true
		// The run must not end with the first caller's ctx: others wait
		// for it too.
		go p.runner(context.WithoutCancel(ctx))
	}
	queued := p.queued
	p.mu.Unlock()
	if queued != nil {
		queued()
	}
	select {
	case <-r.done:
		return r, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runner runs pending runs one after another until none is left.
func (p *CRLPublisher) runner(ctx context.Context) {
	for {
		p.mu.Lock()
		r := p.pending
		p.pending = nil
		if r == nil {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		r.full, r.delta, r.err = p.publish(ctx)
		close(r.done)
	}
}

// publish is one signing run. The CRL numbers are taken in the transaction
// that reads the revocations, so numbers follow the order of the states the
// CRLs show, also between processes sharing the database; signing happens
// outside any transaction (a token signature must not hold the writer), and
// the CRLs are stored and audited together in a second one. A crash between
// the two leaves unused numbers, never a CRL without its audit record.
func (p *CRLPublisher) publish(ctx context.Context) (full, delta store.CRL, err error) {
	now := p.now().UTC().Truncate(time.Second) // what the DER can say
	next := now.Add(p.cfg.Validity)
	var revoked []store.Certificate
	var changes []pki.RevokedCertificate
	err = p.store.Tx(ctx, func(tx store.Tx) error {
		fn, err := tx.NextCRLNumber(ctx)
		if err != nil {
			return err
		}
		dn, err := tx.NextCRLNumber(ctx)
		if err != nil {
			return err
		}
		full = store.CRL{Number: fn, Kind: store.CRLFull, ThisUpdate: now, NextUpdate: next}
		delta = store.CRL{Number: dn, Kind: store.CRLDelta, ThisUpdate: now, NextUpdate: next, BaseNumber: fn}
		if revoked, err = tx.RevokedCertificates(ctx, now); err != nil {
			return err
		}
		// The delta's base is the oldest full CRL a relying party may still
		// hold, so that the delta updates every one of them; the first time,
		// the new full CRL itself (and the delta is empty).
		base, err := tx.OldestCurrentCRL(ctx, store.CRLFull, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			changes = nil
			return nil
		case err != nil:
			return err
		}
		delta.BaseNumber = base.Number
		changes, err = p.deltaEntries(ctx, tx, base, revoked)
		return err
	})
	if err != nil {
		return full, delta, fmt.Errorf("publish: reading revocations: %w", err)
	}

	entries := make([]pki.RevokedCertificate, 0, len(revoked))
	for _, c := range revoked {
		entries = append(entries, crlEntry(c))
	}
	if full.DER, err = p.sign(&pki.CRLTemplate{Number: big.NewInt(full.Number), ThisUpdate: now, NextUpdate: next,
		RevokedCertificates: entries, FreshestCRL: nonEmpty(p.cfg.DeltaURL)}); err != nil {
		return full, delta, fmt.Errorf("publish: signing CRL %d: %w", full.Number, err)
	}
	if delta.DER, err = p.sign(&pki.CRLTemplate{Number: big.NewInt(delta.Number), BaseCRLNumber: big.NewInt(delta.BaseNumber),
		ThisUpdate: now, NextUpdate: next, RevokedCertificates: changes}); err != nil {
		return full, delta, fmt.Errorf("publish: signing delta CRL %d: %w", delta.Number, err)
	}

	err = p.store.Tx(ctx, func(tx store.Tx) error {
		for _, c := range []struct {
			crl     *store.CRL
			entries int
		}{{&full, len(revoked)}, {&delta, len(changes)}} {
			if err := tx.InsertCRL(ctx, c.crl); err != nil {
				return err
			}
			if _, err := p.jrnl.Append(ctx, tx, audit.Entry{Actor: "system", Action: "crl.publish",
				Object: fmt.Sprintf("crl/%d", c.crl.Number), Details: crlDetails(*c.crl, c.entries)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return full, delta, fmt.Errorf("publish: storing CRLs %d and %d: %w", full.Number, delta.Number, err)
	}
	return full, delta, nil
}

// deltaEntries is the difference between the base CRL and the state now
// (RFC 5280 §5.2.4): every certificate revoked or held now that the base
// does not list with the same reason, and removeFromCRL for every one the
// base lists that is valid again (released from hold). Entries the base
// lists for certificates since expired are not changes. Comparing with the
// base's own entries, rather than with status times, keeps the delta exact
// whatever time a revocation was stamped with.
func (p *CRLPublisher) deltaEntries(ctx context.Context, r store.Reader, base store.CRL, revoked []store.Certificate) ([]pki.RevokedCertificate, error) {
	if p.base.number != base.Number {
		crl, err := pki.ParseCRL(base.DER)
		if err != nil {
			return nil, fmt.Errorf("publish: base CRL %d: %w", base.Number, err)
		}
		m := make(map[store.Serial]pki.CRLReason, len(crl.RevokedCertificates))
		for _, rc := range crl.RevokedCertificates {
			if s, ok := storeSerial(rc.SerialNumber); ok {
				m[s] = rc.ReasonCode
			}
		}
		p.base.number, p.base.entries = base.Number, m
	}
	var out []pki.RevokedCertificate
	now := make(map[store.Serial]bool, len(revoked))
	for _, c := range revoked {
		now[c.Serial] = true
		if reason, ok := p.base.entries[c.Serial]; !ok || reason != pki.CRLReason(c.RevocationReason) {
			out = append(out, crlEntry(c))
		}
	}
	var released []store.Serial
	for s := range p.base.entries {
		if !now[s] {
			released = append(released, s)
		}
	}
	slices.SortFunc(released, func(a, b store.Serial) int { return bytes.Compare(a[:], b[:]) })
	for _, s := range released {
		c, err := r.Certificate(ctx, s)
		if err != nil {
			return nil, err
		}
		if c.Status == store.CertValid {
			out = append(out, crlEntry(c))
		}
	}
	return out, nil
}

func (p *CRLPublisher) sign(t *pki.CRLTemplate) ([]byte, error) {
	return pki.CreateCRL(p.rand, t, p.issuer, p.signer)
}

// crlEntry is a certificate's CRL entry: revoked and held certificates with
// their reason (a hold is certificateHold), released ones (valid again, in
// a delta) with removeFromCRL at the time of the release.
func crlEntry(c store.Certificate) pki.RevokedCertificate {
	e := pki.RevokedCertificate{SerialNumber: new(big.Int).SetBytes(c.Serial[:]), RevocationTime: c.RevokedAt,
		ReasonCode: pki.CRLReason(c.RevocationReason)}
	if c.Status == store.CertValid {
		e.RevocationTime, e.ReasonCode = c.StatusChangedAt, pki.ReasonRemoveFromCRL
	}
	return e
}

type crlAuditDetails struct {
	Kind       store.CRLKind `json:"kind"`
	Number     int64         `json:"number"`
	BaseNumber int64         `json:"base_number,omitempty"`
	ThisUpdate time.Time     `json:"this_update"`
	NextUpdate time.Time     `json:"next_update"`
	Entries    int           `json:"entries"`
	// Streebog256 of the DER ties the record to the exact CRL published.
	Streebog256 string `json:"streebog256"`
}

func crlDetails(c store.CRL, entries int) crlAuditDetails {
	h := gost.New256()
	h.Write(c.DER)
	return crlAuditDetails{Kind: c.Kind, Number: c.Number, BaseNumber: c.BaseNumber, ThisUpdate: c.ThisUpdate,
		NextUpdate: c.NextUpdate, Entries: entries, Streebog256: hex.EncodeToString(h.Sum(nil))}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Run reissues the CRLs on schedule until ctx ends: RenewBefore ahead of
// the latest full CRL's nextUpdate (at once if there is none or it is due),
// and Retry after a failed run. Reissues in between (after revocations)
// push the schedule back, since it follows the stored CRLs. Among
// processes sharing the database, the one holding the schedule's lease
// reissues; the others check again after Retry, and one of them takes over
// when a holder stops renewing. It returns nil when ctx ends, after giving
// up the lease.
func (p *CRLPublisher) Run(ctx context.Context) error {
	defer p.releaseLease(ctx)
	for {
		wait, err := p.untilDue(ctx)
		if err == nil && wait <= 0 {
			var held bool
			if held, err = p.takeLease(ctx); err == nil && !held {
				wait = p.cfg.Retry
			} else if err == nil {
				if err = p.Reissue(ctx); err == nil {
					continue
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.ErrorContext(ctx, "scheduled CRL reissue failed", "error", err, "retry_in", p.cfg.Retry)
			wait = p.cfg.Retry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.after(wait):
		}
	}
}

// takeLease takes or renews the schedule's lease. It lasts until one
// retry after the next due time, which the holder renews it at; a holder
// that stopped loses it then, still RenewBefore − Retry before nextUpdate.
func (p *CRLPublisher) takeLease(ctx context.Context) (bool, error) {
	var held bool
	ttl := p.cfg.Validity - p.cfg.RenewBefore + p.cfg.Retry
	err := p.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		held, err = tx.AcquireLease(ctx, crlScheduleLease, p.holder, p.now(), ttl)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("publish: CRL schedule lease: %w", err)
	}
	return held, nil
}

func (p *CRLPublisher) releaseLease(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.store.Tx(ctx, func(tx store.Tx) error { return tx.ReleaseLease(ctx, crlScheduleLease, p.holder) }); err != nil {
		p.log.ErrorContext(ctx, "releasing the CRL schedule lease", "error", err)
	}
}

// untilDue is how long until the next scheduled reissue.
func (p *CRLPublisher) untilDue(ctx context.Context) (time.Duration, error) {
	var latest store.CRL
	err := p.store.View(ctx, func(r store.Reader) error {
		var err error
		latest, err = r.LatestCRL(ctx, store.CRLFull)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("publish: latest CRL: %w", err)
	}
	return latest.NextUpdate.Add(-p.cfg.RenewBefore).Sub(p.now()), nil
}

// Latest returns the latest stored CRL of kind (store.ErrNotFound before
// the first run).
func (p *CRLPublisher) Latest(ctx context.Context, kind store.CRLKind) (store.CRL, error) {
	var c store.CRL
	err := p.store.View(ctx, func(r store.Reader) error {
		var err error
		c, err = r.LatestCRL(ctx, kind)
		return err
	})
	return c, err
}

// checkCRLSigner checks that signer holds cert's key and that cert may sign
// CRLs; what names the certificate in the error (issuer, root).
func checkCRLSigner(signer crypto.Signer, cert *pki.Certificate, what string) error {
	if err := checkKeyPair(signer, cert); err != nil {
		return fmt.Errorf("publish: %s CRL signer: %w", what, err)
	}
	if !cert.IsCA || cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return fmt.Errorf("publish: the %s certificate may not sign CRLs (not a CA or no cRLSign)", what)
	}
	return nil
}

// withDefaults fills the clock, timer, randomness and logger a caller left
// nil with the real ones.
func withDefaults(now func() time.Time, after func(time.Duration) <-chan time.Time, r io.Reader, log *slog.Logger) (func() time.Time, func(time.Duration) <-chan time.Time, io.Reader, *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	if r == nil {
		r = rand.Reader
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return now, after, r, log
}
