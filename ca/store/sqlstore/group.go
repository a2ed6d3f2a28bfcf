package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/gostkey/gostkey/ca/store"
)

// Group commit, for back ends with a single writer (SQLite): concurrent Tx
// calls are run one after another inside one database transaction, each in
// its own savepoint, and committed together, so one fsync makes a whole
// batch durable instead of one fsync per call. Each fn still sees exactly
// the state the earlier ones left (the batch is a serial order), a fn that
// fails is rolled back to its savepoint without touching the others, and no
// caller hears of success before the COMMIT that makes its change durable has
// returned. If that COMMIT fails, every fn of the batch fails with it.

// ErrClosed is a Tx on a closed store.
var ErrClosed = errors.New("sqlstore: store closed")

type txRequest struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan txResult
}

type txResult struct {
	err   error
	panic any
}

type committer struct {
	queue    chan *txRequest
	maxBatch int
	quit     chan struct{}
	wg       sync.WaitGroup
	mu       sync.RWMutex // held for reading while submitting, for writing by close
	closed   bool
}

// NewGroupCommit is New with group commit of up to maxBatch transactions.
// Use it only where one connection is the only writer (w has one
// connection): the batch is one transaction on it. Each fn runs on the
// committer's goroutine; a panic in it is re-raised in its caller's.
func NewGroupCommit(w, r *sql.DB, d Dialect, maxBatch int) *Store {
	s := New(w, r, d)
	if maxBatch < 1 {
		maxBatch = 1
	}
	s.gc = &committer{queue: make(chan *txRequest), maxBatch: maxBatch, quit: make(chan struct{})}
	s.gc.wg.Add(1)
	go s.commitLoop()
	return s
}

// submit hands fn to the committer and waits for its outcome. It waits even
// when ctx ends meanwhile: once fn has run, only the COMMIT says whether its
// change exists, and the caller must not be told otherwise.
func (c *committer) submit(ctx context.Context, fn func(store.Tx) error) error {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	req := &txRequest{ctx: ctx, fn: fn, done: make(chan txResult, 1)}
	select {
	case c.queue <- req:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	res := <-req.done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.quit)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (s *Store) commitLoop() {
	c := s.gc
	defer c.wg.Done()
	for {
		var first *txRequest
		select {
		case first = <-c.queue:
		case <-c.quit:
			return
		}
		batch := []*txRequest{first}
	fill:
		for len(batch) < c.maxBatch {
			select {
			case r := <-c.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(batch []*txRequest) {
	errs := make([]error, len(batch))
	panics := make([]any, len(batch))
	var sqlTx *sql.Tx
	finished := false
	defer func() {
		if !finished {
			// A fn called runtime.Goexit (t.FailNow off the test's
			// goroutine, say): this goroutine is ending. Nothing of the
			// batch commits; tell every caller, and keep serving.
			if sqlTx != nil {
				_ = sqlTx.Rollback()
			}
			for i := range errs {
				if errs[i] == nil && panics[i] == nil {
					errs[i] = errAbandoned
				}
			}
			s.gc.wg.Add(1)
			go s.commitLoop()
		}
		for i, r := range batch {
			r.done <- txResult{err: errs[i], panic: panics[i]}
		}
	}()
	// The batch's own context is not any caller's: one caller giving up must
	// not roll back the others.
	ctx := context.Background()
	var err error
	sqlTx, err = s.w.BeginTx(ctx, nil)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("sqlstore: begin: %w", err)
		}
		finished = true
		return
	}
	t := &tx{tx: sqlTx, ph: s.d.Placeholder}
	// aborted is set when the transaction itself is lost (SQLite rolls back
	// by itself on some errors, and then no savepoint is left): from then
	// on nothing of the batch can commit and nothing more runs.
	var aborted error
	var succeeded []int
	exec := func(q string) error {
		if _, err := sqlTx.ExecContext(ctx, q); err != nil {
			aborted = fmt.Errorf("sqlstore: %s: %w", q, err)
			return aborted
		}
		return nil
	}
	for i, r := range batch {
		if aborted != nil {
			errs[i] = aborted
			continue
		}
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if err := exec("SAVEPOINT gc"); err != nil {
			errs[i] = err
			continue
		}
		res := runOne(r.fn, t)
		if res.err == nil && res.panic == nil {
			if err := exec("RELEASE SAVEPOINT gc"); err != nil {
				errs[i] = err
				continue
			}
			succeeded = append(succeeded, i)
			continue
		}
		errs[i], panics[i] = res.err, res.panic
		if exec("ROLLBACK TO SAVEPOINT gc") == nil {
			_ = exec("RELEASE SAVEPOINT gc")
		}
	}
	commitErr := aborted
	if aborted != nil {
		_ = sqlTx.Rollback()
	} else if err := sqlTx.Commit(); err != nil {
		commitErr = fmt.Errorf("sqlstore: commit: %w", err)
	}
	if commitErr != nil {
		for _, i := range succeeded {
			errs[i] = commitErr
		}
	}
	finished = true
}

// errAbandoned is what the callers of a batch hear when one of its fns ended
// the committing goroutine.
var errAbandoned = errors.New("sqlstore: transaction abandoned: a transaction in its batch called runtime.Goexit")

func runOne(fn func(store.Tx) error, t *tx) (res txResult) {
	defer func() {
		if p := recover(); p != nil {
			res = txResult{panic: p}
		}
	}()
	return txResult{err: fn(t)}
}
