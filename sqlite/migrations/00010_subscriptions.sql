-- Subscriptions (issue 13): a token charged once per calendar period.
-- next_charge_at is the schedule (NULL while a charge is in flight or
-- nothing is due); retry_schedule is a JSON array of Go durations.
--
-- A renewal charge names its subscription and period. The partial unique
-- index makes "one success per period" a fact of the database: a period
-- has at most one charge that is INIT or SUCCESS, so no second attempt can
-- start while one is in flight, and none at all once one succeeded (INIT
-- only ever becomes SUCCESS, FAIL or CANCELLED). FAIL and CANCELLED leave
-- room for the retry.

-- +goose Up
CREATE TABLE subscriptions (
	id               TEXT PRIMARY KEY,
	token_id         TEXT NOT NULL REFERENCES tokens (id),
	customer_id      TEXT NOT NULL,
	wallet           TEXT NOT NULL,
	currency         TEXT NOT NULL,
	amount           INTEGER NOT NULL CHECK (amount > 0),
	description      TEXT NOT NULL,
	interval_unit    TEXT NOT NULL CHECK (interval_unit IN ('day', 'week', 'month', 'year')),
	interval_count   INTEGER NOT NULL CHECK (interval_count > 0),
	time_zone        TEXT NOT NULL,
	start_at         TEXT NOT NULL,
	cycles           INTEGER NOT NULL CHECK (cycles >= 0),
	retry_schedule   TEXT NOT NULL,
	status           TEXT NOT NULL CHECK (status IN ('active', 'past_due', 'unpaid', 'paused', 'cancelled', 'completed')),
	period           INTEGER NOT NULL CHECK (period > 0),
	attempt          INTEGER NOT NULL CHECK (attempt >= 0),
	next_charge_at   TEXT,
	cycles_completed INTEGER NOT NULL CHECK (cycles_completed >= 0),
	last_charge_id   TEXT NOT NULL,
	failure_code     TEXT NOT NULL,
	failure_message  TEXT NOT NULL,
	cancel_reason    TEXT NOT NULL,
	paused_at        TEXT,
	cancelled_at     TEXT,
	idempotency_key  TEXT UNIQUE,
	request_hash     TEXT NOT NULL,
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	version          INTEGER NOT NULL
) STRICT;
CREATE INDEX subscriptions_created_at ON subscriptions (created_at, id);
CREATE INDEX subscriptions_customer_id ON subscriptions (customer_id, created_at);
CREATE INDEX subscriptions_token_id ON subscriptions (token_id, created_at);
CREATE INDEX subscriptions_due ON subscriptions (next_charge_at) WHERE status IN ('active', 'past_due', 'unpaid');

-- +goose StatementBegin
CREATE TRIGGER subscriptions_final_status BEFORE UPDATE OF status ON subscriptions
WHEN OLD.status IN ('cancelled', 'completed') AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'subscription status is final'); END;
-- +goose StatementEnd

ALTER TABLE charges ADD COLUMN subscription_id TEXT REFERENCES subscriptions (id);
ALTER TABLE charges ADD COLUMN period INTEGER;
ALTER TABLE charges ADD COLUMN period_start TEXT;
ALTER TABLE charges ADD COLUMN period_end TEXT;
CREATE UNIQUE INDEX charges_subscription_period ON charges (subscription_id, period)
	WHERE subscription_id IS NOT NULL AND status IN ('INIT', 'SUCCESS');
CREATE INDEX charges_subscription ON charges (subscription_id, created_at) WHERE subscription_id IS NOT NULL;

-- +goose Down
DROP INDEX charges_subscription;
DROP INDEX charges_subscription_period;
ALTER TABLE charges DROP COLUMN period_end;
ALTER TABLE charges DROP COLUMN period_start;
ALTER TABLE charges DROP COLUMN period;
ALTER TABLE charges DROP COLUMN subscription_id;
DROP TABLE subscriptions;
