-- Events: what the merchant's backend is told (issue 11), written in the
-- transaction of the change they report. data is the object's API view.

-- +goose Up
CREATE TABLE events (
	id         text PRIMARY KEY,
	type       text NOT NULL,
	object_id  text NOT NULL,
	sequence   bigint NOT NULL CHECK (sequence > 0),
	data       json NOT NULL, -- json, not jsonb: kept byte for byte, as GET showed it
	created_at timestamptz NOT NULL,
	UNIQUE (object_id, sequence)
);
CREATE INDEX events_created ON events (created_at, id);
CREATE INDEX events_type ON events (type, created_at);

-- +goose Down
DROP TABLE events;
