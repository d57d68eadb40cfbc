package http

import (
	"net/http"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/api"
	"github.com/autodebit/autodebit/engine"
)

// Subscription is a subscription as the API shows it.
type (
	Subscription = api.Subscription
	Period       = api.Period
)

var toSubscription = api.ToSubscription

type createSubscriptionRequest struct {
	TokenID string  `json:"tokenId"`
	Amount  *Amount `json:"amount"`
	// Interval is the unit of a period: day, week, month or year.
	Interval string `json:"interval"`
	// IntervalCount is how many intervals a period lasts; default 1.
	IntervalCount int `json:"intervalCount,omitempty"`
	// StartAt is when the first period starts and its charge is due, an
	// RFC 3339 time; default now.
	StartAt string `json:"startAt,omitempty"`
	// Cycles is how many periods to charge; absent means until cancelled.
	Cycles      int    `json:"cycles,omitempty"`
	Description string `json:"description,omitempty"`
	// TimeZone is the IANA zone whose calendar the periods follow, such as
	// Asia/Manila; default UTC.
	TimeZone string `json:"timeZone,omitempty"`
	// RetrySchedule is the wait after each failed attempt of a period
	// before the next ("24h", "3d"); absent means ["24h","72h","168h"], []
	// means no retries.
	RetrySchedule *[]string `json:"retrySchedule,omitempty"`
}

type cancelSubscriptionRequest struct {
	// Reason is kept on the subscription (cancelReason); default
	// "cancelled by the merchant".
	Reason string `json:"reason,omitempty"`
}

func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request) error {
	var req createSubscriptionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.TokenID == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"tokenId\" is required.")
	}
	amount, err := req.Amount.Domain("amount")
	if err != nil {
		return err
	}
	if req.Interval == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"interval\" is required: day, week, month or year.")
	}
	in := engine.SubscriptionInput{
		TokenID: req.TokenID, Amount: amount, Interval: autodebit.Interval(req.Interval), IntervalCount: req.IntervalCount,
		Cycles: req.Cycles, Description: req.Description, TimeZone: req.TimeZone, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
	if req.IntervalCount < 0 {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"intervalCount\" must be at least 1.")
	}
	if req.StartAt != "" {
		if in.StartAt, err = time.Parse(time.RFC3339, req.StartAt); err != nil {
			return autodebit.Errorf(autodebit.EINVALID, "Field \"startAt\" must be an RFC 3339 time such as \"2026-05-01T00:00:00Z\".")
		}
	}
	if req.RetrySchedule != nil {
		if in.RetrySchedule, err = autodebit.ParseRetrySchedule(*req.RetrySchedule); err != nil {
			return err
		}
	}
	ctx, replay := engine.WithReplayReport(r.Context())
	sub, err := s.engine.CreateSubscription(ctx, in)
	if err != nil {
		return err
	}
	markReplayed(w, *replay)
	return writeJSON(w, http.StatusCreated, toSubscription(sub))
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) error {
	return writeSubscription(w)(s.store.FindSubscriptionByID(r.Context(), r.PathValue("id")))
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.SubscriptionFilter{
		Status: autodebit.SubscriptionStatus(q.str("status")), TokenID: q.str("tokenId"), CustomerID: q.str("customerId"),
		Wallet: q.str("wallet"), CreatedAfter: q.time("createdAfter"), CreatedBefore: q.time("createdBefore"),
		Limit: q.limit(), Offset: q.int("offset"),
	}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "is not a subscription status (active, past_due, unpaid, paused, cancelled, completed)")
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindSubscriptions(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toSubscription))
}

// subscriptionCharges serves a subscription's charges, newest first.
func (s *Server) subscriptionCharges(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	id := r.PathValue("id")
	f := autodebit.ChargeFilter{SubscriptionID: id, Status: autodebit.ChargeStatus(q.str("status")), Period: q.int("period"),
		Limit: q.limit(), Offset: q.int("offset")}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "is not a charge status (INIT, SUCCESS, FAIL, CANCELLED)")
	}
	if q.err != nil {
		return q.err
	}
	if _, err := s.store.FindSubscriptionByID(r.Context(), id); err != nil {
		return err
	}
	items, total, err := s.store.FindCharges(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toCharge))
}

func (s *Server) pauseSubscription(w http.ResponseWriter, r *http.Request) error {
	return writeSubscription(w)(s.engine.PauseSubscription(r.Context(), r.PathValue("id")))
}

func (s *Server) resumeSubscription(w http.ResponseWriter, r *http.Request) error {
	return writeSubscription(w)(s.engine.ResumeSubscription(r.Context(), r.PathValue("id")))
}

// writeSubscription answers with the subscription an action returned, or
// its error.
func writeSubscription(w http.ResponseWriter) func(*autodebit.Subscription, error) error {
	return func(sub *autodebit.Subscription, err error) error {
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, toSubscription(sub))
	}
}

// cancelSubscription serves POST /v1/subscriptions/{id}/cancel: the body
// ({reason}) is optional.
func (s *Server) cancelSubscription(w http.ResponseWriter, r *http.Request) error {
	var req cancelSubscriptionRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	return writeSubscription(w)(s.engine.CancelSubscription(r.Context(), r.PathValue("id"), req.Reason))
}

// subscriptionOperations document the subscription routes; OpenAPI adds
// them to apiOperations.
var subscriptionOperations = []apiOperation{
	{Pattern: "POST /v1/subscriptions", ID: "createSubscription", Summary: "Charge a token on a schedule",
		Description: "One charge per period, due at the period's start: period n starts at startAt plus n-1 intervals on the calendar of timeZone (UTC by default); a month keeps startAt's day, clamped to the month's end (Jan 31, Feb 28, Mar 31). " +
			"The first charge is at startAt (default now: it is made at once). A charge that fails with a retryable code makes the subscription past_due and is retried after each wait of retrySchedule; when they are spent the period is unpaid and the next period is charged on schedule. " +
			"At most one charge per period ever succeeds.",
		Body: createSubscriptionRequest{}, Idempotent: true, Status: 201, Response: Subscription{}},
	{Pattern: "GET /v1/subscriptions", ID: "listSubscriptions", Summary: "List subscriptions, newest first",
		Query:  listQuery(autodebit.SubscriptionStatuses(), queryParam{"tokenId", "string", "Only subscriptions of this token.", nil}),
		Status: 200, Response: List[Subscription]{}},
	{Pattern: "GET /v1/subscriptions/{id}", ID: "getSubscription", Summary: "Read a subscription", Status: 200, Response: Subscription{}},
	{Pattern: "GET /v1/subscriptions/{id}/charges", ID: "listSubscriptionCharges", Summary: "Charges of a subscription, newest first",
		Description: "Every attempt of every period: each charge carries subscriptionId and period {number, start, end}.",
		Query: []queryParam{
			{"period", "integer", "Only the attempts of this period number.", nil},
			{"status", "string", "Only charges in this status.", strs(autodebit.ChargeStatuses())},
			{"limit", "integer", "Page size, 1 to 100; default 100.", nil},
			{"offset", "integer", "Objects to skip; default 0.", nil},
		}, Status: 200, Response: List[Charge]{}},
	{Pattern: "GET /v1/subscriptions/{id}/timeline", ID: "listSubscriptionTimeline", Summary: "Timeline (audit trail) of a subscription: every renewal, retry, result and change",
		Status: 200, Response: List[TimelineEntry]{}},
	{Pattern: "POST /v1/subscriptions/{id}/pause", ID: "pauseSubscription", Summary: "Pause a subscription",
		Description: "Nothing is charged until it is resumed; a charge in flight finishes (a success pays its period, a failure is not retried). 409 for a cancelled or completed subscription.",
		Status:      200, Response: Subscription{}},
	{Pattern: "POST /v1/subscriptions/{id}/resume", ID: "resumeSubscription", Summary: "Resume a paused subscription",
		Description: "Charging continues with the first period that starts at or after now; the periods that started while it was paused are skipped. 409 for a cancelled or completed subscription.",
		Status:      200, Response: Subscription{}},
	{Pattern: "POST /v1/subscriptions/{id}/cancel", ID: "cancelSubscription", Summary: "Cancel a subscription for good",
		Description: "A charge in flight finishes. 409 for a completed subscription.",
		Body:        cancelSubscriptionRequest{}, BodyOptional: true, Status: 200, Response: Subscription{}},
}
