package client

import (
	"context"
	"net/url"

	adhttp "github.com/autodebit/autodebit/http"
)

// LinkSessionParams are the fields of a new link session.
type LinkSessionParams struct {
	CustomerID string `json:"customerId"`
	Wallet     string `json:"wallet,omitempty"`    // empty: the buyer chooses
	ReturnURL  string `json:"returnUrl,omitempty"` // empty: the engine's "linked" page
	CancelURL  string `json:"cancelUrl,omitempty"`
	Locale     string `json:"locale,omitempty"`
	Lifetime   string `json:"lifetime,omitempty"` // a duration such as "2h"; empty: 1h
	// IdempotencyKey is sent as the Idempotency-Key header when set: the
	// same key with the same fields returns the first session.
	IdempotencyKey string `json:"-"`
}

// CreateLinkSession makes the page that links a buyer's wallet: POST
// /v1/link-sessions. Send the buyer to the returned URL.
func (c *Client) CreateLinkSession(ctx context.Context, p LinkSessionParams) (*adhttp.LinkSession, error) {
	var out adhttp.LinkSession
	return &out, c.do(ctx, "POST", "/v1/link-sessions", nil, p, p.IdempotencyKey, &out)
}

// LinkSession reads one link session.
func (c *Client) LinkSession(ctx context.Context, id string) (*adhttp.LinkSession, error) {
	var out adhttp.LinkSession
	return &out, c.do(ctx, "GET", "/v1/link-sessions/"+url.PathEscape(id), nil, nil, "", &out)
}

// LinkSessions lists link sessions, newest first (ListParams' Status,
// CustomerID, Wallet, created range and paging apply).
func (c *Client) LinkSessions(ctx context.Context, p ListParams) (*adhttp.List[adhttp.LinkSession], error) {
	var out adhttp.List[adhttp.LinkSession]
	return &out, c.do(ctx, "GET", "/v1/link-sessions", p.values(), nil, "", &out)
}

// CancelLinkSession cancels an open link session: POST
// /v1/link-sessions/{id}/cancel.
func (c *Client) CancelLinkSession(ctx context.Context, id string) (*adhttp.LinkSession, error) {
	var out adhttp.LinkSession
	return &out, c.do(ctx, "POST", "/v1/link-sessions/"+url.PathEscape(id)+"/cancel", nil, nil, "", &out)
}
