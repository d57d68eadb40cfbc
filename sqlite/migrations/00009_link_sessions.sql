-- Link sessions (issue 12): the page a merchant sends its buyer to, to link
-- a wallet. The URL's secret is never stored: the store derives it from the
-- session's ID under a key derived from the token key, and keeps only a
-- keyed hash of it (secret_hash) to find the session by. Each attempt is an
-- authorization naming its session (authorizations.link_session_id).

-- +goose Up
CREATE TABLE link_sessions (
	id                   TEXT PRIMARY KEY,
	customer_id          TEXT NOT NULL,
	wallet               TEXT NOT NULL,
	buyer_chooses_wallet INTEGER NOT NULL CHECK (buyer_chooses_wallet IN (0, 1)),
	status               TEXT NOT NULL CHECK (status IN ('open', 'complete', 'cancelled', 'expired')),
	secret_hash          TEXT NOT NULL UNIQUE,
	return_url           TEXT NOT NULL,
	cancel_url           TEXT NOT NULL,
	locale               TEXT NOT NULL,
	authorization_id     TEXT REFERENCES authorizations (id),
	token_id             TEXT REFERENCES tokens (id),
	idempotency_key      TEXT UNIQUE,
	request_hash         TEXT NOT NULL,
	expires_at           TEXT NOT NULL,
	completed_at         TEXT,
	cancelled_at         TEXT,
	created_at           TEXT NOT NULL,
	updated_at           TEXT NOT NULL,
	version              INTEGER NOT NULL
) STRICT;
CREATE INDEX link_sessions_created_at ON link_sessions (created_at, id);
CREATE INDEX link_sessions_customer_id ON link_sessions (customer_id, created_at);

ALTER TABLE authorizations ADD COLUMN link_session_id TEXT;
CREATE INDEX authorizations_link_session_id ON authorizations (link_session_id, created_at) WHERE link_session_id IS NOT NULL;

-- +goose Down
DROP INDEX authorizations_link_session_id;
ALTER TABLE authorizations DROP COLUMN link_session_id;
DROP TABLE link_sessions;
