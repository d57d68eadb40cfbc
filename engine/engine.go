// Package engine runs the Scan to Link flows: authorization → token →
// charge → true result. It calls Antom through the antom client, keeps state
// in an autodebit.Store, and leaves every follow-up (applyToken, payment and
// refund inquiries, revoke retries, expiries) to durable jobs that are
// enqueued in the same transaction as the state change that needs them.
//
// The engine is safe for concurrent use, and several engine processes may
// share one PostgreSQL database: every settlement is a compare-and-set in
// the store, so a notification, an inquiry and a pay answer racing on the
// same charge cannot both write.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// Config configures an Engine.
type Config struct {
	// Store keeps the state. Required.
	Store autodebit.Store
	// Antom calls Antom. Required. Its ObserveFunc is not used: the engine
	// records exchanges itself through Observe (see New).
	Antom *antom.Client
	// PublicURL is the base URL at which Antom reaches this engine's
	// notification endpoints, e.g. https://pay.example.com. Required.
	PublicURL string
	// AuthRedirectURL is sent to consult. Scan to Link never redirects the
	// phone back, but Antom requires the field. Empty means PublicURL + "/".
	AuthRedirectURL string
	// PaymentExpiry is how long Antom may take to finish a payment; it is
	// sent as paymentExpiryTime. Zero means 55s; at most one minute.
	PaymentExpiry time.Duration
	// CloseGrace is how long after a charge's expiry an INIT charge is still
	// only inquired before the engine cancels it. Zero means 30s.
	CloseGrace time.Duration
	// InquiryDelays is the wait before each payment inquiry of a charge left
	// INIT; the last value repeats. Empty means 2s, 4s, 8s, 16s, 32s, 60s.
	InquiryDelays []time.Duration
	// SweepLag is how long past its next attempt an INIT charge, a
	// PROCESSING refund or a pending revoke must be before the sweep
	// (SweepArgs) queues its job again: work whose job is alive never lags
	// that much. Zero means 10s.
	SweepLag time.Duration
	// ClockScale is how many seconds of NowFunc's clock pass in a second of
	// real time: more than 1 under `serve --time-scale`. Waits that stand
	// for real work in flight (an open delivery attempt, a job alive but
	// slow, which the sweep must not take for lost) are this many times
	// as long on the clock. Zero means 1.
	ClockScale float64
	// EventRetention is how long events are kept: the cleanup job
	// (CleanupEventsArgs) deletes older ones. Zero means 30 days.
	EventRetention time.Duration
	// AuthCodeWindow is how long after AUTHCODE_CREATED applyToken keeps
	// resending before the authorization fails. Zero means one minute, the
	// authCode's lifetime at Antom.
	AuthCodeWindow time.Duration
	// CallTimeout bounds one synchronous Antom call made while serving a
	// request (pay, consult). Zero means 10s.
	CallTimeout time.Duration
	// NowFunc returns the current time. Nil means time.Now.
	NowFunc func() time.Time
	// LinkReturnHosts lists the hosts a link session's returnUrl and
	// cancelUrl may name besides PublicURL's own: "shop.example", or
	// "*.shop.example" for its subdomains, or "*" for any host (a
	// development engine). Empty allows none but PublicURL's host: a
	// production engine names its shop's hosts, so that a leaked API key
	// cannot turn the buyer's page into a redirect to anywhere.
	LinkReturnHosts []string
	// WebhookURLPolicy says which hosts webhook endpoint URLs may name.
	// Empty means WebhookURLsPublic: no private, loopback or link-local
	// addresses, as a production engine needs.
	WebhookURLPolicy WebhookURLPolicy
	// WebhookSecretOverlap is how long a rotated-out webhook secret still
	// signs deliveries beside the new one. Zero means 24h.
	WebhookSecretOverlap time.Duration
	// WebhookRetryDelays is the wait after each failed delivery attempt,
	// each lengthened by up to 20 % at random; after the last, the delivery
	// is failed. Empty means DefaultWebhookRetryDelays (8 attempts over
	// more than 24 h).
	WebhookRetryDelays []time.Duration
	// WebhookTimeout bounds one delivery attempt. Zero means 15s.
	WebhookTimeout time.Duration
	// WebhookDisableAfter is how long an endpoint's deliveries may fail
	// without a success (FailingSince) before the engine disables it. Zero
	// means 5 days.
	WebhookDisableAfter time.Duration
	// WebhookLookupFunc resolves a webhook endpoint's host for
	// WebhookURLsPublic. Nil means net.DefaultResolver.LookupNetIP.
	WebhookLookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)
	// Logger receives the engine's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Metrics, if set, is told about every outcome worth counting.
	Metrics Metrics
}

// Metrics receives counts and timings. Implementations must be safe for
// concurrent use. A nil Metrics in Config counts nothing.
type Metrics interface {
	AntomCall(api, resultStatus string, d time.Duration)
	ChargeSettled(status autodebit.ChargeStatus, by string)
	TokenIssued(sinceAuthCode time.Duration)
	NotificationReceived(kind string, accepted bool)
	// NotificationLag is the time from Antom sending a notification (its
	// request-time) to the engine having applied it.
	NotificationLag(kind string, d time.Duration)
	// WebhookAttempt is one recorded delivery attempt: result is
	// delivered (a 2xx), retrying (failed, another attempt is scheduled)
	// or failed (the delivery gave up); d is the attempt's duration.
	WebhookAttempt(result string, d time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) AntomCall(string, string, time.Duration)      {}
func (nopMetrics) ChargeSettled(autodebit.ChargeStatus, string) {}
func (nopMetrics) TokenIssued(time.Duration)                    {}
func (nopMetrics) NotificationReceived(string, bool)            {}
func (nopMetrics) NotificationLag(string, time.Duration)        {}
func (nopMetrics) WebhookAttempt(string, time.Duration)         {}

// Engine runs the flows. Create it with New.
type Engine struct {
	store  autodebit.Store
	antom  *antom.Client
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	m      Metrics
	notify notifyURLs

	lookupHost    func(ctx context.Context, host string) ([]netip.Addr, error) // Config.WebhookLookupFunc
	webhookClient *http.Client                                                 // deliveries' client (newWebhookClient)
}

type notifyURLs struct{ authorization, payment, refund string }

// Notification endpoint paths, below PublicURL.
const (
	NotifyAuthorizationPath = "/antom/notify/authorization"
	NotifyPaymentPath       = "/antom/notify/payment"
	NotifyRefundPath        = "/antom/notify/refund"
)

// New returns an Engine. The antom client passed in cfg must have been built
// with ObserveFunc set to Observe, so that every exchange with Antom lands in
// the audit trail of the object it concerns:
//
//	client, _ := antom.NewClient(antom.Config{..., ObserveFunc: engine.Observe})
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: Store is required")
	}
	if cfg.Antom == nil {
		return nil, errors.New("engine: Antom client is required")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("engine: PublicURL is required")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.AuthRedirectURL == "" {
		cfg.AuthRedirectURL = cfg.PublicURL + "/"
	}
	if cfg.PaymentExpiry <= 0 {
		cfg.PaymentExpiry = 55 * time.Second
	}
	if cfg.PaymentExpiry > antom.MaxPaymentExpiry {
		return nil, fmt.Errorf("engine: PaymentExpiry %s is over Antom's one minute", cfg.PaymentExpiry)
	}
	if cfg.CloseGrace <= 0 {
		cfg.CloseGrace = 30 * time.Second
	}
	if len(cfg.InquiryDelays) == 0 {
		cfg.InquiryDelays = []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 60 * time.Second}
	}
	if cfg.SweepLag <= 0 {
		cfg.SweepLag = 10 * time.Second
	}
	if cfg.ClockScale < 1 {
		cfg.ClockScale = 1
	}
	if cfg.EventRetention < 0 {
		return nil, fmt.Errorf("engine: EventRetention %s must not be negative", cfg.EventRetention)
	} else if cfg.EventRetention == 0 {
		cfg.EventRetention = DefaultEventRetention
	}
	if cfg.AuthCodeWindow <= 0 {
		cfg.AuthCodeWindow = authCodeLifetime
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	switch cfg.WebhookURLPolicy {
	case "":
		cfg.WebhookURLPolicy = WebhookURLsPublic
	case WebhookURLsPublic, WebhookURLsAny:
	default:
		return nil, fmt.Errorf("engine: WebhookURLPolicy %q is not %q or %q", cfg.WebhookURLPolicy, WebhookURLsPublic, WebhookURLsAny)
	}
	if err := ValidateLinkReturnHosts(cfg.LinkReturnHosts); err != nil {
		return nil, fmt.Errorf("engine: LinkReturnHosts: %w", err)
	}
	if len(cfg.WebhookRetryDelays) == 0 {
		cfg.WebhookRetryDelays = DefaultWebhookRetryDelays
	}
	for _, d := range cfg.WebhookRetryDelays {
		if d <= 0 {
			return nil, fmt.Errorf("engine: WebhookRetryDelays %v must all be positive", cfg.WebhookRetryDelays)
		}
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = defaultWebhookTimeout
	}
	if cfg.WebhookDisableAfter <= 0 {
		cfg.WebhookDisableAfter = defaultWebhookDisableAfter
	}
	if cfg.WebhookSecretOverlap <= 0 {
		cfg.WebhookSecretOverlap = defaultWebhookSecretOverlap
	}
	e := &Engine{store: cfg.Store, antom: cfg.Antom, cfg: cfg, now: cfg.NowFunc, log: cfg.Logger, m: cfg.Metrics}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.m == nil {
		e.m = nopMetrics{}
	}
	if e.lookupHost = cfg.WebhookLookupFunc; e.lookupHost == nil {
		e.lookupHost = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	e.webhookClient = e.newWebhookClient()
	e.notify = notifyURLs{
		authorization: cfg.PublicURL + NotifyAuthorizationPath,
		payment:       cfg.PublicURL + NotifyPaymentPath,
		refund:        cfg.PublicURL + NotifyRefundPath,
	}
	return e, nil
}

// Store returns the engine's store, for readers such as the HTTP layer.
func (e *Engine) Store() autodebit.Store { return e.store }

// --- audit trail ---

type auditKey struct{}

// audit collects the exchanges with Antom made on behalf of one object, to
// be written to its trail in the transaction that records their effect.
type audit struct {
	objectID string
	m        Metrics
	mu       sync.Mutex
	events   []*autodebit.TimelineEntry
}

// withAudit returns a context whose Antom exchanges are recorded for
// objectID.
func (e *Engine) withAudit(ctx context.Context, objectID string) (context.Context, *audit) {
	a := &audit{objectID: objectID, m: e.m}
	return context.WithValue(ctx, auditKey{}, a), a
}

// take returns the collected events and forgets them.
func (a *audit) take() []*autodebit.TimelineEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	ev := a.events
	a.events = nil
	return ev
}

// Observe is the antom.Config.ObserveFunc for a client used by an Engine:
// it records each exchange for the audit trail of the object being worked on
// and counts it. Secrets are masked before anything is kept.
func Observe(ctx context.Context, x *antom.Exchange) {
	a, _ := ctx.Value(auditKey{}).(*audit)
	if a == nil {
		return
	}
	status := "error"
	if x.Result != nil {
		status = x.Result.ResultStatus
	}
	a.m.AntomCall(x.API, status, x.Duration)
	ev := &autodebit.TimelineEntry{
		ObjectID:   a.objectID,
		Kind:       "antom." + x.API,
		Direction:  autodebit.TimelineOut,
		Request:    MaskBody(x.RequestBody),
		Response:   MaskBody(x.ResponseBody),
		DurationMS: x.Duration.Milliseconds(),
		CreatedAt:  x.Start,
	}
	if x.Result != nil {
		ev.ResultStatus, ev.ResultCode = x.Result.ResultStatus, x.Result.ResultCode
	}
	if x.Err != nil {
		ev.Error = x.Err.Error()
	}
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
}

// appendTimeline writes events to the trail inside tx.
func appendTimeline(ctx context.Context, tx autodebit.Tx, events ...*autodebit.TimelineEntry) error {
	for _, ev := range events {
		if err := tx.AppendTimelineEntry(ctx, ev); err != nil {
			return fmt.Errorf("append %s event for %s: %w", ev.Kind, ev.ObjectID, err)
		}
	}
	return nil
}

// flushAudit writes what a collected in a transaction of its own; used when
// no state change follows the exchanges (a failure, an unknown outcome).
func (e *Engine) flushAudit(ctx context.Context, a *audit) {
	events := a.take()
	if len(events) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		return appendTimeline(ctx, tx, events...)
	})
	if err != nil {
		e.log.Error("store audit trail", "object", a.objectID, "err", err)
	}
}

// stateEntry records a state change in the audit trail.
func stateEntry(objectID, what string, at time.Time) *autodebit.TimelineEntry {
	return &autodebit.TimelineEntry{ObjectID: objectID, Kind: "state", Response: what, CreatedAt: at}
}

// unavailable turns a failed Antom call into a domain error safe to show.
func unavailable(api string, err error) error {
	if errors.Is(err, antom.ErrMaybeSent) {
		return autodebit.Errorf(autodebit.EUNAVAILABLE, "Antom did not answer the %s call; the outcome will be known after an inquiry.", api)
	}
	return autodebit.Errorf(autodebit.EUNAVAILABLE, "Antom could not be reached for %s; nothing was sent. Try again.", api)
}

// NotificationRejected counts a notification that failed verification.
func (e *Engine) NotificationRejected(kind string) { e.m.NotificationReceived(kind, false) }

// realSpan is d of real time on the engine's clock: d, or ClockScale
// times d on a clock that runs fast. A real-time bound (an attempt's
// timeout, a job's lag) judged on a clock at 60× would otherwise be over
// after a sixtieth of it.
func (e *Engine) realSpan(d time.Duration) time.Duration {
	if e.cfg.ClockScale <= 1 {
		return d
	}
	return time.Duration(float64(d) * e.cfg.ClockScale)
}
