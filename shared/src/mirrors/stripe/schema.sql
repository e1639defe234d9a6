-- The Stripe mirror's tables. Every table has a single-column primary key, which
-- change capture (state::changes) needs.

-- One row per customer ever created; deleted ones stay (deleted = 1) because
-- Stripe still answers a retrieve of them and they remain valid list cursors.
-- `data` is the customer JSON exactly as returned; the other columns exist for
-- lookups and the list order (created DESC, seq DESC).
CREATE TABLE customers (
    seq     INTEGER PRIMARY KEY,
    id      TEXT    NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    email   TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    data    TEXT    NOT NULL
);
-- Serve `GET /v1/customers` (with and without `email=`) from an index scan.
CREATE INDEX customers_live ON customers (created) WHERE deleted = 0;
CREATE INDEX customers_email ON customers (email, created) WHERE deleted = 0;

-- Responses saved under an Idempotency-Key (kept 24 hours, as on Stripe).
CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY,
    endpoint    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT    NOT NULL
);
