-- Leases for background jobs (scheduled CRLs, superseded revocations,
-- expired-code cleanup): whoever holds a job's unexpired lease runs it, so
-- several replicas on one database run each job once, and a dead holder's
-- lease simply runs out. Plain rows, not PostgreSQL advisory locks, so SQLite
-- runs the same code.

-- +goose Up
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
