package ca

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/store"
)

// EnrollmentConfig configures redemption.
type EnrollmentConfig struct {
	// MaxFailures refused requests on one order lock it; default 5.
	MaxFailures int
	// Keys is the profile's key policy.
	Keys KeyPolicy
}

// DefaultMaxFailures is how many refused requests lock an order.
const DefaultMaxFailures = 5

// EnrollmentDeps are what an Enrollment works with.
type EnrollmentDeps struct {
	Store   store.Store
	Journal *audit.Journal
	Hasher  *code.Hasher
	Issuer  *Issuer
	// Limiter counts refused enrollments per client address (a wrong code
	// above all: codes are guessed from many orders at once, which no
	// per-order count sees).
	Limiter *Limiter
	Now     func() time.Time
}

// Enrollment redeems activation codes for certificates.
type Enrollment struct {
	cfg EnrollmentConfig
	d   EnrollmentDeps
}

// NewEnrollment checks its dependencies.
func NewEnrollment(cfg EnrollmentConfig, d EnrollmentDeps) (*Enrollment, error) {
	if d.Store == nil || d.Journal == nil || d.Hasher == nil || d.Issuer == nil || d.Limiter == nil || d.Now == nil {
		return nil, errors.New("ca: NewEnrollment needs a store, a journal, a hasher, an issuer, a limiter and a clock")
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	return &Enrollment{cfg: cfg, d: d}, nil
}

// EnrollRequest is what an applicant's agent sends.
type EnrollRequest struct {
	Code   string // as typed
	CSR    []byte // DER PKCS#10
	Client netip.Addr
}

// Enroll checks the request, then redeems the code and issues the
// certificate for the order's identity (never the request's subject).
//
// The request itself (code syntax, CSR, its signature, the key's
// algorithm) is checked before the store is touched, so a malformed
// request changes nothing. Then the code is redeemed atomically: of
// concurrent requests with one code exactly one wins. A request with the
// right code refused afterwards (key already certified) counts against
// the order, and MaxFailures of them lock it. Every refusal counts
// against the client address; past the limit, rate_limited.
func (e *Enrollment) Enroll(ctx context.Context, req EnrollRequest) (*store.Certificate, error) {
	if retry, ok := e.d.Limiter.Check(req.Client); !ok {
		return nil, rateLimited(retry)
	}
	c, err := e.enroll(ctx, req)
	if err != nil {
		if _, ok := AsError(err); ok {
			e.d.Limiter.Fail(req.Client)
		}
		return nil, err
	}
	return c, nil
}

func (e *Enrollment) enroll(ctx context.Context, req EnrollRequest) (*store.Certificate, error) {
	secret, err := code.Parse(req.Code)
	switch {
	case errors.Is(err, code.ErrMistyped):
		return nil, &Error{Kind: KindInvalid, Code: "code_mistyped", Message: "the code's check character does not match: it was mistyped", Field: "code"}
	case err != nil:
		return nil, invalidField("code", "not an activation code (XXXX-XXXX-XXXX-C)", err)
	}
	csr, err := parseCSR(req.CSR, e.cfg.Keys)
	if err != nil {
		return nil, err
	}
	hash := e.d.Hasher.Sum(secret)
	var order store.Order
	err = e.d.Store.View(ctx, func(r store.Reader) error {
		var err error
		order, err = r.OrderByCodeHash(ctx, hash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, codeError(store.ErrCodeUnknown)
	}
	if err != nil {
		return nil, err
	}
	// Constant-time confirmation of what the hash lookup found.
	if !e.d.Hasher.Equal(secret, order.CodeHash) {
		return nil, codeError(store.ErrCodeUnknown)
	}
	now := e.d.Now()
	cert, err := e.d.Issuer.Issue(ctx, IssueRequest{
		Identity:  order.Identity,
		PublicKey: csr.PublicKey,
		OrderID:   order.ID,
		Actor:     "enrollment",
		Reserve: func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.RedeemOrder(ctx, hash, now); err != nil {
				return err
			}
			_, err := e.d.Journal.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "order.redeem", Object: order.ID,
				Details: map[string]string{"client": req.Client.String()}})
			return err
		},
	})
	switch {
	case err == nil:
		return cert, nil
	case errors.Is(err, store.ErrCodeExpired):
		// The redemption marked the order expired, but that transaction
		// rolled back; keep the mark and its record.
		if merr := e.markExpired(ctx, hash, order.ID, now); merr != nil {
			return nil, errors.Join(codeError(err), merr)
		}
		return nil, codeError(err)
	case isCodeError(err):
		return nil, codeError(err)
	}
	if ce, ok := AsError(err); ok && ce.Code == "key_certified" {
		if ferr := e.recordFailure(ctx, order.ID, ce.Code, now); ferr != nil {
			return nil, errors.Join(err, ferr)
		}
	}
	return nil, err
}

func (e *Enrollment) markExpired(ctx context.Context, hash []byte, orderID string, now time.Time) error {
	return e.d.Store.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.RedeemOrder(ctx, hash, now); !errors.Is(err, store.ErrCodeExpired) {
			return err // redeemed or cancelled meanwhile: nothing to mark
		}
		_, err := e.d.Journal.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "order.expire", Object: orderID})
		return err
	})
}

// recordFailure counts a refused request with the right code against the
// order, locking it at MaxFailures.
func (e *Enrollment) recordFailure(ctx context.Context, orderID, reason string, now time.Time) error {
	err := e.d.Store.Tx(ctx, func(tx store.Tx) error {
		o, err := tx.RecordOrderFailure(ctx, orderID, e.cfg.MaxFailures, now)
		if err != nil {
			return err
		}
		if _, err := e.d.Journal.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "order.failure", Object: orderID,
			Details: map[string]any{"reason": reason, "failures": o.Failures}}); err != nil {
			return err
		}
		if o.Status == store.OrderLocked {
			_, err = e.d.Journal.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "order.lock", Object: orderID})
		}
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return nil // no longer pending: nothing to count
	}
	return err
}

var codeErrors = []struct {
	err     error
	kind    Kind
	code    string
	message string
}{
	{store.ErrCodeUnknown, KindNotFound, "code_unknown", "no order has this code"},
	{store.ErrCodeExpired, KindConflict, "code_expired", "the code has expired"},
	{store.ErrCodeUsed, KindConflict, "code_used", "the code has been used"},
	{store.ErrCodeCancelled, KindConflict, "code_cancelled", "the code was cancelled"},
	{store.ErrCodeLocked, KindConflict, "code_locked", "the order is locked after too many failed attempts"},
}

func isCodeError(err error) bool {
	for _, c := range codeErrors {
		if errors.Is(err, c.err) {
			return true
		}
	}
	return false
}

func codeError(err error) error {
	for _, c := range codeErrors {
		if errors.Is(err, c.err) {
			return &Error{Kind: c.kind, Code: c.code, Message: c.message, Field: "code", Err: err}
		}
	}
	return err
}
