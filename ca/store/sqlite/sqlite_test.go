package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlstore"
	"github.com/gostkey/gostkey/ca/store/storetest"
)

// TestStore runs the suite on the production setting.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ca.db"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestStoreModernc runs it on the other driver too: sqlstore depends on no
// driver's quirks.
func TestStoreModernc(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := open(context.Background(), moderncDriver, filepath.Join(t.TempDir(), "ca.db"), Options{Sync: SyncNormal})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"", ":memory:", "/tmp/x?mode=ro", "/tmp/a#b"} {
		if _, err := Open(ctx, bad, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{Sync: "OFF"}); err == nil || !strings.Contains(err.Error(), "FULL or NORMAL") {
		t.Errorf("Open with synchronous=OFF: %v", err)
	}
	// Reopening migrates nothing and keeps the data; the schema is at the
	// newest version.
	path := filepath.Join(t.TempDir(), "ca.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	op := store.Operator{Name: "admin", Role: store.RoleAdmin}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateOperator(ctx, &op) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(ctx, func(r store.Reader) error {
		_, err := r.OperatorByName(ctx, "admin")
		return err
	}); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	cur, newest, err := s.SchemaVersion(ctx)
	files, _ := fs.Glob(sqlstore.Migrations(), "*.sql")
	if err != nil || cur != newest || cur != int64(len(files)) {
		t.Fatalf("schema version %d of %d (%d migration files): %v", cur, newest, len(files), err)
	}
}

// A view cannot write, whatever the caller does with the driver.
func TestViewIsReadOnly(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ca.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(ctx, func(r store.Reader) error {
		tx, ok := r.(store.Tx)
		if !ok {
			return errors.New("cannot write") // what is asserted, by the type
		}
		op := store.Operator{Name: "sneaky", Role: store.RoleAdmin}
		return tx.CreateOperator(ctx, &op)
	})
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
}

// Two stores on one file stand for two processes (the server and
// `gostkey-ca audit verify`, or an operator's tool): their writers contend
// for SQLite's lock, and busy_timeout with BEGIN IMMEDIATE makes them wait
// rather than fail; the audit chain stays one chain.
func TestTwoWritersOnOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ca.db")
	var stores [2]store.Store
	for i := range stores {
		s, err := Open(ctx, path, Options{Sync: SyncNormal})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	j := audit.New(func() time.Time { return time.Unix(1e9, 0) }, nil)
	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, s := range stores {
		for range 2 {
			wg.Go(func() {
				for i := range each / 2 {
					errs <- s.Tx(ctx, func(tx store.Tx) error {
						if _, err := tx.NextCRLNumber(ctx); err != nil {
							return err
						}
						_, err := j.Append(ctx, tx, audit.Entry{Actor: "a", Action: "crl", Object: strconv.Itoa(i)})
						return err
					})
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a writer failed: %v", err)
		}
	}
	res, err := audit.Verify(ctx, stores[0], audit.VerifyOptions{})
	if err != nil || res.Records != 2*each {
		t.Fatalf("Verify = %+v, %v; want %d records", res, err, 2*each)
	}
}
