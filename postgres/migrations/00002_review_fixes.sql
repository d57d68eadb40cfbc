-- Review fixes (issue 9): who revoked a token; a durable "next attempt" on
-- refunds and pending revokes, so that the sweep can re-queue work whose job
-- was lost; refund Idempotency-Keys unique across charges, like charges'.

-- +goose Up
ALTER TABLE tokens ADD COLUMN revoked_by text NOT NULL DEFAULT '' CHECK (revoked_by IN ('', 'merchant', 'wallet', 'antom'));
ALTER TABLE tokens ADD COLUMN revoke_next_at timestamptz;
-- Pending revokes already there are due at once: their job may be lost.
UPDATE tokens SET revoke_next_at = updated_at WHERE status = 'ACTIVE' AND revoke_pending = TRUE;
CREATE INDEX tokens_revoke_due ON tokens (revoke_next_at) WHERE status = 'ACTIVE' AND revoke_pending;

ALTER TABLE refunds ADD COLUMN next_inquiry_at timestamptz;
UPDATE refunds SET next_inquiry_at = updated_at WHERE status = 'PROCESSING';
CREATE INDEX refunds_due ON refunds (next_inquiry_at) WHERE status = 'PROCESSING';
-- Fails if a key was reused on two charges before this migration: such
-- refunds need a person to decide which one the key names.
CREATE UNIQUE INDEX refunds_idempotency_key ON refunds (idempotency_key);

-- +goose Down
DROP INDEX refunds_idempotency_key;
DROP INDEX refunds_due;
ALTER TABLE refunds DROP COLUMN next_inquiry_at;
DROP INDEX tokens_revoke_due;
ALTER TABLE tokens DROP COLUMN revoke_next_at;
ALTER TABLE tokens DROP COLUMN revoked_by;
