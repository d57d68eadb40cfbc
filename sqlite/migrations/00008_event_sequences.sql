-- An object's event sequence survives retention: it is counted here, not
-- as the MAX over the events still stored, which restarts at 1 once every
-- event of an object has been deleted.

-- +goose Up
CREATE TABLE event_sequences (
	object_id TEXT PRIMARY KEY,
	last      INTEGER NOT NULL CHECK (last > 0)
) STRICT;
INSERT INTO event_sequences (object_id, last) SELECT object_id, MAX(sequence) FROM events GROUP BY object_id;

-- +goose Down
DROP TABLE event_sequences;
