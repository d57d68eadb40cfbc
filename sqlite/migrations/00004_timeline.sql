-- The audit trail is the timeline: "event" now means what the merchant's
-- backend is told (issue 11). Entry IDs take the tle_ prefix.

-- +goose Up
ALTER TABLE events RENAME TO timeline;
DROP INDEX events_object_id;
CREATE INDEX timeline_object_id ON timeline (object_id, seq);
UPDATE timeline SET id = 'tle_' || substr(id, 5) WHERE id LIKE 'evt\_%' ESCAPE '\';

-- +goose Down
UPDATE timeline SET id = 'evt_' || substr(id, 5) WHERE id LIKE 'tle\_%' ESCAPE '\';
DROP INDEX timeline_object_id;
CREATE INDEX events_object_id ON timeline (object_id, seq);
ALTER TABLE timeline RENAME TO events;
