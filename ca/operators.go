package ca

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/code"
	"github.com/gostkey/gostkey/ca/store"
)

// OperatorsConfig configures operators and tokens.
type OperatorsConfig struct {
	// MaxTokenLifetime bounds expires_in; default 365 days.
	MaxTokenLifetime time.Duration
}

// OperatorsDeps are what Operators works with.
type OperatorsDeps struct {
	Store   store.Store
	Journal *audit.Journal
	// Limiter counts failed authentications per client address.
	Limiter *Limiter
	Now     func() time.Time
	Rand    io.Reader
	// OnAuthFailure, if set, is called once per failed authentication with
	// a short reason ("malformed", "unknown", "expired", "revoked",
	// "address", "disabled", "rate_limited") — a metric counts them.
	OnAuthFailure func(reason string)
}

// Operators manages operators and their API tokens and authenticates
// requests.
type Operators struct {
	cfg OperatorsConfig
	d   OperatorsDeps
}

// NewOperators checks its dependencies.
func NewOperators(cfg OperatorsConfig, d OperatorsDeps) (*Operators, error) {
	if d.Store == nil || d.Journal == nil || d.Limiter == nil || d.Now == nil {
		return nil, errors.New("ca: NewOperators needs a store, a journal, a limiter and a clock")
	}
	if cfg.MaxTokenLifetime == 0 {
		cfg.MaxTokenLifetime = 365 * 24 * time.Hour
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.OnAuthFailure == nil {
		d.OnAuthFailure = func(string) {}
	}
	return &Operators{cfg: cfg, d: d}, nil
}

// ParseRole reads a role name.
func ParseRole(s string) (store.Role, error) {
	switch r := store.Role(s); r {
	case store.RoleAdmin, store.RoleRegistrar, store.RoleAuditor:
		return r, nil
	}
	return "", invalidField("role", "admin, registrar or auditor", nil)
}

// Create adds an operator; a taken name is conflict.
func (o *Operators) Create(ctx context.Context, actor, name string, role store.Role) (store.Operator, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return store.Operator{}, invalidField("name", "1 to 64 printable characters", nil)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return store.Operator{}, err
	}
	op := store.Operator{Name: name, Role: role, CreatedAt: o.d.Now()}
	err := o.d.Store.Tx(ctx, func(tx store.Tx) error {
		c := op
		if err := tx.CreateOperator(ctx, &c); err != nil {
			return err
		}
		if _, err := o.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: "operator.create", Object: c.ID,
			Details: map[string]string{"name": c.Name, "role": string(c.Role)}}); err != nil {
			return err
		}
		op = c
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return op, &Error{Kind: KindConflict, Code: "conflict", Message: "an operator with this name exists", Field: "name", Err: err}
	}
	return op, err
}

// List lists operators.
func (o *Operators) List(ctx context.Context) ([]store.Operator, error) {
	var ops []store.Operator
	err := o.d.Store.View(ctx, func(r store.Reader) error {
		var err error
		ops, err = r.ListOperators(ctx)
		return err
	})
	return ops, err
}

// IssueToken makes an API token for an operator, valid for expiresIn and,
// when cidrs is not empty, only from those networks. The token is shown
// once; the store keeps its hash.
func (o *Operators) IssueToken(ctx context.Context, actor, operatorID string, expiresIn time.Duration, cidrs []netip.Prefix) (code.Token, store.APIToken, error) {
	if expiresIn <= 0 || expiresIn > o.cfg.MaxTokenLifetime {
		return code.Token{}, store.APIToken{}, invalidField("expires_in", fmt.Sprintf("a duration above 0 and at most %v", o.cfg.MaxTokenLifetime), nil)
	}
	for i, p := range cidrs {
		cidrs[i] = p.Masked()
	}
	tok, err := code.NewToken(o.d.Rand)
	if err != nil {
		return code.Token{}, store.APIToken{}, err
	}
	now := o.d.Now()
	t := store.APIToken{OperatorID: operatorID, Hash: tok.Sum(), CreatedAt: now, ExpiresAt: now.Add(expiresIn), AllowedCIDRs: cidrs}
	err = o.d.Store.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.Operator(ctx, operatorID); err != nil {
			return err
		}
		c := t
		if err := tx.CreateAPIToken(ctx, &c); err != nil {
			return err
		}
		cs := make([]string, len(cidrs))
		for i, p := range cidrs {
			cs[i] = p.String()
		}
		if _, err := o.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: "token.create", Object: c.ID,
			Details: map[string]any{"operator": operatorID, "expires_at": c.ExpiresAt.UTC().Format(time.RFC3339), "cidrs": cs}}); err != nil {
			return err
		}
		t = c
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return code.Token{}, t, refuse(KindNotFound, "not_found", "no such operator")
	}
	if err != nil {
		return code.Token{}, t, err
	}
	return tok, t, nil
}

// RevokeToken revokes a token; not_found or conflict (already revoked).
func (o *Operators) RevokeToken(ctx context.Context, actor, tokenID string) error {
	now := o.d.Now()
	err := o.d.Store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeAPIToken(ctx, tokenID, now); err != nil {
			return err
		}
		_, err := o.d.Journal.Append(ctx, tx, audit.Entry{Actor: actor, Action: "token.revoke", Object: tokenID})
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse(KindNotFound, "not_found", "no such token")
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: KindConflict, Code: "conflict", Message: "the token is already revoked", Err: err}
	}
	return err
}

// Principal is an authenticated operator.
type Principal struct {
	Operator store.Operator
	TokenID  string
}

// Authenticate checks a bearer token from addr: well formed, known,
// unexpired, unrevoked, allowed from addr, its operator enabled. A failure
// is unauthenticated (the same answer whatever the reason, which goes to
// the audit journal and the OnAuthFailure count); past the per-address
// limit, rate_limited without looking at the token.
func (o *Operators) Authenticate(ctx context.Context, bearer string, addr netip.Addr) (Principal, error) {
	if retry, ok := o.d.Limiter.Check(addr); !ok {
		o.d.OnAuthFailure("rate_limited")
		return Principal{}, rateLimited(retry)
	}
	p, reason, err := o.authenticate(ctx, bearer, addr)
	if err != nil {
		return Principal{}, err
	}
	if reason == "" {
		return p, nil
	}
	o.d.Limiter.Fail(addr)
	o.d.OnAuthFailure(reason)
	if err := o.d.Store.Tx(ctx, func(tx store.Tx) error {
		_, err := o.d.Journal.Append(ctx, tx, audit.Entry{Actor: "anonymous", Action: "auth.fail", Object: p.TokenID,
			Details: map[string]string{"reason": reason, "client": addr.String()}})
		return err
	}); err != nil {
		return Principal{}, err
	}
	return Principal{}, refuse(KindUnauthenticated, "unauthenticated", "a valid API token is required")
}

// authenticate returns the principal, or the reason it failed (and the
// token's ID when the token is known), or an internal error.
func (o *Operators) authenticate(ctx context.Context, bearer string, addr netip.Addr) (Principal, string, error) {
	tok, err := code.ParseToken(bearer)
	if err != nil {
		return Principal{}, "malformed", nil
	}
	var t store.APIToken
	var op store.Operator
	err = o.d.Store.View(ctx, func(r store.Reader) error {
		var err error
		if t, err = r.APITokenByHash(ctx, tok.Sum()); err != nil {
			return err
		}
		op, err = r.Operator(ctx, t.OperatorID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, "unknown", nil
	}
	if err != nil {
		return Principal{}, "", err
	}
	p := Principal{Operator: op, TokenID: t.ID}
	now := o.d.Now()
	switch {
	case !tok.Equal(t.Hash):
		return p, "unknown", nil
	case !t.RevokedAt.IsZero():
		return p, "revoked", nil
	case !now.Before(t.ExpiresAt):
		return p, "expired", nil
	case !t.Usable(now, addr):
		return p, "address", nil
	case op.Disabled:
		return p, "disabled", nil
	}
	return p, "", nil
}
