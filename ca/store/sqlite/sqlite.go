// Package sqlite opens the CA's SQLite database: the embedded default store.
//
// Concurrency: one process owns the database for writing. Writes go through a
// pool of exactly one connection whose transactions begin IMMEDIATE, so
// writers queue in Go for that connection instead of racing for SQLite's
// lock and failing with SQLITE_BUSY, and a write transaction never has to
// upgrade a read lock (the source of BUSY errors that busy_timeout cannot
// cure). Reads go through a separate pool of query-only connections, which WAL
// lets run beside the writer on a consistent snapshot. busy_timeout covers
// other processes (`gostkey-ca audit verify` beside a running server).
//
// Group commit: the writer runs concurrent transactions one after another,
// each in a savepoint of one SQLite transaction, and commits them with one
// fsync (sqlstore.NewGroupCommit). Each caller returns after that commit.
//
// Durability: WAL with synchronous=FULL, an fsync of the WAL on every commit.
// With synchronous=NORMAL a commit survives the process being killed but the
// last transactions can roll back on power loss or an OS crash, which for a CA
// means a certificate handed out and then forgotten: no revocation, OCSP says
// unknown. The issue asks for every issuance durable, so FULL is the default;
// NORMAL is available for tests and benchmarks and says so.
//
// The driver is mattn/go-sqlite3 (cgo), chosen by measuring against
// modernc.org/sqlite; see README.md beside this file for the numbers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca/store/sqlstore"
)

// Sync is SQLite's synchronous setting in WAL mode.
type Sync string

const (
	// SyncFull fsyncs the WAL on every commit: durable across power loss.
	SyncFull Sync = "FULL"
	// SyncNormal fsyncs only at checkpoints: survives a killed process, not
	// a power cut. Not for production CAs.
	SyncNormal Sync = "NORMAL"
)

// Options tune Open; the zero value is the production setting.
type Options struct {
	Sync        Sync          // default SyncFull
	BusyTimeout time.Duration // wait for other processes' locks; default 10s
	ReadConns   int           // size of the read pool; default 4
	// MaxBatch is how many concurrent transactions one commit (one fsync)
	// may carry; default 64; 1 commits each on its own.
	MaxBatch int
}

func (o Options) withDefaults() (Options, error) {
	if o.Sync == "" {
		o.Sync = SyncFull
	}
	if o.Sync != SyncFull && o.Sync != SyncNormal {
		return o, fmt.Errorf("sqlite: synchronous %q: want FULL or NORMAL", o.Sync)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	return o, nil
}

// driver is what differs between SQLite drivers.
type driver struct {
	name string
	dsn  func(path string, o Options, readOnly bool) string
	code func(error) (int, bool) // the primary SQLite result code of an error
}

// Dialect is SQLite's sqlstore dialect for driver d.
func (d driver) dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Goose:       "sqlite3",
		Placeholder: sqlstore.QuestionPlaceholder,
		Retryable: func(err error) bool {
			c, ok := d.code(err)
			return ok && (c == sqliteBusy || c == sqliteLocked)
		},
	}
}

const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// Open opens (creating if needed) the database at path, migrates its schema
// and returns the store.
func Open(ctx context.Context, path string, o Options) (*sqlstore.Store, error) {
	return open(ctx, defaultDriver, path, o)
}

func open(ctx context.Context, d driver, path string, o Options) (*sqlstore.Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		// An in-memory database would be a different one per connection,
		// and ? or # would end the file name inside the DSN.
		return nil, fmt.Errorf("sqlite: unusable database path %q", path)
	}
	w, err := sql.Open(d.name, d.dsn(path, o, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := sqlstore.Migrate(ctx, w, d.dialect()); err != nil {
		_ = w.Close()
		return nil, err
	}
	r, err := sql.Open(d.name, d.dsn(path, o, true))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)
	if err := r.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: %w", err), w.Close(), r.Close())
	}
	if o.MaxBatch == 1 {
		return sqlstore.New(w, r, d.dialect()), nil
	}
	return sqlstore.NewGroupCommit(w, r, d.dialect(), o.MaxBatch), nil
}
