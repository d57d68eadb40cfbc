-- Console logins, kept in the database so that a logout holds on every engine
-- process and after a restart. secret_hash is HMAC-SHA256 (hex) of the
-- cookie's secret under a key derived from the API key: never the secret.

-- +goose Up
CREATE TABLE console_sessions (
	secret_hash TEXT PRIMARY KEY,
	created_at  TEXT NOT NULL,
	expires_at  TEXT NOT NULL,
	revoked_at  TEXT
) STRICT;
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
