-- The audit trail is the timeline: "event" now means what the merchant's
-- backend is told (issue 11). Entry IDs take the tle_ prefix.

-- +goose Up
ALTER TABLE events RENAME TO timeline;
ALTER INDEX events_object_id RENAME TO timeline_object_id;
UPDATE timeline SET id = 'tle_' || substr(id, 5) WHERE id LIKE 'evt\_%' ESCAPE '\';

-- +goose Down
UPDATE timeline SET id = 'evt_' || substr(id, 5) WHERE id LIKE 'tle\_%' ESCAPE '\';
ALTER INDEX timeline_object_id RENAME TO events_object_id;
ALTER TABLE timeline RENAME TO events;
