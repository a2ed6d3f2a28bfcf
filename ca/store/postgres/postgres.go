// Package postgres opens the CA's store on PostgreSQL: the same sqlstore
// code and migrations as SQLite, with PostgreSQL's placeholders and its
// retryable errors. It is the seam issue 10 builds on (replicas, standbys,
// advisory-locked background jobs); today it proves the schema and the
// queries portable by running the store suite.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/gostkey/gostkey/ca/store/sqlstore"
)

// Dialect is PostgreSQL's sqlstore dialect.
var Dialect = sqlstore.Dialect{
	Goose:       goose.DialectPostgres,
	Placeholder: sqlstore.DollarPlaceholder,
	Retryable: func(err error) bool {
		var pe *pgconn.PgError
		// serialization_failure and deadlock_detected: the transaction
		// did nothing and may run again.
		return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
	},
}

// Open connects to dsn (a libpq connection string or URL), migrates the schema
// and returns the store.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	if err := sqlstore.Migrate(ctx, db, Dialect); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return sqlstore.New(db, db, Dialect), nil
}
