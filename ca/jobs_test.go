package ca_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/internal/catest"
	"github.com/gostkey/gostkey/ca/store"
)

// Two replicas sharing one store: each job runs in one of them per period
// (the lease holder's), the other takes over once the holder stops
// renewing, and Run gives the leases up when it ends. The expired-order
// sweep makes the expiry durable and audits it.
func TestJobsLeases(t *testing.T) {
	c := catest.New(t)
	ctx := context.Background()
	reg, err := c.Registrar.Register(ctx, "op1", catest.Identity())
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	counted := func(name string, run func(context.Context) (int, error)) ca.Job {
		return ca.Job{Name: name, Run: func(ctx context.Context) (int, error) { runs[name]++; return run(ctx) }}
	}
	jobs := []ca.Job{
		counted("expire-orders", c.Registrar.ExpireOrders),
		counted("revoke-superseded", c.Revocation.RevokeDueSuperseded),
		counted("prune-proofs", ca.PruneProofsJob(c.Store, c.Clock.Now).Run),
	}
	ticks, waiting := make(chan time.Time), make(chan struct{}, 1)
	replica := func(holder string) *ca.Jobs {
		js, err := ca.NewJobs(time.Minute, ca.JobsDeps{Store: c.Store, Now: c.Clock.Now, Holder: holder,
			After: func(time.Duration) <-chan time.Time { waiting <- struct{}{}; return ticks }}, jobs...)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	a, b := replica("a"), replica("b")

	c.Clock.Add(16 * time.Minute) // past the code's 15 minutes
	if n := a.Tick(ctx); n != 3 {
		t.Fatalf("replica a ran %d jobs; want 3", n)
	}
	if n := b.Tick(ctx); n != 0 {
		t.Fatalf("replica b ran %d jobs while a holds the leases; want 0", n)
	}
	if runs["expire-orders"] != 1 || runs["revoke-superseded"] != 1 || runs["prune-proofs"] != 1 {
		t.Fatalf("runs %v; want each job once", runs)
	}
	var o store.Order
	var recs []store.AuditRecord
	_ = c.Store.View(ctx, func(r store.Reader) error {
		o, _ = r.Order(ctx, reg.Order.ID)
		recs, _ = r.AuditRecords(ctx, 1, 100)
		return nil
	})
	if o.Status != store.OrderExpired {
		t.Errorf("order after the sweep: %s; want expired", o.Status)
	}
	last := recs[len(recs)-1]
	var det struct{ Count int }
	if err := json.Unmarshal(last.Details, &det); err != nil || last.Action != "order.expire" || last.Actor != "system" || det.Count != 1 {
		t.Errorf("last audit record: %s by %s %s", last.Action, last.Actor, last.Details)
	}
	// A second sweep finds nothing and writes nothing.
	c.Clock.Add(time.Minute)
	if n, err := c.Registrar.ExpireOrders(ctx); n != 0 || err != nil {
		t.Errorf("second sweep: %d, %v", n, err)
	}

	// a renews at each tick; it stops, and after two periods b takes over.
	a.Tick(ctx)
	c.Clock.Add(2 * time.Minute)
	if n := b.Tick(ctx); n != 3 {
		t.Fatalf("replica b ran %d jobs after a stopped; want 3", n)
	}
	if n := a.Tick(ctx); n != 0 {
		t.Fatalf("replica a ran %d jobs while b holds the leases; want 0", n)
	}

	// Run ticks at once, on each tick of the clock, and releases at the end.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	before := runs["prune-proofs"]
	go func() { done <- b.Run(runCtx) }()
	<-waiting // the first Tick is over when Run waits
	if got := runs["prune-proofs"] - before; got != 1 {
		t.Errorf("Run's first tick ran prune-proofs %d times; want 1", got)
	}
	ticks <- time.Time{}
	<-waiting
	if got := runs["prune-proofs"] - before; got != 2 {
		t.Errorf("after one tick of the clock, prune-proofs ran %d times; want 2", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := a.Tick(ctx); n != 3 {
		t.Errorf("replica a ran %d jobs after b's Run ended; want 3 (leases released)", n)
	}
}
