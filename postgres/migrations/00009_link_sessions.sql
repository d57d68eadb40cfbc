-- Link sessions (issue 12): the page a merchant sends its buyer to, to link
-- a wallet. The URL's secret is never stored: the store derives it from the
-- session's ID under a key derived from the token key, and keeps only a
-- keyed hash of it (secret_hash) to find the session by. Each attempt is an
-- authorization naming its session (authorizations.link_session_id).

-- +goose Up
CREATE TABLE link_sessions (
	id                   text PRIMARY KEY,
	customer_id          text NOT NULL,
	wallet               text NOT NULL,
	buyer_chooses_wallet boolean NOT NULL,
	status               text NOT NULL CHECK (status IN ('open', 'complete', 'cancelled', 'expired')),
	secret_hash          text NOT NULL UNIQUE,
	return_url           text NOT NULL,
	cancel_url           text NOT NULL,
	locale               text NOT NULL,
	authorization_id     text REFERENCES authorizations (id),
	token_id             text REFERENCES tokens (id),
	idempotency_key      text UNIQUE,
	request_hash         text NOT NULL,
	expires_at           timestamptz NOT NULL,
	completed_at         timestamptz,
	cancelled_at         timestamptz,
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL,
	version              bigint NOT NULL
);
CREATE INDEX link_sessions_created_at ON link_sessions (created_at, id);
CREATE INDEX link_sessions_customer_id ON link_sessions (customer_id, created_at);

ALTER TABLE authorizations ADD COLUMN link_session_id text;
CREATE INDEX authorizations_link_session_id ON authorizations (link_session_id, created_at) WHERE link_session_id IS NOT NULL;

-- +goose Down
DROP INDEX authorizations_link_session_id;
ALTER TABLE authorizations DROP COLUMN link_session_id;
DROP TABLE link_sessions;
