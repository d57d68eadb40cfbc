package autodebit

import (
	"context"
	"time"
)

// Store keeps the engine's state. Implementations are safe for concurrent
// use.
//
// Reads outside WithTx see committed data and lock nothing. Every change
// happens inside WithTx.
type Store interface {
	Reader

	// WithTx runs fn in a transaction and commits it if fn returns nil; if
	// fn returns an error or panics, the transaction is rolled back and
	// the error (unchanged, so its code survives) or panic is passed on.
	//
	// Use only tx inside fn: calling the Store's own methods from fn may
	// wait forever on a database that allows one writer connection. After
	// a Tx method returns an error, return it: the transaction may already
	// be aborted (PostgreSQL aborts it on any failed statement). Do not
	// call Antom or wait on anything slow inside fn.
	WithTx(ctx context.Context, fn func(tx Tx) error) error
}

// Reader finds objects. Each Find*By* method returns ENOTFOUND when there is
// no such object. List methods return one page, newest first (by creation
// time, then ID), and the total number of matches ignoring Limit and Offset.
type Reader interface {
	FindAuthorizationByID(ctx context.Context, id string) (*Authorization, error)
	FindAuthorizationByAuthState(ctx context.Context, authState string) (*Authorization, error)
	FindAuthorizations(ctx context.Context, f AuthorizationFilter) ([]*Authorization, int, error)

	FindTokenByID(ctx context.Context, id string) (*Token, error)
	// FindTokenByAccessToken finds a token by its plaintext access token (as
	// a TOKEN_CANCELED notification carries it) through a keyed hash,
	// without decrypting other tokens.
	FindTokenByAccessToken(ctx context.Context, accessToken string) (*Token, error)
	FindTokens(ctx context.Context, f TokenFilter) ([]*Token, int, error)
	// FindDueRevokes returns up to limit ACTIVE tokens with a revoke
	// pending whose next attempt was due before t, the longest overdue
	// first.
	FindDueRevokes(ctx context.Context, t time.Time, limit int) ([]*Token, error)

	FindChargeByID(ctx context.Context, id string) (*Charge, error)
	FindChargeByPaymentRequestID(ctx context.Context, paymentRequestID string) (*Charge, error)
	FindChargeByIdempotencyKey(ctx context.Context, key string) (*Charge, error)
	// FindDueCharges returns up to limit INIT charges whose next inquiry
	// was due before t, the longest overdue first.
	FindDueCharges(ctx context.Context, t time.Time, limit int) ([]*Charge, error)
	FindCharges(ctx context.Context, f ChargeFilter) ([]*Charge, int, error)

	FindRefundByID(ctx context.Context, id string) (*Refund, error)
	FindRefundByRefundRequestID(ctx context.Context, refundRequestID string) (*Refund, error)
	// FindRefundByIdempotencyKey finds the refund created with an
	// Idempotency-Key; keys are unique across all refunds.
	FindRefundByIdempotencyKey(ctx context.Context, key string) (*Refund, error)
	// FindDueRefunds returns up to limit PROCESSING refunds whose next
	// inquiry was due before t, the longest overdue first.
	FindDueRefunds(ctx context.Context, t time.Time, limit int) ([]*Refund, error)
	FindRefunds(ctx context.Context, f RefundFilter) ([]*Refund, int, error)

	FindSubscriptionByID(ctx context.Context, id string) (*Subscription, error)
	// FindSubscriptionByIdempotencyKey finds the subscription created with
	// an Idempotency-Key; keys are unique across subscriptions.
	FindSubscriptionByIdempotencyKey(ctx context.Context, key string) (*Subscription, error)
	FindSubscriptions(ctx context.Context, f SubscriptionFilter) ([]*Subscription, int, error)
	// FindDueSubscriptions returns up to limit subscriptions that charge
	// on schedule (active, past_due, unpaid) whose next charge is due at
	// or before t, the longest overdue first.
	FindDueSubscriptions(ctx context.Context, t time.Time, limit int) ([]*Subscription, error)
	// FindNextSubscriptionChargeAt returns the earliest next charge of the
	// subscriptions that charge on schedule (active, past_due, unpaid),
	// or the zero time if none is scheduled: one value, for a clock that
	// runs what falls due.
	FindNextSubscriptionChargeAt(ctx context.Context) (time.Time, error)
	// CountSubscriptions counts subscriptions by status; every status is
	// in the map.
	CountSubscriptions(ctx context.Context) (map[SubscriptionStatus]int, error)

	// FindTimeline returns the timeline (audit trail) of one object, oldest first.
	// An object with no entries has an empty timeline, not ENOTFOUND.
	FindTimeline(ctx context.Context, objectID string) ([]*TimelineEntry, error)

	// FindEventByID returns ENOTFOUND for an unknown event (or one that
	// retention deleted).
	FindEventByID(ctx context.Context, id string) (*Event, error)
	// FindEvents returns one page of events, newest first (by creation
	// time, then ID), and the total number of matches.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, int, error)

	// Link sessions are read with their Secret set (see LinkSession).
	FindLinkSessionByID(ctx context.Context, id string) (*LinkSession, error)
	// FindLinkSessionBySecret finds the session whose URL holds secret,
	// through a keyed hash of it: ENOTFOUND for any other string.
	FindLinkSessionBySecret(ctx context.Context, secret string) (*LinkSession, error)
	// FindLinkSessionByIdempotencyKey finds the session created with an
	// Idempotency-Key; keys are unique across link sessions.
	FindLinkSessionByIdempotencyKey(ctx context.Context, key string) (*LinkSession, error)
	FindLinkSessions(ctx context.Context, f LinkSessionFilter) ([]*LinkSession, int, error)

	// FindBacklog returns the work still open, for health checks and metrics.
	FindBacklog(ctx context.Context) (*Backlog, error)

	// FindWebhookEndpointByID returns the endpoint with its secrets opened.
	FindWebhookEndpointByID(ctx context.Context, id string) (*WebhookEndpoint, error)
	// FindWebhookEndpointByIdempotencyKey finds the endpoint created with an
	// Idempotency-Key; keys are unique across endpoints.
	FindWebhookEndpointByIdempotencyKey(ctx context.Context, key string) (*WebhookEndpoint, error)
	FindWebhookEndpoints(ctx context.Context, f WebhookEndpointFilter) ([]*WebhookEndpoint, int, error)

	FindDeliveryByID(ctx context.Context, id string) (*Delivery, error)
	// FindDeliveries returns one page of deliveries, oldest first (by
	// creation time, then ID: the order they were made in), and the total
	// number of matches.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, int, error)
	// FindDueDeliveries returns up to limit pending deliveries whose next
	// attempt was due before t, the longest overdue first.
	FindDueDeliveries(ctx context.Context, t time.Time, limit int) ([]*Delivery, error)
	// FindDeliveryAttempts returns a delivery's attempts, the first first.
	FindDeliveryAttempts(ctx context.Context, deliveryID string) ([]*DeliveryAttempt, error)
}

// Tx changes the store inside one transaction (see Store.WithTx). A Tx is
// not safe for concurrent use and is invalid once WithTx returns.
//
// Create methods validate the object (EINVALID), which must be in its
// lifecycle's first status (an empty Status is set to it); assign its ID,
// UpdatedAt, and CreatedAt unless set; set Version to 1; and return
// ECONFLICT when a unique field (authState, paymentRequestId, idempotency
// key, ...) is taken. Times are stored in UTC with microsecond precision.
//
// Update methods are compare-and-set on Version: they write every mutable
// field, increment Version and set UpdatedAt, and return ENOTFOUND if the
// object does not exist and ECONFLICT if its Version has moved on since it
// was read or the status change is not an allowed transition. A final status
// never changes.
type Tx interface {
	Reader

	// The *ForUpdate methods read an object and lock it until the end of
	// the transaction, so that a concurrent transaction waits instead of
	// failing its compare-and-set.
	FindAuthorizationForUpdate(ctx context.Context, id string) (*Authorization, error)
	FindAuthorizationByAuthStateForUpdate(ctx context.Context, authState string) (*Authorization, error)
	FindTokenForUpdate(ctx context.Context, id string) (*Token, error)
	FindTokenByAccessTokenForUpdate(ctx context.Context, accessToken string) (*Token, error)
	FindChargeForUpdate(ctx context.Context, id string) (*Charge, error)
	FindChargeByPaymentRequestIDForUpdate(ctx context.Context, paymentRequestID string) (*Charge, error)
	FindRefundForUpdate(ctx context.Context, id string) (*Refund, error)
	FindRefundByRefundRequestIDForUpdate(ctx context.Context, refundRequestID string) (*Refund, error)

	CreateAuthorization(ctx context.Context, a *Authorization) error
	UpdateAuthorization(ctx context.Context, a *Authorization) error

	CreateToken(ctx context.Context, t *Token) error
	UpdateToken(ctx context.Context, t *Token) error

	CreateCharge(ctx context.Context, c *Charge) error
	// UpdateCharge writes the charge's mutable fields (PaymentID, result,
	// NextInquiryAt, InquiryCount, RefundedValue, and Status as allowed).
	// To settle an INIT charge use SettleCharge.
	UpdateCharge(ctx context.Context, c *Charge) error
	// SettleCharge moves charge id from INIT to the settlement's final
	// status, whatever its Version. Once a cancel is requested
	// (CancelRequestedAt set) only a settlement by SettledByCancel applies:
	// Antom refunds a payment that it cancels, so the cancel's answer
	// decides. It reports whether this call settled the charge: false with
	// a nil error means nothing was written (the charge was already final,
	// or a cancel is pending), so the caller lost and must not act on its
	// result. Returns ENOTFOUND if there is no such charge and
	// EINVALID if the settlement is not final.
	SettleCharge(ctx context.Context, id string, s ChargeSettlement) (bool, error)

	FindSubscriptionForUpdate(ctx context.Context, id string) (*Subscription, error)
	// CreateSubscription stores s, which must be active (or have no
	// status) at period 1; ECONFLICT if its Idempotency-Key is taken.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// UpdateSubscription writes the subscription's mutable fields (Status
	// as its transitions allow, Period, Attempt, NextChargeAt,
	// CyclesCompleted, LastChargeID, failure, cancel and pause fields),
	// compare-and-set on Version.
	UpdateSubscription(ctx context.Context, s *Subscription) error

	CreateRefund(ctx context.Context, r *Refund) error
	UpdateRefund(ctx context.Context, r *Refund) error
	// SettleRefund moves refund id from PROCESSING to the settlement's
	// final status, like SettleCharge. A refund that settles SUCCESS adds
	// its amount to the charge's RefundedValue in the same statement set.
	SettleRefund(ctx context.Context, id string, s RefundSettlement) (bool, error)

	// CreateLinkSession stores a new open session and sets its Secret (the
	// store derives it; see LinkSession). UpdateLinkSession writes Wallet,
	// Status, AuthorizationID, TokenID, CompletedAt and CancelledAt,
	// compare-and-set on Version and on the status transition.
	FindLinkSessionForUpdate(ctx context.Context, id string) (*LinkSession, error)
	CreateLinkSession(ctx context.Context, s *LinkSession) error
	UpdateLinkSession(ctx context.Context, s *LinkSession) error

	// AppendTimelineEntry adds e to its object's audit trail, assigning ID and
	// (unless set) CreatedAt.
	AppendTimelineEntry(ctx context.Context, e *TimelineEntry) error

	// CreateEvent records e in this transaction, the one that makes the
	// change it reports: it validates e (EINVALID), assigns ID, CreatedAt
	// (unless set) and Sequence, one more than the object's latest event.
	// The caller holds the object's row lock, so no two transactions take
	// the same Sequence; the store's unique (object, sequence) index makes
	// one that does fail (ECONFLICT) rather than pass unseen.
	CreateEvent(ctx context.Context, e *Event) error
	// DeleteEventsBefore deletes up to limit events created before t, the
	// oldest first, and returns how many it deleted (retention).
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)

	// RecordNotification records n unless a notification with the same
	// DedupKey was recorded before. It reports whether n is new.
	RecordNotification(ctx context.Context, n *InboundNotification) (bool, error)

	// Enqueue adds jobs to the job queue in this transaction: they run only
	// if it commits.
	Enqueue(ctx context.Context, jobs ...Job) error

	// Webhook endpoints have no status: UpdateWebhookEndpoint writes every
	// field but ID, CreatedAt, IdempotencyKey and RequestHash, compare-and-set
	// on Version. Secrets are sealed at rest, bound to their row and column.
	FindWebhookEndpointForUpdate(ctx context.Context, id string) (*WebhookEndpoint, error)
	// FindWebhookSubscribers returns the enabled endpoints with only ID,
	// EventTypes and Enabled set — no secret is opened, so an endpoint
	// whose secret cannot be read never fails the change that publishes
	// an event — and keeps them from being deleted until tx ends (a
	// delivery row needs its endpoint).
	FindWebhookSubscribers(ctx context.Context) ([]*WebhookEndpoint, error)
	CreateWebhookEndpoint(ctx context.Context, w *WebhookEndpoint) error
	UpdateWebhookEndpoint(ctx context.Context, w *WebhookEndpoint) error
	// DeleteWebhookEndpoint removes endpoint id, with its deliveries and
	// their attempts, and returns it as it was; ENOTFOUND if there is none.
	DeleteWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)

	// Deliveries: CreateDelivery returns ECONFLICT if the event already has
	// a delivery to the endpoint (one per pair). UpdateDelivery writes
	// Status, Attempts, NextAttemptAt, LastStatusCode, LastError and
	// DeliveredAt, compare-and-set on Version. Deleting an event or an
	// endpoint deletes its deliveries and their attempts.
	FindDeliveryForUpdate(ctx context.Context, id string) (*Delivery, error)
	CreateDelivery(ctx context.Context, d *Delivery) error
	UpdateDelivery(ctx context.Context, d *Delivery) error
	// CreateDeliveryAttempt claims attempt a.Attempt of its delivery (open:
	// FinishedAt zero); ECONFLICT if that number is taken.
	CreateDeliveryAttempt(ctx context.Context, a *DeliveryAttempt) error
	// FinishDeliveryAttempt records the outcome of an open attempt
	// (FinishedAt, Duration, StatusCode, Error, Response); ENOTFOUND if
	// there is no such attempt and ECONFLICT if it was already recorded.
	FinishDeliveryAttempt(ctx context.Context, a *DeliveryAttempt) error
}

// Backlog is the open work in the store.
type Backlog struct {
	OpenCharges              int       // charges still INIT
	OldestOpenChargeAt       time.Time // creation of the oldest INIT charge; zero if none
	NextInquiryAt            time.Time // earliest inquiry due on an INIT charge; zero if none
	ProcessingRefunds        int       // refunds still PROCESSING
	OldestProcessingRefundAt time.Time // zero if none

	// NextSubscriptionChargeAt is the earliest next charge of a
	// subscription that charges on schedule (active, past_due, unpaid),
	// zero if none.
	NextSubscriptionChargeAt time.Time

	PendingDeliveries       int       // webhook deliveries still pending
	OldestPendingDeliveryAt time.Time // creation of the oldest pending delivery; zero if none

	// Background jobs, by state: waiting (available or scheduled), running,
	// and retrying after a failure.
	JobsWaiting  int
	JobsRunning  int
	JobsRetrying int

	// LastNotificationAt is when the latest notification was received;
	// NotificationLag is the average of received − sent over the latest
	// 100 notifications that carried a readable request-time (zero if none).
	LastNotificationAt time.Time
	NotificationLag    time.Duration
}
