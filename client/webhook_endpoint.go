package client

import (
	"context"
	"net/url"
	"strconv"

	adhttp "github.com/autodebit/autodebit/http"
)

// WebhookEndpointParams are the fields of a new webhook endpoint.
type WebhookEndpointParams struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"eventTypes,omitempty"` // empty: every type
	Description string   `json:"description,omitempty"`
	// IdempotencyKey is sent as the Idempotency-Key header when set.
	IdempotencyKey string `json:"-"`
}

// WebhookEndpointUpdate changes a webhook endpoint; nil fields stay as they
// are. A pointer to an empty EventTypes means every type.
type WebhookEndpointUpdate struct {
	URL         *string   `json:"url,omitempty"`
	EventTypes  *[]string `json:"eventTypes,omitempty"`
	Description *string   `json:"description,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// WebhookEndpointListParams filters the list of webhook endpoints. Nil
// Enabled lists all; zero Limit means the server's default (100).
type WebhookEndpointListParams struct {
	Enabled *bool
	Limit   int
	Offset  int
}

// CreateWebhookEndpoint adds an endpoint: POST /v1/webhook-endpoints. The
// answer carries the signing secret, which the server never shows again.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, p WebhookEndpointParams) (*adhttp.WebhookEndpointWithSecret, error) {
	var out adhttp.WebhookEndpointWithSecret
	return &out, c.do(ctx, "POST", "/v1/webhook-endpoints", nil, p, p.IdempotencyKey, &out)
}

// WebhookEndpoints lists endpoints, newest first.
func (c *Client) WebhookEndpoints(ctx context.Context, p WebhookEndpointListParams) (*adhttp.List[adhttp.WebhookEndpoint], error) {
	q := url.Values{}
	if p.Enabled != nil {
		q.Set("enabled", strconv.FormatBool(*p.Enabled))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset > 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	var out adhttp.List[adhttp.WebhookEndpoint]
	return &out, c.do(ctx, "GET", "/v1/webhook-endpoints", q, nil, "", &out)
}

// WebhookEndpoint reads one endpoint (never its secret).
func (c *Client) WebhookEndpoint(ctx context.Context, id string) (*adhttp.WebhookEndpoint, error) {
	var out adhttp.WebhookEndpoint
	return &out, c.do(ctx, "GET", "/v1/webhook-endpoints/"+url.PathEscape(id), nil, nil, "", &out)
}

// UpdateWebhookEndpoint changes an endpoint: PATCH /v1/webhook-endpoints/{id}.
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, id string, u WebhookEndpointUpdate) (*adhttp.WebhookEndpoint, error) {
	var out adhttp.WebhookEndpoint
	return &out, c.do(ctx, "PATCH", "/v1/webhook-endpoints/"+url.PathEscape(id), nil, u, "", &out)
}

// DeleteWebhookEndpoint deletes an endpoint and returns it as it was.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) (*adhttp.WebhookEndpoint, error) {
	var out adhttp.WebhookEndpoint
	return &out, c.do(ctx, "DELETE", "/v1/webhook-endpoints/"+url.PathEscape(id), nil, nil, "", &out)
}

// RotateWebhookEndpointSecret gives an endpoint a new signing secret, in
// the answer only; the old one still signs until previousSecretExpiresAt.
func (c *Client) RotateWebhookEndpointSecret(ctx context.Context, id string) (*adhttp.WebhookEndpointWithSecret, error) {
	var out adhttp.WebhookEndpointWithSecret
	return &out, c.do(ctx, "POST", "/v1/webhook-endpoints/"+url.PathEscape(id)+"/rotate-secret", nil, nil, "", &out)
}
