-- Single-use proofs: the digest of each signed renewal or holder-revocation
-- request the CA accepted, kept until its freshness window has passed (after
-- that the signingTime check refuses it anyway), so a captured request
-- cannot be replayed inside the window.

-- +goose Up
CREATE TABLE used_proofs (
    digest     BYTEA PRIMARY KEY,
    used_at    BIGINT NOT NULL,
    keep_until BIGINT NOT NULL
);
CREATE INDEX used_proofs_keep_until ON used_proofs (keep_until);

-- +goose Down
DROP TABLE used_proofs;
