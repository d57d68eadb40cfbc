-- Events: what the merchant's backend is told (issue 11), written in the
-- transaction of the change they report. data is the object's API view.

-- +goose Up
CREATE TABLE events (
	id         TEXT PRIMARY KEY,
	type       TEXT NOT NULL,
	object_id  TEXT NOT NULL,
	sequence   INTEGER NOT NULL CHECK (sequence > 0),
	data       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	UNIQUE (object_id, sequence)
) STRICT;
CREATE INDEX events_created ON events (created_at, id);
CREATE INDEX events_type ON events (type, created_at);

-- +goose Down
DROP TABLE events;
