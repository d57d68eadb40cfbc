-- Webhook endpoints (issue 11): the merchant's URLs that receive signed
-- events. secret and previous_secret are sealed (AES-256-GCM under a key
-- derived from the token key, bound to the row and column), never in the
-- clear. event_types is a JSON array of event types; [] means every type.

-- +goose Up
CREATE TABLE webhook_endpoints (
	id                         text PRIMARY KEY,
	url                        text NOT NULL,
	description                text NOT NULL,
	event_types                text NOT NULL,
	enabled                    boolean NOT NULL,
	secret                     text NOT NULL,
	previous_secret            text,
	previous_secret_expires_at timestamptz,
	failing_since              timestamptz,
	disabled_reason            text NOT NULL,
	idempotency_key            text UNIQUE,
	request_hash               text NOT NULL,
	created_at                 timestamptz NOT NULL,
	updated_at                 timestamptz NOT NULL,
	version                    bigint NOT NULL
);
CREATE INDEX webhook_endpoints_created_at ON webhook_endpoints (created_at, id);

-- +goose Down
DROP TABLE webhook_endpoints;
