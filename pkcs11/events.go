package pkcs11

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// EventType says what happened in a slot.
type EventType int

const (
	TokenInserted EventType = iota + 1
	TokenRemoved
)

func (e EventType) String() string {
	switch e {
	case TokenInserted:
		return "inserted"
	case TokenRemoved:
		return "removed"
	}
	return fmt.Sprintf("EventType(%d)", int(e))
}

// Event is a token arriving in or leaving a slot. For an insertion,
// Module.Token(SlotID) gives the *Token.
type Event struct {
	Type   EventType
	Module *Module
	SlotID uint
	// Token is the token inserted, or for a removal the token last seen
	// in the slot.
	Token TokenInfo
}

// Watch reports tokens inserted and removed until ctx is done or the
// module is closed; then the channel is closed. It starts with a
// TokenInserted event for each token already present, so a consumer needs
// no separate listing. Changes are found by rescanning the slots each
// Options.PollInterval and, on modules whose C_WaitForSlotEvent works, as
// soon as the module reports an event. A token swapped for another
// between two scans shows as a removal and an insertion. The consumer
// must keep reading: a pending event blocks the scan.
func (m *Module) Watch(ctx context.Context) <-chan Event {
	out := make(chan Event)
	go m.watch(ctx, out)
	return out
}

func (m *Module) watch(ctx context.Context, out chan<- Event) {
	defer close(out)
	var wake <-chan struct{}
	if m.lib.waiter != nil {
		var unsubscribe func()
		wake, unsubscribe = m.lib.waiter.subscribe()
		defer unsubscribe()
	}
	tick := time.NewTicker(m.opts.PollInterval)
	defer tick.Stop()
	prev := map[uint]TokenInfo{}
	for {
		cur, err := m.scan()
		if err == ErrClosed {
			return
		}
		if err == nil {
			for _, ev := range diffSlots(m, prev, cur) {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				case <-m.done:
					return
				}
			}
			prev = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-m.done:
			return
		case <-tick.C:
		case _, ok := <-wake:
			if !ok {
				wake = nil // the module stopped waiting: poll only
			}
		}
	}
}

// scan reads which tokens are present, slot by slot. Tokens seen gone or
// swapped lose their pooled sessions.
func (m *Module) scan() (map[uint]TokenInfo, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	ids, err := m.lib.ctx.GetSlotList(true)
	if err != nil {
		return nil, callError("C_GetSlotList", "", err, false)
	}
	cur := make(map[uint]TokenInfo, len(ids))
	for _, id := range ids {
		ti, err := m.lib.ctx.GetTokenInfo(id)
		if err != nil {
			continue // gone between the two calls
		}
		cur[id] = tokenInfo(id, ti)
	}
	m.mu.Lock()
	for id, t := range m.tokens {
		if info, ok := cur[id]; !ok || !t.sameToken(info) {
			t.pool.invalidate()
		}
	}
	m.mu.Unlock()
	return cur, nil
}

func diffSlots(m *Module, prev, cur map[uint]TokenInfo) []Event {
	var evs []Event
	for id, old := range prev {
		if now, ok := cur[id]; !ok || !sameIdentity(old, now) {
			evs = append(evs, Event{Type: TokenRemoved, Module: m, SlotID: id, Token: old})
		}
	}
	for id, now := range cur {
		if old, ok := prev[id]; !ok || !sameIdentity(old, now) {
			evs = append(evs, Event{Type: TokenInserted, Module: m, SlotID: id, Token: now})
		}
	}
	sortEvents(evs)
	return evs
}

func sameIdentity(a, b TokenInfo) bool {
	return a.Serial == b.Serial && a.Manufacturer == b.Manufacturer && a.Model == b.Model && a.Label == b.Label
}

// sortEvents orders removals before insertions, each by slot, so that
// consumers (and tests) see a stable order.
func sortEvents(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int {
		if a.Type != b.Type {
			return int(b.Type) - int(a.Type)
		}
		return cmp.Compare(a.SlotID, b.SlotID)
	})
}

// Watch merges the events of every module into one channel, closed when
// ctx is done or every module's watch has ended.
func (ms Modules) Watch(ctx context.Context) <-chan Event {
	out := make(chan Event)
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func(in <-chan Event) {
			defer wg.Done()
			for ev := range in {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}(m.Watch(ctx))
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}
