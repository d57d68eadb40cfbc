package client

import (
	"context"
	"net/url"
	"strconv"

	adhttp "github.com/autodebit/autodebit/http"
)

// SubscriptionParams are the fields of a new subscription; see
// POST /v1/subscriptions.
type SubscriptionParams struct {
	TokenID       string        `json:"tokenId"`
	Amount        adhttp.Amount `json:"amount"`
	Interval      string        `json:"interval"`                // day, week, month or year
	IntervalCount int           `json:"intervalCount,omitempty"` // zero: 1
	StartAt       string        `json:"startAt,omitempty"`       // RFC 3339; empty: now
	Cycles        int           `json:"cycles,omitempty"`        // zero: until cancelled
	Description   string        `json:"description,omitempty"`
	TimeZone      string        `json:"timeZone,omitempty"` // IANA; empty: UTC
	// RetrySchedule is the wait after each failed attempt ("24h", "3d"):
	// nil sends none (the server's default), a pointer to an empty list
	// means no retries.
	RetrySchedule *[]string `json:"retrySchedule,omitempty"`
	// IdempotencyKey is sent as the Idempotency-Key header when set.
	IdempotencyKey string `json:"-"`
}

// CreateSubscription subscribes a token: POST /v1/subscriptions.
func (c *Client) CreateSubscription(ctx context.Context, p SubscriptionParams) (*adhttp.Subscription, error) {
	var out adhttp.Subscription
	return &out, c.do(ctx, "POST", "/v1/subscriptions", nil, p, p.IdempotencyKey, &out)
}

// Subscription reads one subscription.
func (c *Client) Subscription(ctx context.Context, id string) (*adhttp.Subscription, error) {
	var out adhttp.Subscription
	return &out, c.do(ctx, "GET", "/v1/subscriptions/"+url.PathEscape(id), nil, nil, "", &out)
}

// Subscriptions lists subscriptions, newest first (Status, CustomerID,
// Wallet, TokenID, dates, page).
func (c *Client) Subscriptions(ctx context.Context, p ListParams) (*adhttp.List[adhttp.Subscription], error) {
	var out adhttp.List[adhttp.Subscription]
	return &out, c.do(ctx, "GET", "/v1/subscriptions", p.values(), nil, "", &out)
}

// SubscriptionCharges lists a subscription's charges, newest first: every
// attempt of every period, or of period when it is above zero.
func (c *Client) SubscriptionCharges(ctx context.Context, id string, period int) (*adhttp.List[adhttp.Charge], error) {
	q := url.Values{}
	if period > 0 {
		q.Set("period", strconv.Itoa(period))
	}
	var out adhttp.List[adhttp.Charge]
	return &out, c.do(ctx, "GET", "/v1/subscriptions/"+url.PathEscape(id)+"/charges", q, nil, "", &out)
}

// PauseSubscription stops charging a subscription until it is resumed.
func (c *Client) PauseSubscription(ctx context.Context, id string) (*adhttp.Subscription, error) {
	return c.subscriptionAction(ctx, id, "pause", nil)
}

// ResumeSubscription charges a paused subscription again, from the first
// period that starts at or after now.
func (c *Client) ResumeSubscription(ctx context.Context, id string) (*adhttp.Subscription, error) {
	return c.subscriptionAction(ctx, id, "resume", nil)
}

// CancelSubscription ends a subscription; reason (optional) is kept.
func (c *Client) CancelSubscription(ctx context.Context, id, reason string) (*adhttp.Subscription, error) {
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	return c.subscriptionAction(ctx, id, "cancel", body)
}

func (c *Client) subscriptionAction(ctx context.Context, id, action string, body any) (*adhttp.Subscription, error) {
	var out adhttp.Subscription
	return &out, c.do(ctx, "POST", "/v1/subscriptions/"+url.PathEscape(id)+"/"+action, nil, body, "", &out)
}
