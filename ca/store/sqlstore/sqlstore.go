// Package sqlstore implements store.Store on database/sql, once for every SQL
// back end: the queries are portable SQL (UPDATE … RETURNING, INSERT … ON
// CONFLICT DO NOTHING, both in SQLite ≥ 3.35 and PostgreSQL ≥ 9.5) and a
// Dialect supplies the little that differs (placeholders, which errors mean
// "try the transaction again", the goose dialect). ca/store/sqlite opens a
// SQLite database for it; the PostgreSQL store of issue 10 is another Dialect
// and a pgx pool.
//
// Conflicts are detected by row counts, never by parsing driver errors: an
// INSERT … ON CONFLICT DO NOTHING that inserts nothing, or a conditional
// UPDATE that matches nothing. That also keeps PostgreSQL transactions usable
// afterwards (a failed statement there aborts the whole transaction).
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/gostkey/gostkey/ca/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the schema migrations, one set for every dialect.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory exists at build time
	}
	return sub
}

// Dialect is what differs between SQL back ends.
type Dialect struct {
	// Goose names the dialect for the migration runner.
	Goose goose.Dialect
	// Placeholder returns the n-th (1-based) bind parameter: "?" or "$n".
	Placeholder func(n int) string
	// Retryable reports errors after which the whole transaction may be run
	// again: SQLite's BUSY after busy_timeout, PostgreSQL's serialization
	// failures and deadlocks.
	Retryable func(error) bool
}

// Migrate brings the schema of db up to date.
func Migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	p, err := goose.NewProvider(d.Goose, db, Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrating: %w", err)
	}
	return nil
}

// SchemaVersion returns the database's schema version and the newest one
// this build knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, newest int64, err error) {
	p, err := goose.NewProvider(s.d.Goose, s.w, Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p.GetVersions(ctx)
}

// Store is a store.Store over two pools: writes go to w, views to r (they may
// be the same pool, or r a read-only replica).
type Store struct {
	w, r    *sql.DB
	d       Dialect
	retries int
	gc      *committer // nil: one database transaction per Tx
}

var _ store.Store = (*Store)(nil)

// New returns a Store on pools whose schema is up to date (see Migrate). The
// Store closes both pools on Close.
func New(w, r *sql.DB, d Dialect) *Store {
	return &Store{w: w, r: r, d: d, retries: 5}
}

// Tx runs fn in a read-write transaction. A retryable back-end error (from
// fn's statements or from COMMIT) runs fn again, a few times.
func (s *Store) Tx(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if s.gc != nil {
			err = s.gc.submit(ctx, fn)
		} else {
			err = s.runTx(ctx, s.w, false, func(t *tx) error { return fn(t) })
		}
		if err == nil || attempt >= s.retries || !s.d.Retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.runTx(ctx, s.r, true, func(t *tx) error { return fn(t) })
}

func (s *Store) runTx(ctx context.Context, db *sql.DB, readOnly bool, fn func(*tx) error) (err error) {
	sqlTx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	t := &tx{tx: sqlTx, ph: s.d.Placeholder}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// Close stops the group committer, if any, and closes the pools.
func (s *Store) Close() error {
	if s.gc != nil {
		s.gc.close()
	}
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// newID returns a random 128-bit identifier in hex.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sqlstore: id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// rebind rewrites the ? placeholders of a query for the dialect. Queries
// here never contain a literal '?'.
func rebind(query string, ph func(int) string) string {
	if ph(1) == "?" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(ph(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DollarPlaceholder is PostgreSQL's placeholder style.
func DollarPlaceholder(n int) string { return "$" + strconv.Itoa(n) }

// QuestionPlaceholder is SQLite's.
func QuestionPlaceholder(int) string { return "?" }
