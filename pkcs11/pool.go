package pkcs11

import (
	"context"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// pool holds a token's sessions. An operation borrows one (get) and gives
// it back (put); at most max are open at once, and further operations wait
// for one or for their context. Idle sessions stay open: PKCS#11 keeps a
// login only while the application has a session on the token.
type pool struct {
	t   *Token
	sem chan struct{} // one slot per session that may be open

	mu     sync.Mutex
	idle   []p11.SessionHandle
	gen    uint64 // bumped by invalidate; sessions of older generations are dead
	closed error  // non-nil once closed: what get answers from then on
}

type session struct {
	h      p11.SessionHandle
	gen    uint64
	reused bool // taken from the idle list rather than opened for this use
}

func newPool(t *Token, max int) *pool {
	return &pool{t: t, sem: make(chan struct{}, max)}
}

func (p *pool) get(ctx context.Context) (session, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return session{}, ctx.Err()
	}
	p.mu.Lock()
	if err := p.closed; err != nil {
		p.mu.Unlock()
		<-p.sem
		return session{}, err
	}
	if n := len(p.idle); n > 0 {
		h := p.idle[n-1]
		p.idle = p.idle[:n-1]
		s := session{h: h, gen: p.gen, reused: true}
		p.mu.Unlock()
		return s, nil
	}
	gen := p.gen
	p.mu.Unlock()
	s, err := p.open(gen)
	if err != nil {
		<-p.sem
	}
	return s, err
}

// open opens a new session after checking that the slot still holds the
// token this pool belongs to.
func (p *pool) open(gen uint64) (session, error) {
	if _, err := p.t.Refresh(); err != nil {
		return session{}, err
	}
	ctx := p.t.mod.lib.ctx
	h, err := ctx.OpenSession(p.t.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return session{}, callError("C_OpenSession", p.t.label(), err, false)
	}
	return session{h: h, gen: gen}, nil
}

func (p *pool) put(s session) {
	p.mu.Lock()
	keep := p.closed == nil && s.gen == p.gen
	if keep {
		p.idle = append(p.idle, s.h)
	}
	p.mu.Unlock()
	if !keep {
		_ = p.t.mod.lib.ctx.CloseSession(s.h)
	}
	<-p.sem
}

// invalidate forgets every session, after the token was removed (its
// sessions died with it) or before C_InitToken. Borrowed sessions are
// closed when they are given back.
func (p *pool) invalidate() {
	// Object handles do not outlive the token's presence.
	p.t.forgetHandles()
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.gen++
	p.mu.Unlock()
	for _, h := range idle {
		_ = p.t.mod.lib.ctx.CloseSession(h)
	}
}

// close closes the idle sessions and refuses new ones with err: ErrClosed
// when the module closes, a token-not-present error when the slot now
// holds another token.
func (p *pool) close(err error) {
	p.mu.Lock()
	p.closed = err
	p.mu.Unlock()
	p.invalidate()
}
