package ca

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gostkey/gostkey/ca/store"
)

// Job is a background task run on a schedule: it does what is due at the
// time and returns how many things it changed.
type Job struct {
	// Name names the job's lease ("job." + Name) and its log lines.
	Name string
	Run  func(ctx context.Context) (int, error)
}

// DefaultJobsEvery is how often Jobs runs each job.
const DefaultJobsEvery = time.Minute

// JobsDeps are what Jobs works with.
type JobsDeps struct {
	// Store holds the leases: among processes sharing it, one runs each
	// job per period.
	Store store.Store
	// Now and After are the clock (default time.Now, time.After).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Holder names this process in the leases; default a random ID.
	Holder string
	Log    *slog.Logger
}

// Jobs runs background jobs every period, each under its store lease, so
// that several replicas of the CA run each job once: the holder renews
// its lease at every run, and another process takes over when the holder
// has not renewed for two periods.
type Jobs struct {
	every time.Duration
	d     JobsDeps
	jobs  []Job
}

// NewJobs makes a runner of jobs every period (DefaultJobsEvery when 0).
func NewJobs(every time.Duration, deps JobsDeps, jobs ...Job) (*Jobs, error) {
	if every == 0 {
		every = DefaultJobsEvery
	}
	if every < 0 || deps.Store == nil {
		return nil, errors.New("ca: jobs need a positive period and a store")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.After == nil {
		deps.After = time.After
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Holder == "" {
		id := make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return nil, fmt.Errorf("ca: lease holder ID: %w", err)
		}
		deps.Holder = "jobs-" + hex.EncodeToString(id)
	}
	for _, j := range jobs {
		if j.Name == "" || j.Run == nil {
			return nil, errors.New("ca: a job needs a name and a function")
		}
	}
	return &Jobs{every: every, d: deps, jobs: jobs}, nil
}

func leaseName(j Job) string { return "job." + j.Name }

// Tick runs once each job whose lease this process holds or takes now,
// and returns how many it ran. A job's failure is logged; the others run.
func (js *Jobs) Tick(ctx context.Context) int {
	ran := 0
	for _, j := range js.jobs {
		var held bool
		err := js.d.Store.Tx(ctx, func(tx store.Tx) error {
			var err error
			held, err = tx.AcquireLease(ctx, leaseName(j), js.d.Holder, js.d.Now(), 2*js.every)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				js.d.Log.ErrorContext(ctx, "background job lease", "job", j.Name, "error", err)
			}
			continue
		}
		if !held {
			continue
		}
		ran++
		n, err := j.Run(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			js.d.Log.ErrorContext(ctx, "background job failed", "job", j.Name, "error", err)
		case n > 0:
			js.d.Log.InfoContext(ctx, "background job", "job", j.Name, "count", n)
		}
	}
	return ran
}

// Run ticks at once and then every period until ctx ends; then it gives
// up its leases, so that another replica takes over at its next tick, and
// returns nil.
func (js *Jobs) Run(ctx context.Context) error {
	defer js.release(ctx)
	for {
		js.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-js.d.After(js.every):
		}
	}
}

func (js *Jobs) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, j := range js.jobs {
		if err := js.d.Store.Tx(ctx, func(tx store.Tx) error { return tx.ReleaseLease(ctx, leaseName(j), js.d.Holder) }); err != nil {
			js.d.Log.ErrorContext(ctx, "releasing a background job lease", "job", j.Name, "error", err)
		}
	}
}

// PruneProofsJob forgets the spent renewal and revocation proofs past
// their keep time (a proof older than that is refused as stale anyway).
func PruneProofsJob(st store.Store, now func() time.Time) Job {
	return Job{Name: "prune-proofs", Run: func(ctx context.Context) (int, error) {
		var n int
		err := st.Tx(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneProofs(ctx, now())
			return err
		})
		return n, err
	}}
}
