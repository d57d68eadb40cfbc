-- Webhook endpoints (issue 11): the merchant's URLs that receive signed
-- events. secret and previous_secret are sealed (AES-256-GCM under a key
-- derived from the token key, bound to the row and column), never in the
-- clear. event_types is a JSON array of event types; [] means every type.

-- +goose Up
CREATE TABLE webhook_endpoints (
	id                         TEXT PRIMARY KEY,
	url                        TEXT NOT NULL,
	description                TEXT NOT NULL,
	event_types                TEXT NOT NULL,
	enabled                    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	secret                     TEXT NOT NULL,
	previous_secret            TEXT,
	previous_secret_expires_at TEXT,
	failing_since              TEXT,
	disabled_reason            TEXT NOT NULL,
	idempotency_key            TEXT UNIQUE,
	request_hash               TEXT NOT NULL,
	created_at                 TEXT NOT NULL,
	updated_at                 TEXT NOT NULL,
	version                    INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_created_at ON webhook_endpoints (created_at, id);

-- +goose Down
DROP TABLE webhook_endpoints;
