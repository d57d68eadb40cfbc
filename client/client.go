// Package client calls autodebit's merchant REST API. Its methods return the
// http package's response types, and a refusal from the server as *Error.
// Tests, benchmarks, chaos runs and the CLI share it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/autodebit/autodebit"
	adhttp "github.com/autodebit/autodebit/http"
)

// Client calls one autodebit server. Its zero value is not usable: set
// BaseURL and APIKey. It is safe for concurrent use.
type Client struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:8080.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>".
	APIKey string
	// HTTPClient makes the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client
}

// New returns a Client for baseURL with apiKey.
func New(baseURL, apiKey string) *Client {
	return &Client{BaseURL: baseURL, APIKey: apiKey}
}

// Error is a refusal from the server: the HTTP status and the body's code
// and message. Message is a sentence meant for a person.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the code of an *Error in err's chain, or "" if none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ListParams filters a list. Empty fields do not filter; zero Limit means
// the server's default (100).
type ListParams struct {
	Status     string
	CustomerID string
	Wallet     string
	TokenID    string // charges and subscriptions
	// SubscriptionID lists a subscription's charges (charges only).
	SubscriptionID string
	CreatedAfter   string // RFC 3339 time or YYYY-MM-DD
	CreatedBefore  string
	Limit          int
	Offset         int
}

func (p ListParams) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("status", p.Status)
	set("customerId", p.CustomerID)
	set("wallet", p.Wallet)
	set("tokenId", p.TokenID)
	set("subscriptionId", p.SubscriptionID)
	set("createdAfter", p.CreatedAfter)
	set("createdBefore", p.CreatedBefore)
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset > 0 {
		v.Set("offset", strconv.Itoa(p.Offset))
	}
	return v
}

// ChargeParams are the fields of a new charge.
type ChargeParams struct {
	TokenID     string        `json:"tokenId"`
	Amount      adhttp.Amount `json:"amount"`
	Description string        `json:"description,omitempty"`
	// IdempotencyKey is sent as the Idempotency-Key header when set: the
	// same key with the same fields returns the first charge.
	IdempotencyKey string `json:"-"`
}

// RefundParams are the fields of a new refund.
type RefundParams struct {
	Amount         adhttp.Amount `json:"amount"`
	Reason         string        `json:"reason,omitempty"`
	IdempotencyKey string        `json:"-"`
}

// CreateAuthorization starts linking a wallet: POST /v1/authorizations.
func (c *Client) CreateAuthorization(ctx context.Context, customerID, wallet string) (*adhttp.Authorization, error) {
	var out adhttp.Authorization
	body := map[string]string{"customerId": customerID, "wallet": wallet}
	return &out, c.do(ctx, "POST", "/v1/authorizations", nil, body, "", &out)
}

// Authorization reads one authorization.
func (c *Client) Authorization(ctx context.Context, id string) (*adhttp.Authorization, error) {
	var out adhttp.Authorization
	return &out, c.do(ctx, "GET", "/v1/authorizations/"+url.PathEscape(id), nil, nil, "", &out)
}

// Authorizations lists authorizations, newest first.
func (c *Client) Authorizations(ctx context.Context, p ListParams) (*adhttp.List[adhttp.Authorization], error) {
	var out adhttp.List[adhttp.Authorization]
	return &out, c.do(ctx, "GET", "/v1/authorizations", p.values(), nil, "", &out)
}

// Token reads one token.
func (c *Client) Token(ctx context.Context, id string) (*adhttp.Token, error) {
	var out adhttp.Token
	return &out, c.do(ctx, "GET", "/v1/tokens/"+url.PathEscape(id), nil, nil, "", &out)
}

// Tokens lists tokens.
func (c *Client) Tokens(ctx context.Context, p ListParams) (*adhttp.List[adhttp.Token], error) {
	var out adhttp.List[adhttp.Token]
	return &out, c.do(ctx, "GET", "/v1/tokens", p.values(), nil, "", &out)
}

// RevokeToken revokes a token: DELETE /v1/tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) (*adhttp.Token, error) {
	var out adhttp.Token
	return &out, c.do(ctx, "DELETE", "/v1/tokens/"+url.PathEscape(id), nil, nil, "", &out)
}

// CreateCharge charges a token: POST /v1/charges.
func (c *Client) CreateCharge(ctx context.Context, p ChargeParams) (*adhttp.Charge, error) {
	var out adhttp.Charge
	return &out, c.do(ctx, "POST", "/v1/charges", nil, p, p.IdempotencyKey, &out)
}

// Charge reads one charge.
func (c *Client) Charge(ctx context.Context, id string) (*adhttp.Charge, error) {
	var out adhttp.Charge
	return &out, c.do(ctx, "GET", "/v1/charges/"+url.PathEscape(id), nil, nil, "", &out)
}

// Charges lists charges, newest first.
func (c *Client) Charges(ctx context.Context, p ListParams) (*adhttp.List[adhttp.Charge], error) {
	var out adhttp.List[adhttp.Charge]
	return &out, c.do(ctx, "GET", "/v1/charges", p.values(), nil, "", &out)
}

// CancelCharge cancels a charge: POST /v1/charges/{id}/cancel.
func (c *Client) CancelCharge(ctx context.Context, id string) (*adhttp.Charge, error) {
	var out adhttp.Charge
	return &out, c.do(ctx, "POST", "/v1/charges/"+url.PathEscape(id)+"/cancel", nil, nil, "", &out)
}

// CreateRefund refunds part or all of a charge.
func (c *Client) CreateRefund(ctx context.Context, chargeID string, p RefundParams) (*adhttp.Refund, error) {
	var out adhttp.Refund
	return &out, c.do(ctx, "POST", "/v1/charges/"+url.PathEscape(chargeID)+"/refunds", nil, p, p.IdempotencyKey, &out)
}

// ChargeRefunds lists the refunds of a charge.
func (c *Client) ChargeRefunds(ctx context.Context, chargeID string) (*adhttp.List[adhttp.Refund], error) {
	var out adhttp.List[adhttp.Refund]
	return &out, c.do(ctx, "GET", "/v1/charges/"+url.PathEscape(chargeID)+"/refunds", nil, nil, "", &out)
}

// Refund reads one refund.
func (c *Client) Refund(ctx context.Context, id string) (*adhttp.Refund, error) {
	var out adhttp.Refund
	return &out, c.do(ctx, "GET", "/v1/refunds/"+url.PathEscape(id), nil, nil, "", &out)
}

// Timeline returns the timeline (audit trail) of an authorization, token,
// charge, refund, webhook endpoint, link session or subscription, oldest first.
func (c *Client) Timeline(ctx context.Context, id string) (*adhttp.List[*autodebit.TimelineEntry], error) {
	var kind string
	switch {
	case strings.HasPrefix(id, autodebit.AuthorizationIDPrefix):
		kind = "authorizations"
	case strings.HasPrefix(id, autodebit.TokenIDPrefix):
		kind = "tokens"
	case strings.HasPrefix(id, autodebit.ChargeIDPrefix):
		kind = "charges"
	case strings.HasPrefix(id, autodebit.RefundIDPrefix):
		kind = "refunds"
	case strings.HasPrefix(id, autodebit.WebhookEndpointIDPrefix):
		kind = "webhook-endpoints"
	case strings.HasPrefix(id, autodebit.LinkSessionIDPrefix):
		kind = "link-sessions"
	case strings.HasPrefix(id, autodebit.SubscriptionIDPrefix):
		kind = "subscriptions"
	default:
		return nil, &Error{Status: http.StatusNotFound, Code: autodebit.ENOTFOUND, Message: fmt.Sprintf("No object %q.", id)}
	}
	var page adhttp.List[adhttp.TimelineEntry]
	if err := c.do(ctx, "GET", "/v1/"+kind+"/"+url.PathEscape(id)+"/timeline", nil, nil, "", &page); err != nil {
		return nil, err
	}
	out := &adhttp.List[*autodebit.TimelineEntry]{Data: make([]*autodebit.TimelineEntry, 0, len(page.Data)), Total: page.Total}
	for _, e := range page.Data {
		out.Data = append(out.Data, e.Domain())
	}
	return out, nil
}

// EventListParams filters GET /v1/events. Empty fields do not filter; zero
// Limit means the server's default (100).
type EventListParams struct {
	Type          string // an event type, e.g. "charge.succeeded"
	ObjectID      string
	CreatedAfter  string // RFC 3339 time or YYYY-MM-DD
	CreatedBefore string
	Limit         int
	Offset        int
}

func (p EventListParams) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"type": p.Type, "objectId": p.ObjectID, "createdAfter": p.CreatedAfter, "createdBefore": p.CreatedBefore} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset > 0 {
		v.Set("offset", strconv.Itoa(p.Offset))
	}
	return v
}

// Events lists events, newest first: GET /v1/events.
func (c *Client) Events(ctx context.Context, p EventListParams) (*adhttp.List[adhttp.Event], error) {
	var out adhttp.List[adhttp.Event]
	return &out, c.do(ctx, "GET", "/v1/events", p.values(), nil, "", &out)
}

// Event reads one event: GET /v1/events/{id}.
func (c *Client) Event(ctx context.Context, id string) (*adhttp.Event, error) {
	var out adhttp.Event
	return &out, c.do(ctx, "GET", "/v1/events/"+url.PathEscape(id), nil, nil, "", &out)
}

// Health reads the engine's backlog: GET /v1/health.
func (c *Client) Health(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, c.do(ctx, "GET", "/v1/health", nil, nil, "", &out)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in any, idemKey string, out any) error {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the autodebit server at %s: %w", c.BaseURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
			return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
			Message: fmt.Sprintf("The server answered %s to %s %s: %s", resp.Status, method, path, msg)}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
