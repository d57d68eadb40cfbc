-- Secrets are sealed by the store (AES-GCM) before they get here.

-- +goose Up
CREATE TABLE authorizations (
	id              text PRIMARY KEY,
	customer_id     text NOT NULL,
	wallet          text NOT NULL,
	status          text NOT NULL CHECK (status IN ('PENDING', 'AUTHORIZED', 'ACTIVE', 'FAILED', 'EXPIRED')),
	auth_state      text NOT NULL UNIQUE,
	qr_text         text NOT NULL,
	qr_image_url    text NOT NULL,
	auth_code       text,
	token_id        text,
	failure_code    text NOT NULL,
	failure_message text NOT NULL,
	expires_at      timestamptz NOT NULL,
	authorized_at   timestamptz,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	version         bigint NOT NULL
);
CREATE INDEX authorizations_created_at ON authorizations (created_at, id);
CREATE INDEX authorizations_customer_id ON authorizations (customer_id, created_at);
CREATE INDEX authorizations_pending_expiry ON authorizations (expires_at) WHERE status IN ('PENDING', 'AUTHORIZED');

CREATE TABLE tokens (
	id                       text PRIMARY KEY,
	customer_id              text NOT NULL,
	wallet                   text NOT NULL,
	authorization_id         text NOT NULL REFERENCES authorizations (id),
	status                   text NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED', 'EXPIRED')),
	access_token             text NOT NULL,
	access_token_hash        text NOT NULL UNIQUE,
	refresh_token            text,
	access_token_expires_at  timestamptz,
	refresh_token_expires_at timestamptz,
	user_login_id            text NOT NULL,
	revoke_reason            text NOT NULL,
	revoke_pending           boolean NOT NULL,
	created_at               timestamptz NOT NULL,
	updated_at               timestamptz NOT NULL,
	revoked_at               timestamptz,
	version                  bigint NOT NULL
);
CREATE INDEX tokens_created_at ON tokens (created_at, id);
CREATE INDEX tokens_customer_id ON tokens (customer_id, created_at);
CREATE INDEX tokens_authorization_id ON tokens (authorization_id);

CREATE TABLE charges (
	id                 text PRIMARY KEY,
	token_id           text NOT NULL REFERENCES tokens (id),
	customer_id        text NOT NULL,
	wallet             text NOT NULL,
	currency           text NOT NULL,
	amount             bigint NOT NULL CHECK (amount > 0),
	description        text NOT NULL,
	status             text NOT NULL CHECK (status IN ('INIT', 'SUCCESS', 'FAIL', 'CANCELLED')),
	payment_request_id text NOT NULL UNIQUE,
	payment_id         text NOT NULL,
	result_code        text NOT NULL,
	result_message     text NOT NULL,
	idempotency_key    text UNIQUE,
	request_hash       text NOT NULL,
	expires_at         timestamptz,
	next_inquiry_at    timestamptz,
	inquiry_count      integer NOT NULL,
	cancel_requested_at timestamptz,
	settled_by         text NOT NULL CHECK (settled_by IN ('', 'pay', 'notification', 'inquiry', 'cancel')),
	refunded_value     bigint NOT NULL CHECK (refunded_value >= 0 AND refunded_value <= amount),
	created_at         timestamptz NOT NULL,
	updated_at         timestamptz NOT NULL,
	settled_at         timestamptz,
	version            bigint NOT NULL
);
CREATE INDEX charges_created_at ON charges (created_at, id);
CREATE INDEX charges_customer_id ON charges (customer_id, created_at);
CREATE INDEX charges_token_id ON charges (token_id, created_at);
CREATE INDEX charges_open ON charges (next_inquiry_at) WHERE status = 'INIT';

CREATE TABLE refunds (
	id                text PRIMARY KEY,
	charge_id         text NOT NULL REFERENCES charges (id),
	currency          text NOT NULL,
	amount            bigint NOT NULL CHECK (amount > 0),
	reason            text NOT NULL,
	status            text NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'FAIL')),
	refund_request_id text NOT NULL UNIQUE,
	refund_id         text NOT NULL,
	result_code       text NOT NULL,
	result_message    text NOT NULL,
	idempotency_key   text,
	request_hash      text NOT NULL,
	created_at        timestamptz NOT NULL,
	updated_at        timestamptz NOT NULL,
	settled_at        timestamptz,
	version           bigint NOT NULL,
	UNIQUE (charge_id, idempotency_key)
);
CREATE INDEX refunds_created_at ON refunds (created_at, id);
CREATE INDEX refunds_processing ON refunds (created_at) WHERE status = 'PROCESSING';

CREATE TABLE events (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id            text NOT NULL UNIQUE,
	object_id     text NOT NULL,
	kind          text NOT NULL,
	direction     text NOT NULL CHECK (direction IN ('', 'in', 'out')),
	request       text NOT NULL,
	response      text NOT NULL,
	result_status text NOT NULL,
	result_code   text NOT NULL,
	error         text NOT NULL,
	duration_ms   bigint NOT NULL,
	created_at    timestamptz NOT NULL
);
CREATE INDEX events_object_id ON events (object_id, seq);

CREATE TABLE notifications (
	dedup_key   text PRIMARY KEY,
	type        text NOT NULL,
	object_id   text NOT NULL,
	body        text NOT NULL,
	sent_at     timestamptz,
	received_at timestamptz NOT NULL
);
CREATE INDEX notifications_received_at ON notifications (received_at);

-- A final status never changes, whatever writes the row. The trigger's
-- arguments are the table's final statuses.
-- +goose StatementBegin
CREATE FUNCTION autodebit_final_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status <> OLD.status AND OLD.status = ANY (TG_ARGV) THEN
		RAISE EXCEPTION '% % status % is final', TG_TABLE_NAME, OLD.id, OLD.status
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER authorizations_final_status BEFORE UPDATE OF status ON authorizations
	FOR EACH ROW EXECUTE FUNCTION autodebit_final_status('ACTIVE', 'FAILED', 'EXPIRED');
CREATE TRIGGER tokens_final_status BEFORE UPDATE OF status ON tokens
	FOR EACH ROW EXECUTE FUNCTION autodebit_final_status('REVOKED', 'EXPIRED');
CREATE TRIGGER charges_final_status BEFORE UPDATE OF status ON charges
	FOR EACH ROW EXECUTE FUNCTION autodebit_final_status('SUCCESS', 'FAIL', 'CANCELLED');
CREATE TRIGGER refunds_final_status BEFORE UPDATE OF status ON refunds
	FOR EACH ROW EXECUTE FUNCTION autodebit_final_status('SUCCESS', 'FAIL');

-- +goose Down
DROP TABLE notifications;
DROP TABLE events;
DROP TABLE refunds;
DROP TABLE charges;
DROP TABLE tokens;
DROP TABLE authorizations;
DROP FUNCTION autodebit_final_status();
