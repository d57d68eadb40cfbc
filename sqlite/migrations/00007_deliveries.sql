-- Webhook deliveries (issue 11): one row per (event, endpoint), created in
-- the event's transaction, and one row per attempt, claimed before the POST
-- (finished_at NULL) and recorded after it. response is the start of the
-- receiver's body, at most 1 KiB. Deleting an event (retention) or an
-- endpoint deletes its deliveries.

-- +goose Up
CREATE TABLE deliveries (
	id               TEXT PRIMARY KEY,
	event_id         TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts         INTEGER NOT NULL CHECK (attempts >= 0),
	next_attempt_at  TEXT,
	last_status_code INTEGER NOT NULL,
	last_error       TEXT NOT NULL,
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	delivered_at     TEXT,
	version          INTEGER NOT NULL,
	UNIQUE (event_id, endpoint_id)
) STRICT;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
	delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	attempt     INTEGER NOT NULL CHECK (attempt > 0),
	started_at  TEXT NOT NULL,
	finished_at TEXT,
	duration_ms INTEGER NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	response    TEXT NOT NULL,
	PRIMARY KEY (delivery_id, attempt)
) STRICT;

-- +goose Down
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
