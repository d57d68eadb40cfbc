// Subscriptions: a token charged once per calendar period. The schedule
// lives in the subscription's row (next_charge_at); a periodic job
// (RenewSubscriptionsArgs) calls RenewDue, which creates each due period's
// INIT charge under the subscription's lock, in the transaction that moves
// the schedule and queues the charge's pay (ChargeSubscriptionArgs). The
// charge then follows the ordinary pay flow, and its settlement (by any
// path: settleChargeTx) decides the period in the same transaction.

package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/api"
)

// SubscriptionMetrics receives subscription outcomes. A Config.Metrics that
// implements it is told of them; one that does not counts none.
type SubscriptionMetrics interface {
	// Renewal is a renewal charge settled: outcome is paid, retry (a
	// retry is scheduled), unpaid (the period is given up), cancelled (the
	// token is gone) or ignored (the subscription was paused or cancelled
	// meanwhile, or the charge was for an earlier period).
	Renewal(outcome string)
	// DunningRecovered is a period paid by a retry after failed attempts.
	DunningRecovered()
}

// Renewal outcomes, as SubscriptionMetrics.Renewal takes them.
const (
	RenewalPaid      = "paid"
	RenewalRetry     = "retry"
	RenewalUnpaid    = "unpaid"
	RenewalCancelled = "cancelled"
	RenewalIgnored   = "ignored"
)

func (e *Engine) renewalOutcome(outcome string) {
	if m, ok := e.m.(SubscriptionMetrics); ok {
		m.Renewal(outcome)
	}
}

// SubscriptionInput is what a merchant asks to subscribe.
type SubscriptionInput struct {
	TokenID       string
	Amount        autodebit.Amount
	Interval      autodebit.Interval
	IntervalCount int       // zero means 1
	StartAt       time.Time // the first charge; zero means now
	Cycles        int       // periods to charge; zero means until cancelled
	Description   string
	TimeZone      string // IANA zone of the calendar; empty means UTC
	// RetrySchedule is the wait after each failed attempt of a period;
	// nil means autodebit.DefaultRetrySchedule, empty means no retries.
	RetrySchedule  []time.Duration
	IdempotencyKey string
}

func (in SubscriptionInput) hash() string {
	retries := "default"
	if in.RetrySchedule != nil {
		parts := make([]string, len(in.RetrySchedule))
		for i, d := range in.RetrySchedule {
			parts[i] = d.String()
		}
		retries = "[" + strings.Join(parts, ",") + "]"
	}
	start := ""
	if !in.StartAt.IsZero() {
		start = in.StartAt.UTC().Format(time.RFC3339Nano)
	}
	return requestHash(in.TokenID, in.Amount.Currency, strconv.FormatInt(in.Amount.Value, 10), string(in.Interval),
		strconv.Itoa(in.IntervalCount), start, strconv.Itoa(in.Cycles), in.Description, in.TimeZone, retries)
}

// Limits on when a subscription may start.
const (
	maxStartAhead  = 2 * 366 * 24 * time.Hour
	maxStartBehind = 5 * time.Minute // clock skew between the merchant and us
)

// CreateSubscription subscribes a token: it stores the subscription active
// at period 1, due at StartAt (now by default), and publishes
// subscription.created. When the first charge is due already it is
// created in the same transaction, and its pay queued.
//
// Returns EINVALID for bad input (naming the field), ENOTFOUND for an
// unknown token, ECONFLICT for a token that cannot be charged or an
// Idempotency-Key reused with different parameters.
func (e *Engine) CreateSubscription(ctx context.Context, in SubscriptionInput) (*autodebit.Subscription, error) {
	if in.TokenID == "" {
		return nil, autodebit.Errorf(autodebit.EINVALID, "tokenId is required.")
	}
	if err := checkRequest(in.Amount, "Description", in.Description, in.IdempotencyKey); err != nil {
		return nil, err
	}
	if in.IntervalCount == 0 {
		in.IntervalCount = 1
	}
	retries := in.RetrySchedule
	if retries == nil {
		retries = autodebit.DefaultRetrySchedule
	}
	if err := autodebit.ValidateSchedule(in.Interval, in.IntervalCount, in.Cycles, retries); err != nil {
		return nil, err
	}
	if _, err := autodebit.LoadTimeZone(in.TimeZone); err != nil {
		return nil, err
	}
	now := e.now()
	start := in.StartAt
	switch {
	case start.IsZero():
		start = now
	case start.Before(now.Add(-maxStartBehind)):
		return nil, autodebit.Errorf(autodebit.EINVALID, "startAt %s is in the past; leave it out to start now.", start.UTC().Format(time.RFC3339))
	case start.After(now.Add(maxStartAhead)):
		return nil, autodebit.Errorf(autodebit.EINVALID, "startAt %s is more than two years ahead.", start.UTC().Format(time.RFC3339))
	}
	start = start.UTC().Truncate(time.Second)
	hash := in.hash()
	if in.IdempotencyKey != "" {
		if s, err := e.subscriptionForKey(ctx, in.IdempotencyKey, hash); s != nil || err != nil {
			return replayed(ctx, s), err
		}
	}
	t, err := e.store.FindTokenByID(ctx, in.TokenID)
	if err != nil {
		return nil, err
	}
	if err := t.Chargeable(now); err != nil {
		return nil, err
	}
	if w, ok := antom.LookupWallet(t.Wallet); ok {
		if err := w.CheckAmount(antom.Amount{Currency: in.Amount.Currency, Value: in.Amount.Value}); err != nil {
			return nil, autodebit.Errorf(autodebit.EINVALID, "Amount: %v.", err)
		}
	}
	s := &autodebit.Subscription{
		ID: autodebit.NewID(autodebit.SubscriptionIDPrefix), TokenID: t.ID, CustomerID: t.CustomerID, Wallet: t.Wallet,
		Amount: in.Amount, Description: in.Description, Interval: in.Interval, IntervalCount: in.IntervalCount,
		TimeZone: in.TimeZone, StartAt: start, Cycles: in.Cycles, RetrySchedule: retries,
		Status: autodebit.SubscriptionActive, Period: 1, NextChargeAt: start,
		IdempotencyKey: in.IdempotencyKey, RequestHash: hash, CreatedAt: now,
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		t, err := tx.FindTokenForUpdate(ctx, t.ID)
		if err != nil {
			return err
		}
		if err := t.Chargeable(now); err != nil {
			return err
		}
		if err := tx.CreateSubscription(ctx, s); err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, stateEntry(s.ID, "CREATED: "+subscriptionSummary(s), now)); err != nil {
			return err
		}
		cur, err := tx.FindSubscriptionByID(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("read subscription %s back: %w", s.ID, err)
		}
		if err := e.publish(ctx, tx, autodebit.EventSubscriptionCreated, cur.ID, api.ToSubscription(cur)); err != nil {
			return err
		}
		if cur.NextChargeAt.After(now) {
			return nil
		}
		_, err = e.renewTx(ctx, tx, cur, t, now)
		return err
	})
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT && in.IdempotencyKey != "" {
		// A concurrent request with the same key won the insert.
		if s, err := e.subscriptionForKey(ctx, in.IdempotencyKey, hash); s != nil || err != nil {
			return replayed(ctx, s), err
		}
	}
	if err != nil {
		return nil, err
	}
	e.log.Info("subscription created", "subscription", s.ID, "token", s.TokenID, "amount", s.Amount.String(),
		"interval", fmt.Sprintf("%d %s", s.IntervalCount, s.Interval), "startAt", s.StartAt.Format(time.RFC3339))
	return e.store.FindSubscriptionByID(ctx, s.ID)
}

// subscriptionSummary describes a subscription's terms for its timeline.
func subscriptionSummary(s *autodebit.Subscription) string {
	every := string(s.Interval)
	if s.IntervalCount > 1 {
		every = fmt.Sprintf("%d %ss", s.IntervalCount, s.Interval)
	}
	out := fmt.Sprintf("%s every %s from %s", s.Amount.String(), every, s.StartAt.UTC().Format(time.RFC3339))
	if s.TimeZone != "" {
		out += " (" + s.TimeZone + " calendar)"
	}
	if s.Cycles > 0 {
		out += fmt.Sprintf(", %d periods", s.Cycles)
	}
	return out
}

// subscriptionForKey returns the subscription created with an
// Idempotency-Key, nil if there is none, or ECONFLICT if it was created
// with other parameters.
func (e *Engine) subscriptionForKey(ctx context.Context, key, hash string) (*autodebit.Subscription, error) {
	s, err := e.store.FindSubscriptionByIdempotencyKey(ctx, key)
	return sameRequest(s, err, "subscription", key, hash, func(s *autodebit.Subscription) (string, string) { return s.ID, s.RequestHash })
}

// subscriptionEvents names the event of each status a subscription moves
// to (paused → active is subscription.resumed).
var subscriptionEvents = map[autodebit.SubscriptionStatus]autodebit.EventType{
	autodebit.SubscriptionActive:    autodebit.EventSubscriptionActive,
	autodebit.SubscriptionPastDue:   autodebit.EventSubscriptionPastDue,
	autodebit.SubscriptionUnpaid:    autodebit.EventSubscriptionUnpaid,
	autodebit.SubscriptionPaused:    autodebit.EventSubscriptionPaused,
	autodebit.SubscriptionCancelled: autodebit.EventSubscriptionCancelled,
	autodebit.SubscriptionCompleted: autodebit.EventSubscriptionCompleted,
}

// writeSubscriptionTx is the one way a subscription changes: it writes s
// (read in tx with its lock, then changed), the note in its timeline and,
// when its status moved from was, its subscription.* event, all in tx.
func (e *Engine) writeSubscriptionTx(ctx context.Context, tx autodebit.Tx, s *autodebit.Subscription, was autodebit.SubscriptionStatus, note string, now time.Time) error {
	if s.Status.Final() || !s.Status.Charging() {
		s.NextChargeAt = time.Time{}
	}
	if err := tx.UpdateSubscription(ctx, s); err != nil {
		return fmt.Errorf("update subscription %s: %w", s.ID, err)
	}
	if err := appendTimeline(ctx, tx, stateEntry(s.ID, note, now)); err != nil {
		return err
	}
	if s.Status == was {
		return nil
	}
	typ := subscriptionEvents[s.Status]
	if was == autodebit.SubscriptionPaused && s.Status == autodebit.SubscriptionActive {
		typ = autodebit.EventSubscriptionResumed
	}
	cur, err := tx.FindSubscriptionByID(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("read subscription %s back: %w", s.ID, err)
	}
	e.log.Info("subscription "+string(s.Status), "subscription", s.ID, "was", was, "note", note)
	return e.publish(ctx, tx, typ, cur.ID, api.ToSubscription(cur))
}

// PauseSubscription stops charging a subscription until it is resumed. A
// charge already in flight finishes: if it succeeds its period is paid;
// if it fails it is not retried. Pausing a paused subscription returns it
// unchanged.
//
// Returns ENOTFOUND for an unknown subscription and ECONFLICT for a
// cancelled or completed one.
func (e *Engine) PauseSubscription(ctx context.Context, id string) (*autodebit.Subscription, error) {
	return e.changeSubscription(ctx, id, func(tx autodebit.Tx, s *autodebit.Subscription, now time.Time) (string, error) {
		switch {
		case s.Status == autodebit.SubscriptionPaused:
			return "", nil
		case s.Status.Final():
			return "", autodebit.Errorf(autodebit.ECONFLICT, "Subscription %s is %s and cannot be paused.", s.ID, s.Status)
		}
		s.Status, s.PausedAt = autodebit.SubscriptionPaused, now
		return "PAUSED by the merchant: nothing is charged until it is resumed", nil
	})
}

// ResumeSubscription charges a paused subscription again. The periods that
// started while it was paused are skipped: charging continues with the
// first period that starts at or after now, at its start. Resuming an
// active (or past_due, unpaid) subscription returns it unchanged; a
// subscription with no period left completes.
//
// Returns ENOTFOUND for an unknown subscription and ECONFLICT for a
// cancelled or completed one.
func (e *Engine) ResumeSubscription(ctx context.Context, id string) (*autodebit.Subscription, error) {
	return e.changeSubscription(ctx, id, func(tx autodebit.Tx, s *autodebit.Subscription, now time.Time) (string, error) {
		switch {
		case s.Status.Charging():
			return "", nil
		case s.Status.Final():
			return "", autodebit.Errorf(autodebit.ECONFLICT, "Subscription %s is %s and cannot be resumed.", s.ID, s.Status)
		}
		next := max(s.Period, s.FirstPeriodFrom(now))
		skipped := next - s.Period
		if next != s.Period {
			s.Period, s.Attempt = next, 0
		}
		s.PausedAt, s.FailureCode, s.FailureMessage = time.Time{}, "", ""
		note := fmt.Sprintf("RESUMED by the merchant: period %d is next", s.Period)
		if skipped > 0 {
			note += fmt.Sprintf(" (%d period(s) skipped while paused)", skipped)
		}
		if s.Cycles > 0 && s.Period > s.Cycles {
			s.Status = autodebit.SubscriptionCompleted
			return fmt.Sprintf("COMPLETED on resume: its %d periods are over", s.Cycles), nil
		}
		s.Status, s.NextChargeAt = autodebit.SubscriptionActive, s.PeriodStart(s.Period)
		return note, nil
	})
}

// CancelSubscription ends a subscription for good; reason (optional) is
// kept. A charge already in flight finishes (a success still pays its
// period). Cancelling a cancelled subscription returns it unchanged.
//
// Returns ENOTFOUND for an unknown subscription, ECONFLICT for a completed
// one and EINVALID for a reason that is not printable text of at most 256
// characters.
func (e *Engine) CancelSubscription(ctx context.Context, id, reason string) (*autodebit.Subscription, error) {
	if len([]rune(reason)) > autodebit.MaxSubscriptionReason || !autodebit.IsPrintable(reason) {
		return nil, autodebit.Errorf(autodebit.EINVALID, "Cancel reason must be printable text of at most %d characters.", autodebit.MaxSubscriptionReason)
	}
	if reason == "" {
		reason = "cancelled by the merchant"
	}
	return e.changeSubscription(ctx, id, func(tx autodebit.Tx, s *autodebit.Subscription, now time.Time) (string, error) {
		switch s.Status {
		case autodebit.SubscriptionCancelled:
			return "", nil
		case autodebit.SubscriptionCompleted:
			return "", autodebit.Errorf(autodebit.ECONFLICT, "Subscription %s is completed: there is nothing left to cancel.", s.ID)
		}
		s.Status, s.CancelReason, s.CancelledAt = autodebit.SubscriptionCancelled, reason, now
		return "CANCELLED: " + reason, nil
	})
}

// changeSubscription applies change to subscription id under its lock (and
// its token's, which every writer takes first). change returns the
// timeline note, or "" to leave the subscription unchanged.
func (e *Engine) changeSubscription(ctx context.Context, id string, change func(tx autodebit.Tx, s *autodebit.Subscription, now time.Time) (string, error)) (*autodebit.Subscription, error) {
	cur, err := e.store.FindSubscriptionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	now := e.now()
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if _, err := tx.FindTokenForUpdate(ctx, cur.TokenID); err != nil {
			return err
		}
		s, err := tx.FindSubscriptionForUpdate(ctx, id)
		if err != nil {
			return err
		}
		was := s.Status
		note, err := change(tx, s, now)
		if err != nil || note == "" {
			return err
		}
		return e.writeSubscriptionTx(ctx, tx, s, was, note, now)
	})
	if err != nil {
		return nil, err
	}
	return e.store.FindSubscriptionByID(ctx, id)
}

// renewBatch bounds the subscriptions one query of RenewDue reads.
const renewBatch = 100

// RenewDue charges every subscription whose next charge is due: for each,
// one transaction takes the token's and the subscription's locks, checks
// that it is still due, creates the charge of its period INIT, clears the
// schedule (the charge's settlement sets the next one) and queues the pay.
// Several processes may run it at once: the lock and the re-check make one
// of them win, and the database's one-INIT-or-SUCCESS-per-period index
// refuses a second charge whatever happens. Each call charges at most one
// period per subscription; a subscription behind by several periods (the
// engine was down) is charged one period per call, oldest first, each once.
//
// It returns how many charges it created. The periodic job
// RenewSubscriptionsArgs calls it; so can anything that moved the clock.
func (e *Engine) RenewDue(ctx context.Context) (int, error) {
	now := e.now()
	created := 0
	var errs []error
	for range 1000 { // a bound, never reached: each pass moves every subscription it reads
		due, err := e.store.FindDueSubscriptions(ctx, now, renewBatch)
		if err != nil {
			return created, fmt.Errorf("find due subscriptions: %w", err)
		}
		for _, d := range due {
			n, err := e.renewOne(ctx, d.ID, d.TokenID, now)
			created += n
			if err != nil {
				e.log.Error("renewal failed; the next pass tries again", "subscription", d.ID, "err", err)
				errs = append(errs, fmt.Errorf("renew subscription %s: %w", d.ID, err))
			}
		}
		if len(due) < renewBatch || len(errs) > 0 {
			break
		}
	}
	return created, errors.Join(errs...)
}

// NextRenewalAt returns when the next renewal (or retry) is due, and false
// if none is scheduled: for a clock that runs what falls due. It is one
// indexed MIN, cheap enough for every step of an advance.
func (e *Engine) NextRenewalAt(ctx context.Context) (time.Time, bool, error) {
	next, err := e.store.FindNextSubscriptionChargeAt(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	return next, !next.IsZero(), nil
}

// renewOne renews subscription id if it is still due at now; it reports
// whether it created a charge.
func (e *Engine) renewOne(ctx context.Context, id, tokenID string, now time.Time) (int, error) {
	created := 0
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		t, err := tx.FindTokenForUpdate(ctx, tokenID)
		if err != nil {
			return err
		}
		s, err := tx.FindSubscriptionForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if !s.Status.Charging() || s.NextChargeAt.IsZero() || s.NextChargeAt.After(now) {
			return nil // another process renewed it, or it changed meanwhile
		}
		made, err := e.renewTx(ctx, tx, s, t, e.now())
		if made {
			created = 1
		}
		return err
	})
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT {
		// The period already has a charge in flight or paid: the database
		// refused a second one. Nothing was written; the next pass reads
		// the period's charges and follows them.
		e.log.Warn("renewal refused: the period already has a charge", "subscription", id, "err", err)
		return 0, nil
	}
	return created, err
}

// renewTx makes the charge of s's period (s is due, read in tx with its
// lock and its token's t), unless the token cannot be charged or the period
// already has a charge in flight or paid. It reports whether it made one.
func (e *Engine) renewTx(ctx context.Context, tx autodebit.Tx, s *autodebit.Subscription, t *autodebit.Token, now time.Time) (bool, error) {
	was := s.Status
	if s.Cycles > 0 && s.Period > s.Cycles {
		s.Status = autodebit.SubscriptionCompleted
		return false, e.writeSubscriptionTx(ctx, tx, s, was, fmt.Sprintf("COMPLETED: its %d periods are over", s.Cycles), now)
	}
	if err := t.Chargeable(now); err != nil {
		switch {
		case t.Status != autodebit.TokenActive:
			return false, e.cancelForTokenTx(ctx, tx, s, fmt.Sprintf("the token %s is %s", t.ID, t.Status), now)
		case !t.AccessTokenExpiresAt.IsZero() && !now.Before(t.AccessTokenExpiresAt):
			// Ending the token cancels its subscriptions, this one too.
			return false, e.endTokenTx(ctx, tx, t, autodebit.TokenExpired, "", "the access token expired", "EXPIRED: the access token expired", now)
		default:
			// A revoke is on its way; its end cancels the subscription.
			s.NextChargeAt = now.Add(revokeRetryDelay)
			return false, e.writeSubscriptionTx(ctx, tx, s, was, "RENEWAL postponed: the token is being revoked", now)
		}
	}
	// Every charge of a subscription is made here, under its lock, so this
	// check is exact; the unique index is the backstop.
	for _, st := range []autodebit.ChargeStatus{autodebit.ChargeSuccess, autodebit.ChargeInit} {
		existing, _, err := tx.FindCharges(ctx, autodebit.ChargeFilter{SubscriptionID: s.ID, Period: s.Period, Status: st, Limit: 1})
		if err != nil {
			return false, err
		}
		if len(existing) == 0 {
			continue
		}
		if st == autodebit.ChargeSuccess {
			return false, e.periodPaidTx(ctx, tx, s, existing[0], now)
		}
		s.NextChargeAt, s.LastChargeID = time.Time{}, existing[0].ID
		return false, e.writeSubscriptionTx(ctx, tx, s, was, fmt.Sprintf("RENEWAL waits: period %d has charge %s in flight", s.Period, existing[0].ID), now)
	}
	p := s.PeriodOf(s.Period)
	c := &autodebit.Charge{
		ID: autodebit.NewID(autodebit.ChargeIDPrefix), TokenID: t.ID, CustomerID: t.CustomerID, Wallet: t.Wallet,
		Amount: s.Amount, Description: s.Description, Status: autodebit.ChargeInit,
		SubscriptionID: s.ID, Period: p.Number, PeriodStart: p.Start, PeriodEnd: p.End,
		PaymentRequestID: autodebit.NewPaymentRequestID(),
		RequestHash:      requestHash(s.ID, strconv.Itoa(p.Number), strconv.Itoa(s.Attempt+1)),
		ExpiresAt:        now.Add(e.cfg.PaymentExpiry).Truncate(time.Second),
		NextInquiryAt:    now.Add(e.inquiryDelay(0)),
		CreatedAt:        now,
	}
	if err := tx.CreateCharge(ctx, c); err != nil {
		return false, fmt.Errorf("create the charge of subscription %s period %d: %w", s.ID, p.Number, err)
	}
	s.Attempt++
	s.LastChargeID, s.NextChargeAt = c.ID, time.Time{}
	what := "RENEWAL"
	if s.Attempt > 1 {
		what = "RETRY"
	}
	note := fmt.Sprintf("%s of period %d (%s to %s), attempt %d: charge %s", what, p.Number,
		p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339), s.Attempt, c.ID)
	if err := e.writeSubscriptionTx(ctx, tx, s, was, note, now); err != nil {
		return false, err
	}
	if err := appendTimeline(ctx, tx, stateEntry(c.ID, fmt.Sprintf("CREATED by subscription %s for period %d, attempt %d", s.ID, p.Number, s.Attempt), now)); err != nil {
		return false, err
	}
	// The INIT row is the intent; the job sends pay. Were the job lost, the
	// sweep would inquire the overdue charge and resend or cancel it.
	return true, tx.Enqueue(ctx, autodebit.Job{Args: ChargeSubscriptionArgs{ChargeID: c.ID}})
}

// chargeSubscription is the job that sends a renewal charge's pay.
func (e *Engine) chargeSubscription(ctx context.Context, id string) error {
	return e.payIntent(ctx, id, "PAY sent for the subscription's period", true)
}

// subscriptionChargeSettledTx applies a renewal charge's final status c
// (read back in settleChargeTx's transaction) to its subscription: the
// dunning. It takes the token's lock, then the subscription's.
func (e *Engine) subscriptionChargeSettledTx(ctx context.Context, tx autodebit.Tx, c *autodebit.Charge) error {
	if _, err := tx.FindTokenForUpdate(ctx, c.TokenID); err != nil {
		return err
	}
	s, err := tx.FindSubscriptionForUpdate(ctx, c.SubscriptionID)
	if err != nil {
		return fmt.Errorf("find subscription %s of charge %s: %w", c.SubscriptionID, c.ID, err)
	}
	now := e.now()
	was := s.Status
	if c.Period != s.Period {
		// A charge of an earlier period, in flight when the subscription
		// was paused and resumed past it.
		e.renewalOutcome(RenewalIgnored)
		if c.Status != autodebit.ChargeSuccess {
			return appendTimeline(ctx, tx, stateEntry(s.ID, fmt.Sprintf("Charge %s of period %d ended %s: %s; that period is over", c.ID, c.Period, c.Status, c.ResultCode), now))
		}
		s.CyclesCompleted++
		return e.writeSubscriptionTx(ctx, tx, s, was, fmt.Sprintf("PAID period %d late by charge %s", c.Period, c.ID), now)
	}
	if c.Status == autodebit.ChargeSuccess {
		return e.periodPaidTx(ctx, tx, s, c, now)
	}
	s.FailureCode, s.FailureMessage = truncate(c.ResultCode, 64), truncate(c.ResultMessage, 256)
	failed := fmt.Sprintf("period %d attempt %d failed (%s %s)", s.Period, s.Attempt, c.Status, c.ResultCode)
	if !s.Status.Charging() {
		e.renewalOutcome(RenewalIgnored)
		return e.writeSubscriptionTx(ctx, tx, s, was, fmt.Sprintf("FAILED: %s; not retried, the subscription is %s", failed, s.Status), now)
	}
	switch class := ClassifyFailure(c.Status, c.ResultCode); class {
	case FailureTokenGone:
		e.renewalOutcome(RenewalCancelled)
		return e.cancelForTokenTx(ctx, tx, s, fmt.Sprintf("the token can no longer be charged (%s)", c.ResultCode), now)
	case FailureRetryable:
		if d, ok := s.RetryDelay(s.Attempt); ok {
			e.renewalOutcome(RenewalRetry)
			s.Status, s.NextChargeAt = autodebit.SubscriptionPastDue, now.Add(d)
			return e.writeSubscriptionTx(ctx, tx, s, was, fmt.Sprintf("PAST DUE: %s, retryable; retry %d at %s", failed, s.Attempt,
				s.NextChargeAt.UTC().Format(time.RFC3339)), now)
		}
		return e.periodUnpaidTx(ctx, tx, s, failed+", retryable, and the retries are spent", now)
	default:
		return e.periodUnpaidTx(ctx, tx, s, failed+", which retrying cannot fix", now)
	}
}

// periodPaidTx closes s's period as paid by charge c and schedules the
// next: the subscription becomes active (or completed after its last
// period; a paused or cancelled one stays so).
func (e *Engine) periodPaidTx(ctx context.Context, tx autodebit.Tx, s *autodebit.Subscription, c *autodebit.Charge, now time.Time) error {
	was, attempts := s.Status, s.Attempt
	e.renewalOutcome(RenewalPaid)
	if attempts > 1 {
		if m, ok := e.m.(SubscriptionMetrics); ok {
			m.DunningRecovered()
		}
	}
	s.CyclesCompleted++
	s.FailureCode, s.FailureMessage = "", ""
	note := fmt.Sprintf("PAID period %d by charge %s", s.Period, c.ID)
	if attempts > 1 {
		note += fmt.Sprintf(" on attempt %d", attempts)
	}
	return e.nextPeriodTx(ctx, tx, s, was, autodebit.SubscriptionActive, note, now)
}

// periodUnpaidTx gives s's period up (why) and schedules the next: the
// subscription becomes unpaid (or completed after its last period).
func (e *Engine) periodUnpaidTx(ctx context.Context, tx autodebit.Tx, s *autodebit.Subscription, why string, now time.Time) error {
	e.renewalOutcome(RenewalUnpaid)
	return e.nextPeriodTx(ctx, tx, s, s.Status, autodebit.SubscriptionUnpaid, fmt.Sprintf("UNPAID: %s; period %d is given up", why, s.Period), now)
}

// nextPeriodTx moves s past its period: to the next period, due at its
// start, in status to; or completed after the last period. A paused or
// cancelled subscription keeps its status and schedules nothing.
func (e *Engine) nextPeriodTx(ctx context.Context, tx autodebit.Tx, s *autodebit.Subscription, was, to autodebit.SubscriptionStatus, note string, now time.Time) error {
	last := s.LastPeriod(s.Period)
	s.Period, s.Attempt = s.Period+1, 0
	switch {
	case !s.Status.Charging():
	case last:
		s.Status = autodebit.SubscriptionCompleted
		note += fmt.Sprintf("; COMPLETED: its %d periods are over (%d paid)", s.Cycles, s.CyclesCompleted)
	default:
		s.Status, s.NextChargeAt = to, s.PeriodStart(s.Period)
		note += fmt.Sprintf("; period %d is due at %s", s.Period, s.NextChargeAt.Format(time.RFC3339))
	}
	return e.writeSubscriptionTx(ctx, tx, s, was, note, now)
}

// cancelForTokenTx cancels s because its token can no longer be charged.
func (e *Engine) cancelForTokenTx(ctx context.Context, tx autodebit.Tx, s *autodebit.Subscription, reason string, now time.Time) error {
	if s.Status.Final() {
		return nil
	}
	was := s.Status
	s.Status, s.CancelReason, s.CancelledAt = autodebit.SubscriptionCancelled, truncate(reason, autodebit.MaxSubscriptionReason), now
	return e.writeSubscriptionTx(ctx, tx, s, was, "CANCELLED: "+s.CancelReason, now)
}

// tokenEndedTx cancels every subscription of token t, which just ended
// (endTokenTx, in its transaction, holding the token's lock).
func (e *Engine) tokenEndedTx(ctx context.Context, tx autodebit.Tx, t *autodebit.Token, now time.Time) error {
	subs, _, err := tx.FindSubscriptions(ctx, autodebit.SubscriptionFilter{TokenID: t.ID})
	if err != nil {
		return fmt.Errorf("find the subscriptions of token %s: %w", t.ID, err)
	}
	reason := "the token expired"
	if t.Status == autodebit.TokenRevoked {
		reason = "the token was revoked by " + t.RevokedBy
		if t.RevokeReason != "" && t.RevokedBy != autodebit.RevokedByMerchant {
			reason += ": " + t.RevokeReason
		}
	}
	for _, found := range subs {
		if found.Status.Final() {
			continue
		}
		s, err := tx.FindSubscriptionForUpdate(ctx, found.ID)
		if err != nil {
			return err
		}
		if err := e.cancelForTokenTx(ctx, tx, s, reason, now); err != nil {
			return err
		}
	}
	return nil
}
