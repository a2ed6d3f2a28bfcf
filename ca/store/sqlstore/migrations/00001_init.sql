-- The CA's schema, written once for SQLite and PostgreSQL:
--  * times are BIGINT microseconds since the Unix epoch, UTC (PostgreSQL's
--    precision; no driver-specific time parsing), NULL where "not yet";
--  * binary values are BYTEA: PostgreSQL's type, and in SQLite a declared type
--    with NUMERIC affinity, which stores BLOBs unchanged;
--  * audit details are BYTEA, not JSON/JSONB, because the hash chain covers
--    their exact bytes;
--  * no SERIAL/AUTOINCREMENT (they differ): IDs are random text made by the
--    store, and the two monotonic numbers (audit seq, CRL number) come from
--    rows updated under the row lock of the writing transaction.

-- +goose Up
CREATE TABLE operators (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'registrar', 'auditor')),
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators (id),
    hash          BYTEA NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    allowed_cidrs TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_tokens_operator ON api_tokens (operator_id);

CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    surname     TEXT NOT NULL,
    given_name  TEXT NOT NULL,
    patronymic  TEXT NOT NULL DEFAULT '',
    snils       TEXT NOT NULL,
    inn         TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('pending', 'redeemed', 'cancelled', 'locked', 'expired')),
    code_hash   BYTEA NOT NULL UNIQUE,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    redeemed_at BIGINT,
    closed_at   BIGINT
);
CREATE INDEX orders_status_expires ON orders (status, expires_at);
CREATE INDEX orders_snils ON orders (snils);

-- Every serial the CA ever drew, certificates or not (the OCSP responder's
-- certificate too), so none is used twice.
CREATE TABLE serials (
    serial     BYTEA PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE certificates (
    serial               BYTEA PRIMARY KEY REFERENCES serials (serial),
    order_id             TEXT REFERENCES orders (id),
    surname              TEXT NOT NULL,
    given_name           TEXT NOT NULL,
    patronymic           TEXT NOT NULL DEFAULT '',
    snils                TEXT NOT NULL,
    inn                  TEXT NOT NULL,
    email                TEXT NOT NULL DEFAULT '',
    subject_der          BYTEA NOT NULL,
    not_before           BIGINT NOT NULL,
    not_after            BIGINT NOT NULL,
    der                  BYTEA NOT NULL,
    -- A key is certified once, ever: renewal needs a new key.
    spki_hash            BYTEA NOT NULL UNIQUE,
    issued_at            BIGINT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'on-hold')),
    status_changed_at    BIGINT NOT NULL,
    revoked_at           BIGINT,
    revocation_reason    INTEGER NOT NULL DEFAULT 0,
    predecessor          BYTEA REFERENCES certificates (serial),
    successor            BYTEA REFERENCES certificates (serial),
    superseded_at        BIGINT,
    revoke_superseded_at BIGINT
);
-- Each index costs every issuance a page write, so the ones that concern few
-- rows (revoked, held, released, renewed) are partial: both SQLite and
-- PostgreSQL skip them for the common valid, unrenewed certificate.
CREATE INDEX certificates_listing ON certificates (not_before, serial);
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_snils ON certificates (snils);
CREATE INDEX certificates_inn ON certificates (inn);
CREATE INDEX certificates_surname ON certificates (surname);
CREATE INDEX certificates_revoked ON certificates (serial, not_after) WHERE status <> 'valid';
CREATE INDEX certificates_status_changed ON certificates (status_changed_at)
    WHERE status <> 'valid' OR revocation_reason = 8;
CREATE UNIQUE INDEX certificates_predecessor ON certificates (predecessor) WHERE predecessor IS NOT NULL;
CREATE UNIQUE INDEX certificates_successor ON certificates (successor) WHERE successor IS NOT NULL;
CREATE INDEX certificates_due_superseded ON certificates (revoke_superseded_at)
    WHERE successor IS NOT NULL AND status = 'valid';

CREATE TABLE revocation_codes (
    id          TEXT PRIMARY KEY,
    serial      BYTEA NOT NULL REFERENCES certificates (serial),
    code_hash   BYTEA NOT NULL UNIQUE,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'redeemed', 'cancelled', 'expired')),
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    redeemed_at BIGINT
);

CREATE TABLE crls (
    number      BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('full', 'delta')),
    base_number BIGINT NOT NULL DEFAULT 0,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der         BYTEA NOT NULL
);
CREATE INDEX crls_kind_number ON crls (kind, number);

-- Monotonic counters, taken with UPDATE … RETURNING so that concurrent
-- transactions queue on the row and commit in number order.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('crl_number', 0);

CREATE TABLE audit_records (
    seq       BIGINT PRIMARY KEY,
    time      BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    details   BYTEA NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);

-- The journal's head, one row: the last seq and hash. Appends lock it, which
-- puts concurrent writers (several replicas on PostgreSQL) in one order, and
-- it lets Verify notice a deleted last record.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, NULL);

CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    time      BIGINT NOT NULL,
    key_id    BYTEA NOT NULL,
    signature BYTEA NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_head;
DROP TABLE audit_records;
DROP TABLE counters;
DROP TABLE crls;
DROP TABLE revocation_codes;
DROP TABLE certificates;
DROP TABLE serials;
DROP TABLE orders;
DROP TABLE api_tokens;
DROP TABLE operators;
