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
	id               text PRIMARY KEY,
	token_id         text NOT NULL REFERENCES tokens (id),
	customer_id      text NOT NULL,
	wallet           text NOT NULL,
	currency         text NOT NULL,
	amount           bigint NOT NULL CHECK (amount > 0),
	description      text NOT NULL,
	interval_unit    text NOT NULL CHECK (interval_unit IN ('day', 'week', 'month', 'year')),
	interval_count   integer NOT NULL CHECK (interval_count > 0),
	time_zone        text NOT NULL,
	start_at         timestamptz NOT NULL,
	cycles           integer NOT NULL CHECK (cycles >= 0),
	retry_schedule   text NOT NULL,
	status           text NOT NULL CHECK (status IN ('active', 'past_due', 'unpaid', 'paused', 'cancelled', 'completed')),
	period           integer NOT NULL CHECK (period > 0),
	attempt          integer NOT NULL CHECK (attempt >= 0),
	next_charge_at   timestamptz,
	cycles_completed integer NOT NULL CHECK (cycles_completed >= 0),
	last_charge_id   text NOT NULL,
	failure_code     text NOT NULL,
	failure_message  text NOT NULL,
	cancel_reason    text NOT NULL,
	paused_at        timestamptz,
	cancelled_at     timestamptz,
	idempotency_key  text UNIQUE,
	request_hash     text NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	version          bigint NOT NULL
);
CREATE INDEX subscriptions_created_at ON subscriptions (created_at, id);
CREATE INDEX subscriptions_customer_id ON subscriptions (customer_id, created_at);
CREATE INDEX subscriptions_token_id ON subscriptions (token_id, created_at);
CREATE INDEX subscriptions_due ON subscriptions (next_charge_at) WHERE status IN ('active', 'past_due', 'unpaid');
CREATE TRIGGER subscriptions_final_status BEFORE UPDATE OF status ON subscriptions
	FOR EACH ROW EXECUTE FUNCTION autodebit_final_status('cancelled', 'completed');

ALTER TABLE charges ADD COLUMN subscription_id text REFERENCES subscriptions (id);
ALTER TABLE charges ADD COLUMN period integer CHECK (period > 0);
ALTER TABLE charges ADD COLUMN period_start timestamptz;
ALTER TABLE charges ADD COLUMN period_end timestamptz;
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
DROP TRIGGER subscriptions_final_status ON subscriptions;
DROP TABLE subscriptions;
