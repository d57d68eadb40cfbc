-- Times are TEXT in UTC, fixed width with microseconds (2006-01-02T15:04:05.000000Z),
-- so that text order is time order. Secrets are sealed by the store (AES-GCM).

-- +goose Up
CREATE TABLE authorizations (
	id              TEXT PRIMARY KEY,
	customer_id     TEXT NOT NULL,
	wallet          TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('PENDING', 'AUTHORIZED', 'ACTIVE', 'FAILED', 'EXPIRED')),
	auth_state      TEXT NOT NULL UNIQUE,
	qr_text         TEXT NOT NULL,
	qr_image_url    TEXT NOT NULL,
	auth_code       TEXT,
	token_id        TEXT,
	failure_code    TEXT NOT NULL,
	failure_message TEXT NOT NULL,
	expires_at      TEXT NOT NULL,
	authorized_at   TEXT,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL,
	version         INTEGER NOT NULL
) STRICT;
CREATE INDEX authorizations_created_at ON authorizations (created_at, id);
CREATE INDEX authorizations_customer_id ON authorizations (customer_id, created_at);
CREATE INDEX authorizations_pending_expiry ON authorizations (expires_at) WHERE status IN ('PENDING', 'AUTHORIZED');

CREATE TABLE tokens (
	id                       TEXT PRIMARY KEY,
	customer_id              TEXT NOT NULL,
	wallet                   TEXT NOT NULL,
	authorization_id         TEXT NOT NULL REFERENCES authorizations (id),
	status                   TEXT NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED', 'EXPIRED')),
	access_token             TEXT NOT NULL,
	access_token_hash        TEXT NOT NULL UNIQUE,
	refresh_token            TEXT,
	access_token_expires_at  TEXT,
	refresh_token_expires_at TEXT,
	user_login_id            TEXT NOT NULL,
	revoke_reason            TEXT NOT NULL,
	revoke_pending           INTEGER NOT NULL CHECK (revoke_pending IN (0, 1)),
	created_at               TEXT NOT NULL,
	updated_at               TEXT NOT NULL,
	revoked_at               TEXT,
	version                  INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_created_at ON tokens (created_at, id);
CREATE INDEX tokens_customer_id ON tokens (customer_id, created_at);
CREATE INDEX tokens_authorization_id ON tokens (authorization_id);

CREATE TABLE charges (
	id                 TEXT PRIMARY KEY,
	token_id           TEXT NOT NULL REFERENCES tokens (id),
	customer_id        TEXT NOT NULL,
	wallet             TEXT NOT NULL,
	currency           TEXT NOT NULL,
	amount             INTEGER NOT NULL CHECK (amount > 0),
	description        TEXT NOT NULL,
	status             TEXT NOT NULL CHECK (status IN ('INIT', 'SUCCESS', 'FAIL', 'CANCELLED')),
	payment_request_id TEXT NOT NULL UNIQUE,
	payment_id         TEXT NOT NULL,
	result_code        TEXT NOT NULL,
	result_message     TEXT NOT NULL,
	idempotency_key    TEXT UNIQUE,
	request_hash       TEXT NOT NULL,
	expires_at         TEXT,
	next_inquiry_at    TEXT,
	inquiry_count      INTEGER NOT NULL,
	cancel_requested_at TEXT,
	settled_by         TEXT NOT NULL CHECK (settled_by IN ('', 'pay', 'notification', 'inquiry', 'cancel')),
	refunded_value     INTEGER NOT NULL CHECK (refunded_value >= 0 AND refunded_value <= amount),
	created_at         TEXT NOT NULL,
	updated_at         TEXT NOT NULL,
	settled_at         TEXT,
	version            INTEGER NOT NULL
) STRICT;
CREATE INDEX charges_created_at ON charges (created_at, id);
CREATE INDEX charges_customer_id ON charges (customer_id, created_at);
CREATE INDEX charges_token_id ON charges (token_id, created_at);
CREATE INDEX charges_open ON charges (next_inquiry_at) WHERE status = 'INIT';

CREATE TABLE refunds (
	id                TEXT PRIMARY KEY,
	charge_id         TEXT NOT NULL REFERENCES charges (id),
	currency          TEXT NOT NULL,
	amount            INTEGER NOT NULL CHECK (amount > 0),
	reason            TEXT NOT NULL,
	status            TEXT NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'FAIL')),
	refund_request_id TEXT NOT NULL UNIQUE,
	refund_id         TEXT NOT NULL,
	result_code       TEXT NOT NULL,
	result_message    TEXT NOT NULL,
	idempotency_key   TEXT,
	request_hash      TEXT NOT NULL,
	created_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL,
	settled_at        TEXT,
	version           INTEGER NOT NULL,
	UNIQUE (charge_id, idempotency_key)
) STRICT;
CREATE INDEX refunds_created_at ON refunds (created_at, id);
CREATE INDEX refunds_processing ON refunds (created_at) WHERE status = 'PROCESSING';

CREATE TABLE events (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	id            TEXT NOT NULL UNIQUE,
	object_id     TEXT NOT NULL,
	kind          TEXT NOT NULL,
	direction     TEXT NOT NULL CHECK (direction IN ('', 'in', 'out')),
	request       TEXT NOT NULL,
	response      TEXT NOT NULL,
	result_status TEXT NOT NULL,
	result_code   TEXT NOT NULL,
	error         TEXT NOT NULL,
	duration_ms   INTEGER NOT NULL,
	created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX events_object_id ON events (object_id, seq);

CREATE TABLE notifications (
	dedup_key   TEXT PRIMARY KEY,
	type        TEXT NOT NULL,
	object_id   TEXT NOT NULL,
	body        TEXT NOT NULL,
	sent_at     TEXT,
	received_at TEXT NOT NULL
) STRICT;
CREATE INDEX notifications_received_at ON notifications (received_at);

-- A final status never changes, whatever writes the row.
-- +goose StatementBegin
CREATE TRIGGER authorizations_final_status BEFORE UPDATE OF status ON authorizations
WHEN OLD.status IN ('ACTIVE', 'FAILED', 'EXPIRED') AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'authorization status is final'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tokens_final_status BEFORE UPDATE OF status ON tokens
WHEN OLD.status IN ('REVOKED', 'EXPIRED') AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'token status is final'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER charges_final_status BEFORE UPDATE OF status ON charges
WHEN OLD.status IN ('SUCCESS', 'FAIL', 'CANCELLED') AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'charge status is final'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER refunds_final_status BEFORE UPDATE OF status ON refunds
WHEN OLD.status IN ('SUCCESS', 'FAIL') AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'refund status is final'); END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE notifications;
DROP TABLE events;
DROP TABLE refunds;
DROP TABLE charges;
DROP TABLE tokens;
DROP TABLE authorizations;
