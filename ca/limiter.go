package ca

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter counts failures per client address and refuses a client that
// had Max failures within Per, until Per has passed since the first of
// them (a fixed window per client). IPv6 clients are counted per /64, the
// smallest block a host is normally given, so cycling addresses inside one
// network does not reset the count. It is in memory: replicas count
// separately, and a restart forgets.
type Limiter struct {
	max int
	per time.Duration
	now func() time.Time

	mu sync.Mutex
	w  map[netip.Addr]*window
}

type window struct {
	start time.Time
	n     int
}

// maxTracked bounds the table; beyond it, windows that have run out are
// dropped before a new client is added.
const maxTracked = 100_000

// NewLimiter allows max failures per client within per.
func NewLimiter(max int, per time.Duration, now func() time.Time) *Limiter {
	return &Limiter{max: max, per: per, now: now, w: make(map[netip.Addr]*window)}
}

func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// Check reports whether a's next attempt may go ahead, and if not, how
// long until it may.
func (l *Limiter) Check(a netip.Addr) (retryAfter time.Duration, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.w[clientKey(a)]
	if w == nil || now.Sub(w.start) >= l.per || w.n < l.max {
		return 0, true
	}
	retry := w.start.Add(l.per).Sub(now)
	if retry < time.Second {
		retry = time.Second
	}
	return retry, false
}

// Fail counts one failure of a.
func (l *Limiter) Fail(a netip.Addr) {
	now := l.now()
	k := clientKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.w[k]
	if w == nil || now.Sub(w.start) >= l.per {
		if w == nil && len(l.w) >= maxTracked {
			for key, old := range l.w {
				if now.Sub(old.start) >= l.per {
					delete(l.w, key)
				}
			}
		}
		l.w[k] = &window{start: now, n: 1}
		return
	}
	w.n++
}

// refusal is the rate-limited error for a client.
func rateLimited(retry time.Duration) *Error {
	e := refuse(KindRateLimited, "rate_limited", "too many failed attempts from this address; try again later")
	e.RetryAfter = retry
	return e
}
