package ca

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/store"
)

// RegistrarConfig configures registration.
type RegistrarConfig struct {
	// CodeTTL is how long an activation code stays redeemable; default 15
	// minutes.
	CodeTTL time.Duration
	// APIURL is the CA's HTTPS base URL as applicants' agents reach it; it
	// goes into the enrollment link.
	APIURL string
}

// DefaultCodeTTL is an activation code's lifetime.
const DefaultCodeTTL = 15 * time.Minute

// RegistrarDeps are what a Registrar works with.
type RegistrarDeps struct {
	Store   store.Store
	Journal *audit.Journal
	Hasher  *code.Hasher
	Now     func() time.Time
	Rand    io.Reader // codes; nil: crypto/rand
}

// Registrar registers applicants: one order and one activation code each.
type Registrar struct {
	cfg RegistrarConfig
	d   RegistrarDeps
}

// NewRegistrar checks its configuration.
func NewRegistrar(cfg RegistrarConfig, d RegistrarDeps) (*Registrar, error) {
	if d.Store == nil || d.Journal == nil || d.Hasher == nil || d.Now == nil {
		return nil, errors.New("ca: NewRegistrar needs a store, a journal, a code hasher and a clock")
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.CodeTTL < time.Minute {
		return nil, fmt.Errorf("ca: code lifetime %v is under a minute", cfg.CodeTTL)
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	// The link builder validates the URL; check it now rather than on the
	// first registration.
	probe, err := code.New(nil)
	if err != nil {
		return nil, err
	}
	if _, err := code.Link(cfg.APIURL, probe); err != nil {
		return nil, fmt.Errorf("ca: API URL: %w", err)
	}
	return &Registrar{cfg: cfg, d: d}, nil
}

// Registration is a new order with its code, shown once.
type Registration struct {
	Order store.Order
	Code  code.Secret
	// Link is the gostkey://enroll link, QRPNG the same link as a QR code.
	// Both contain the code.
	Link  string
	QRPNG []byte
}

// Register validates id (invalid_field errors naming the field) and
// creates a pending order with a fresh code, audited as order.create.
func (r *Registrar) Register(ctx context.Context, actor string, id store.Identity) (*Registration, error) {
	id, err := NormalizeIdentity(id)
	if err != nil {
		return nil, err
	}
	secret, err := code.New(r.d.Rand)
	if err != nil {
		return nil, err
	}
	link, err := code.Link(r.cfg.APIURL, secret)
	if err != nil {
		return nil, err
	}
	png, err := qrcode.Encode(link, qrcode.Medium, 256)
	if err != nil {
		return nil, fmt.Errorf("ca: QR code: %w", err)
	}
	now := r.d.Now()
	o := store.Order{Identity: id, CodeHash: r.d.Hasher.Sum(secret), CreatedBy: actor, CreatedAt: now, ExpiresAt: now.Add(r.cfg.CodeTTL)}
	err = r.d.Store.Tx(ctx, func(tx store.Tx) error {
		c := o
		if err := tx.CreateOrder(ctx, &c); err != nil {
			return err
		}
		if _, err := r.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: "order.create", Object: c.ID,
			Details: map[string]string{"expires_at": c.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		o = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Registration{Order: o, Code: secret, Link: link, QRPNG: png}, nil
}

// Order returns an order; not_found when there is none.
func (r *Registrar) Order(ctx context.Context, id string) (store.Order, error) {
	var o store.Order
	err := r.d.Store.View(ctx, func(rd store.Reader) error {
		var err error
		o, err = rd.Order(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return o, refuse(KindNotFound, "not_found", "no such order")
	}
	return o, err
}

// Cancel cancels a pending order (audited order.cancel); an order used,
// expired, locked or cancelled already is conflict.
func (r *Registrar) Cancel(ctx context.Context, actor, id string) (store.Order, error) {
	var o store.Order
	now := r.d.Now()
	err := r.d.Store.Tx(ctx, func(tx store.Tx) error {
		cur, err := tx.Order(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status == store.OrderPending && !now.Before(cur.ExpiresAt) {
			return fmt.Errorf("order expired: %w", store.ErrConflict)
		}
		if err := tx.CancelOrder(ctx, id, now); err != nil {
			return err
		}
		if _, err := r.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: "order.cancel", Object: id}); err != nil {
			return err
		}
		o, err = tx.Order(ctx, id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return o, refuse(KindNotFound, "not_found", "no such order")
	case errors.Is(err, store.ErrConflict):
		return o, &Error{Kind: KindConflict, Code: "conflict", Message: "only a pending, unexpired order can be cancelled", Err: err}
	}
	return o, err
}

// ExpireOrders marks the pending orders past their expiry expired (their
// codes can no longer be redeemed anyway: this makes the state durable and
// audited) and returns how many; one audit record covers the sweep.
func (r *Registrar) ExpireOrders(ctx context.Context) (int, error) {
	var n int
	now := r.d.Now()
	err := r.d.Store.Tx(ctx, func(tx store.Tx) error {
		var err error
		if n, err = tx.ExpireOrders(ctx, now); err != nil || n == 0 {
			return err
		}
		_, err = r.d.Journal.Append(ctx, tx, audit.Entry{Actor: "system", Action: "order.expire",
			Details: map[string]any{"count": n, "at": now.UTC()}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ca: expiring orders: %w", err)
	}
	return n, nil
}

// OrderStatus is o's status as of now: a pending order past its expiry is
// expired even before a redemption attempt or a sweep marks it.
func OrderStatus(o store.Order, now time.Time) store.OrderStatus {
	if o.Status == store.OrderPending && !now.Before(o.ExpiresAt) {
		return store.OrderExpired
	}
	return o.Status
}
