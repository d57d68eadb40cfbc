-- Webhook deliveries (issue 11): one row per (event, endpoint), created in
-- the event's transaction, and one row per attempt, claimed before the POST
-- (finished_at NULL) and recorded after it. response is the start of the
-- receiver's body, at most 1 KiB. Deleting an event (retention) or an
-- endpoint deletes its deliveries.

-- +goose Up
CREATE TABLE deliveries (
	id               text PRIMARY KEY,
	event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts         integer NOT NULL CHECK (attempts >= 0),
	next_attempt_at  timestamptz,
	last_status_code integer NOT NULL,
	last_error       text NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	delivered_at     timestamptz,
	version          bigint NOT NULL,
	UNIQUE (event_id, endpoint_id)
);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
	delivery_id text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	attempt     integer NOT NULL CHECK (attempt > 0),
	started_at  timestamptz NOT NULL,
	finished_at timestamptz,
	duration_ms integer NOT NULL,
	status_code integer NOT NULL,
	error       text NOT NULL,
	response    text NOT NULL,
	PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
