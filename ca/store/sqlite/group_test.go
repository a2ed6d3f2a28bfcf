package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlstore"
)

// In one group commit, a failing or panicking transaction is undone alone:
// the others commit, each caller hears its own outcome, and the panic
// surfaces in its own caller's goroutine.
func TestGroupCommitIsolation(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ca.db"), Options{Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Hold the writer so that the others queue up and run as one batch.
	release := make(chan struct{})
	holding := make(chan struct{})
	go func() {
		_ = s.Tx(ctx, func(store.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	const n = 24
	boom := errors.New("boom")
	errs := make([]error, n)
	panics := make([]any, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = s.Tx(ctx, func(tx store.Tx) error {
				o := store.Order{Identity: store.Identity{Surname: fmt.Sprint(i)}, CodeHash: hashOf(fmt.Sprint("h", i)),
					CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := tx.CreateOrder(ctx, &o); err != nil {
					return err
				}
				ids[i] = o.ID
				switch i % 4 {
				case 1:
					return boom
				case 2:
					panic(fmt.Sprint("panic ", i))
				}
				return nil
			})
		})
	}
	close(release)
	wg.Wait()
	if err := s.View(ctx, func(r store.Reader) error {
		for i := range n {
			_, err := r.Order(ctx, ids[i])
			switch i % 4 {
			case 1:
				if !errors.Is(errs[i], boom) || !errors.Is(err, store.ErrNotFound) {
					t.Errorf("tx %d returned %v and left its order: %v", i, errs[i], err)
				}
			case 2:
				if panics[i] != fmt.Sprint("panic ", i) || !errors.Is(err, store.ErrNotFound) {
					t.Errorf("tx %d: panic %v, order %v", i, panics[i], err)
				}
			default:
				if errs[i] != nil || panics[i] != nil || err != nil {
					t.Errorf("tx %d: %v, %v, order %v", i, errs[i], panics[i], err)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestGroupCommitContextAndClose(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ca.db"), Options{Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := s.Tx(cancelled, func(store.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Tx with a cancelled context: %v, ran %v", err, ran)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(store.Tx) error { return nil }); !errors.Is(err, sqlstore.ErrClosed) {
		t.Errorf("Tx after Close: %v, want ErrClosed", err)
	}
}

// A fn that ends its goroutine (t.FailNow where it must not be called)
// fails its batch instead of hanging the store or reporting success.
func TestGroupCommitGoexit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ca.db"), Options{Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err = s.Tx(ctx, func(tx store.Tx) error {
		o := store.Order{Identity: store.Identity{Surname: "x"}, CodeHash: hashOf("x"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := tx.CreateOrder(ctx, &o); err != nil {
			return err
		}
		runtime.Goexit()
		return nil
	})
	if err == nil {
		t.Fatal("a transaction that never finished reported success")
	}
	// The store goes on serving, and nothing of the abandoned one stayed.
	if err := s.Tx(ctx, func(tx store.Tx) error {
		o := store.Order{Identity: store.Identity{Surname: "y"}, CodeHash: hashOf("x"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		return tx.CreateOrder(ctx, &o)
	}); err != nil {
		t.Fatalf("after the abandoned transaction: %v", err)
	}
}
