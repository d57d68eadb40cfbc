// Events: what the merchant's backend is told. Each is written by one
// transition helper per noun, in the transaction of the change, so that no
// path that makes a change can forget its event and a rolled-back change
// leaves none.

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/api"
)

// publish records an event of objectID in tx. view is the object's API view
// (an api type) as it is after the change: read it back in tx, so that the
// event's data.object is what GET will return once the change commits.
func (e *Engine) publish(ctx context.Context, tx autodebit.Tx, typ autodebit.EventType, objectID string, view any) error {
	data, err := json.Marshal(view)
	if err != nil {
		return fmt.Errorf("encode the %s event of %s: %w", typ, objectID, err)
	}
	ev := &autodebit.Event{Type: typ, ObjectID: objectID, Data: data, CreatedAt: e.now()}
	if err := tx.CreateEvent(ctx, ev); err != nil {
		return fmt.Errorf("record the %s event of %s: %w", typ, objectID, err)
	}
	return e.fanOut(ctx, tx, ev)
}

// fanOut creates, in the event's transaction, a pending delivery of ev to
// each enabled endpoint subscribed to its type, and enqueues the job that
// sends each: the River row is the outbox pointer, so a delivery is never
// without its job nor a job without its event. Endpoints created later do
// not receive ev.
func (e *Engine) fanOut(ctx context.Context, tx autodebit.Tx, ev *autodebit.Event) error {
	endpoints, err := tx.FindWebhookSubscribers(ctx)
	if err != nil {
		return fmt.Errorf("find the webhook endpoints of the %s event of %s: %w", ev.Type, ev.ObjectID, err)
	}
	var jobs []autodebit.Job
	for _, w := range endpoints {
		if !w.Subscribes(string(ev.Type)) {
			continue
		}
		d := &autodebit.Delivery{EventID: ev.ID, EndpointID: w.ID, NextAttemptAt: ev.CreatedAt, CreatedAt: ev.CreatedAt}
		if err := tx.CreateDelivery(ctx, d); err != nil {
			return fmt.Errorf("create the delivery of event %s to %s: %w", ev.ID, w.ID, err)
		}
		jobs = append(jobs, autodebit.Job{Args: DeliverWebhookArgs{DeliveryID: d.ID}})
	}
	if len(jobs) == 0 {
		return nil
	}
	if err := tx.Enqueue(ctx, jobs...); err != nil {
		return fmt.Errorf("enqueue the deliveries of event %s: %w", ev.ID, err)
	}
	return nil
}

// chargeEvents names the event of each final charge status.
var chargeEvents = map[autodebit.ChargeStatus]autodebit.EventType{
	autodebit.ChargeSuccess:   autodebit.EventChargeSucceeded,
	autodebit.ChargeFail:      autodebit.EventChargeFailed,
	autodebit.ChargeCancelled: autodebit.EventChargeCancelled,
}

// settleChargeTx is the one way a charge settles: it moves charge id from
// INIT to s's final status (tx.SettleCharge's compare-and-set), writes the
// state entry of its timeline and publishes its charge.* event, and for a
// subscription's charge decides its period (paid, retry, unpaid, or
// cancelled with the token), all in tx.
// It returns the charge as settled when this call settled it, and nil when
// it lost (the charge was final already); a loser writes nothing.
func (e *Engine) settleChargeTx(ctx context.Context, tx autodebit.Tx, id string, s autodebit.ChargeSettlement) (*autodebit.Charge, error) {
	won, err := tx.SettleCharge(ctx, id, s)
	if err != nil || !won {
		return nil, err
	}
	at := s.SettledAt
	if at.IsZero() {
		at = e.now()
	}
	if err := appendTimeline(ctx, tx, stateEntry(id, fmt.Sprintf("%s by %s: %s", s.Status, s.SettledBy, s.ResultCode), at)); err != nil {
		return nil, err
	}
	c, err := tx.FindChargeByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read charge %s back: %w", id, err)
	}
	if err := e.publish(ctx, tx, chargeEvents[c.Status], c.ID, api.ToCharge(c)); err != nil {
		return nil, err
	}
	if c.SubscriptionID != "" {
		// Dunning, whichever path settled the charge (engine/dunning.go).
		if err := e.subscriptionChargeSettledTx(ctx, tx, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// settleRefundTx is the one way a refund settles, as settleChargeTx for
// charges: compare-and-set from PROCESSING, the timeline's state entry
// (how says what settled it, e.g. "by notification"; empty for Antom's
// answer to our call) and the refund.* event, all in tx.
func (e *Engine) settleRefundTx(ctx context.Context, tx autodebit.Tx, id string, s autodebit.RefundSettlement, how string) (bool, error) {
	won, err := tx.SettleRefund(ctx, id, s)
	if err != nil || !won {
		return false, err
	}
	note := fmt.Sprintf("%s: %s", s.Status, s.ResultCode)
	if how != "" {
		note = fmt.Sprintf("%s %s: %s", s.Status, how, s.ResultCode)
	}
	at := s.SettledAt
	if at.IsZero() {
		at = e.now()
	}
	if err := appendTimeline(ctx, tx, stateEntry(id, note, at)); err != nil {
		return false, err
	}
	r, err := tx.FindRefundByID(ctx, id)
	if err != nil {
		return false, fmt.Errorf("read refund %s back: %w", id, err)
	}
	typ := autodebit.EventRefundFailed
	if r.Status == autodebit.RefundSuccess {
		typ = autodebit.EventRefundSucceeded
	}
	return true, e.publish(ctx, tx, typ, r.ID, api.ToRefund(r))
}

// endTokenTx is the one way a token ends: t, read in tx with its lock and
// ACTIVE, becomes status (REVOKED by by, a RevokedBy* value, or EXPIRED)
// for reason; the state entry note goes in its timeline, token.revoked or
// token.expired is published, and its subscriptions are cancelled, all in
// tx.
func (e *Engine) endTokenTx(ctx context.Context, tx autodebit.Tx, t *autodebit.Token, status autodebit.TokenStatus, by, reason, note string, now time.Time) error {
	if t.Status != autodebit.TokenActive {
		return fmt.Errorf("end token %s: it is %s, not ACTIVE", t.ID, t.Status)
	}
	t.Status, t.RevokeReason, t.RevokePending, t.RevokeNextAt = status, reason, false, time.Time{}
	typ := autodebit.EventTokenExpired
	if status == autodebit.TokenRevoked {
		t.RevokedAt, t.RevokedBy = now, by
		typ = autodebit.EventTokenRevoked
	}
	if err := tx.UpdateToken(ctx, t); err != nil {
		return fmt.Errorf("end token %s: %w", t.ID, err)
	}
	if err := appendTimeline(ctx, tx, stateEntry(t.ID, note, now)); err != nil {
		return err
	}
	cur, err := tx.FindTokenByID(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("read token %s back: %w", t.ID, err)
	}
	if err := e.publish(ctx, tx, typ, cur.ID, api.ToToken(cur)); err != nil {
		return err
	}
	return e.tokenEndedTx(ctx, tx, cur, now)
}

// authorizationEvents names the event of each authorization status the
// merchant is told of; AUTHORIZED (the buyer scanned, applyToken running)
// is not one.
var authorizationEvents = map[autodebit.AuthorizationStatus]autodebit.EventType{
	autodebit.AuthorizationActive:  autodebit.EventAuthorizationActive,
	autodebit.AuthorizationFailed:  autodebit.EventAuthorizationFailed,
	autodebit.AuthorizationExpired: autodebit.EventAuthorizationExpired,
}

// moveAuthorizationTx is the one way an authorization changes status: it
// writes a (read in tx with its lock, its new status and fields set), the
// state entry note in its timeline and, for ACTIVE, FAILED and EXPIRED,
// its authorization.* event, all in tx. An attempt of a link session is
// noted in the session's timeline too, and one that is ACTIVE completes
// the session (attemptMovedTx).
func (e *Engine) moveAuthorizationTx(ctx context.Context, tx autodebit.Tx, a *autodebit.Authorization, note string, now time.Time) error {
	if err := tx.UpdateAuthorization(ctx, a); err != nil {
		return fmt.Errorf("move authorization %s to %s: %w", a.ID, a.Status, err)
	}
	if err := appendTimeline(ctx, tx, stateEntry(a.ID, note, now)); err != nil {
		return err
	}
	if typ, ok := authorizationEvents[a.Status]; ok {
		cur, err := tx.FindAuthorizationByID(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("read authorization %s back: %w", a.ID, err)
		}
		if err := e.publish(ctx, tx, typ, cur.ID, api.ToAuthorization(cur)); err != nil {
			return err
		}
	}
	if a.LinkSessionID != "" {
		return e.attemptMovedTx(ctx, tx, a, note, now)
	}
	return nil
}

// DefaultEventRetention is how long events are kept unless
// Config.EventRetention says otherwise.
const DefaultEventRetention = 30 * 24 * time.Hour

// cleanupBatch is how many events one cleanup transaction deletes, so that
// a large backlog never holds the store's write lock for long.
var cleanupBatch = 1000

// CleanupEvents deletes the events older than Config.EventRetention, a
// batch per transaction, and returns how many it deleted. It stops between
// batches when ctx ends; the next run carries on.
func (e *Engine) CleanupEvents(ctx context.Context) (int, error) {
	cutoff := e.now().Add(-e.cfg.EventRetention)
	total := 0
	for ctx.Err() == nil {
		var n int
		err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			var err error
			n, err = tx.DeleteEventsBefore(ctx, cutoff, cleanupBatch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("delete events before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
		}
		total += n
		if n < cleanupBatch {
			break
		}
	}
	if total > 0 {
		e.log.Info("old events deleted", "count", total, "before", cutoff.UTC().Format(time.RFC3339))
	}
	return total, ctx.Err()
}
