package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

// Job arguments. Each Kind is stable: it is stored with queued jobs.
// Handlers are idempotent: a job may run more than once (after a crash, or
// when two processes race) and each checks the state before acting.

// ApplyTokenArgs exchanges an authorization's authCode for a token.
type ApplyTokenArgs struct {
	AuthorizationID string `json:"authorizationId"`
}

// ExpireAuthorizationArgs expires an authorization that got no authCode in time.
type ExpireAuthorizationArgs struct {
	AuthorizationID string `json:"authorizationId"`
}

// ExpireLinkSessionArgs ends a link session still open at its expiry.
type ExpireLinkSessionArgs struct {
	LinkSessionID string `json:"linkSessionId"`
}

// InquireChargeArgs settles a charge still INIT: inquiry, then cancel after close.
type InquireChargeArgs struct {
	ChargeID string `json:"chargeId"`
}

// InquireRefundArgs settles a refund still PROCESSING.
type InquireRefundArgs struct {
	RefundID string `json:"refundId"`
}

// SweepArgs is the periodic job that re-queues work whose job was lost:
// inquiries of INIT charges (the process died between storing the charge
// and recording pay's answer) and of PROCESSING refunds, and pending
// revokes.
type SweepArgs struct{}

// CleanupEventsArgs is the periodic job that deletes the events older than
// Config.EventRetention.
type CleanupEventsArgs struct{}

// RevokeTokenArgs revokes a token at Antom until Antom confirms.
type RevokeTokenArgs struct {
	TokenID string `json:"tokenId"`
}

// DeliverWebhookArgs sends one delivery (an event to a webhook endpoint)
// until it is delivered or its retry schedule runs out.
type DeliverWebhookArgs struct {
	DeliveryID string `json:"deliveryId"`
}

// RenewSubscriptionsArgs is the periodic job that charges the subscriptions
// whose next charge is due (Engine.RenewDue).
type RenewSubscriptionsArgs struct{}

// ChargeSubscriptionArgs sends the pay of a subscription's renewal charge,
// created INIT in the transaction that queued this job.
type ChargeSubscriptionArgs struct {
	ChargeID string `json:"chargeId"`
}

func (RenewSubscriptionsArgs) Kind() string { return "renew_subscriptions" }
func (ChargeSubscriptionArgs) Kind() string { return "charge_subscription" }

func (ApplyTokenArgs) Kind() string          { return "apply_token" }
func (ExpireAuthorizationArgs) Kind() string { return "expire_authorization" }
func (InquireChargeArgs) Kind() string       { return "inquire_charge" }
func (InquireRefundArgs) Kind() string       { return "inquire_refund" }
func (RevokeTokenArgs) Kind() string         { return "revoke_token" }
func (SweepArgs) Kind() string               { return "sweep" }
func (CleanupEventsArgs) Kind() string       { return "cleanup_events" }
func (DeliverWebhookArgs) Kind() string      { return "deliver_webhook" }
func (ExpireLinkSessionArgs) Kind() string   { return "expire_link_session" }

// LegacySweepChargesArgs is SweepArgs under its former kind, so that jobs
// queued by an older release (and an older replica during a rolling
// deploy) still run.
type LegacySweepChargesArgs struct{}

func (LegacySweepChargesArgs) Kind() string { return "sweep_charges" }

// QueueUrgent is the queue of the applyToken job, which races Antom's
// one-minute authCode window; everything else uses the default queue.
const QueueUrgent = "urgent"

// RetryError asks the job runner to run the job again after Delay. Handlers
// return it when Antom gave no final answer yet and the job should try again.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err)
}

func (e *RetryError) Unwrap() error { return e.Err }

// Work runs one job by its arguments. The jobs package calls it from River's
// workers; tests call it directly.
func (e *Engine) Work(ctx context.Context, args autodebit.JobArgs) error {
	switch a := args.(type) {
	case ApplyTokenArgs:
		return e.applyToken(ctx, a.AuthorizationID)
	case ExpireAuthorizationArgs:
		return e.expireAuthorization(ctx, a.AuthorizationID)
	case InquireChargeArgs:
		return e.inquireCharge(ctx, a.ChargeID)
	case InquireRefundArgs:
		return e.inquireRefund(ctx, a.RefundID)
	case RevokeTokenArgs:
		return e.revokeToken(ctx, a.TokenID)
	case SweepArgs, LegacySweepChargesArgs:
		return e.sweep(ctx)
	case DeliverWebhookArgs:
		return e.deliver(ctx, a.DeliveryID)
	case ExpireLinkSessionArgs:
		return e.expireLinkSession(ctx, a.LinkSessionID)
	case CleanupEventsArgs:
		_, err := e.CleanupEvents(ctx)
		return err
	case RenewSubscriptionsArgs:
		_, err := e.RenewDue(ctx)
		return err
	case ChargeSubscriptionArgs:
		return e.chargeSubscription(ctx, a.ChargeID)
	}
	return fmt.Errorf("engine: unknown job %T", args)
}
