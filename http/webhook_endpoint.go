package http

import (
	"net/http"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
)

// WebhookEndpoint is a webhook endpoint as the API shows it: never its
// signing secret (see WebhookEndpointWithSecret).
type WebhookEndpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes are the event types delivered; empty means every type.
	EventTypes []string `json:"eventTypes"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason says why a disabled endpoint is disabled.
	DisabledReason string `json:"disabledReason,omitempty"`
	// FailingSince is when deliveries started failing, while they do.
	FailingSince *time.Time `json:"failingSince,omitempty"`
	// PreviousSecretExpiresAt is when the secret replaced by the latest
	// rotation stops signing deliveries; absent when none was rotated.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

// WebhookEndpointWithSecret is the answer to creating an endpoint and to
// rotating its secret: the endpoint and its signing secret, shown only
// there.
type WebhookEndpointWithSecret struct {
	WebhookEndpoint
	// Secret signs deliveries: "whsec_" and the base64 of 32 random bytes.
	// Keep it; it is not shown again.
	Secret string `json:"secret"`
}

func toWebhookEndpoint(w *autodebit.WebhookEndpoint) WebhookEndpoint {
	types := w.EventTypes
	if types == nil {
		types = []string{}
	}
	return WebhookEndpoint{
		ID: w.ID, URL: w.URL, Description: w.Description, EventTypes: types, Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, FailingSince: timePtr(w.FailingSince),
		PreviousSecretExpiresAt: timePtr(w.PreviousSecretExpiresAt),
		CreatedAt:               apiTime(w.CreatedAt), UpdatedAt: apiTime(w.UpdatedAt),
	}
}

func withSecret(w *autodebit.WebhookEndpoint) WebhookEndpointWithSecret {
	return WebhookEndpointWithSecret{WebhookEndpoint: toWebhookEndpoint(w), Secret: w.Secret}
}

type createWebhookEndpointRequest struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"eventTypes,omitempty"` // omitted: every type
	Description string   `json:"description,omitempty"`
}

// updateWebhookEndpointRequest is a PATCH: absent (or null) fields stay.
type updateWebhookEndpointRequest struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"eventTypes"` // [] means every type
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (s *Server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req createWebhookEndpointRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.URL == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"url\" is required.")
	}
	ctx, replay := engine.WithReplayReport(r.Context())
	ep, err := s.engine.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{
		URL: req.URL, EventTypes: req.EventTypes, Description: req.Description, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	markReplayed(w, *replay)
	return writeJSON(w, http.StatusCreated, withSecret(ep))
}

func (s *Server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.WebhookEndpointFilter{Limit: q.limit(), Offset: q.int("offset")}
	switch v := q.str("enabled"); v {
	case "":
	case "true", "false":
		enabled := v == "true"
		f.Enabled = &enabled
	default:
		q.fail("enabled", "must be true or false")
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindWebhookEndpoints(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toWebhookEndpoint))
}

func (s *Server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.store.FindWebhookEndpointByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toWebhookEndpoint(ep))
}

func (s *Server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req updateWebhookEndpointRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ep, err := s.engine.UpdateWebhookEndpoint(r.Context(), r.PathValue("id"), engine.WebhookEndpointUpdate{
		URL: req.URL, EventTypes: req.EventTypes, Description: req.Description, Enabled: req.Enabled,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toWebhookEndpoint(ep))
}

func (s *Server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.engine.DeleteWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toWebhookEndpoint(ep))
}

func (s *Server) rotateWebhookEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.engine.RotateWebhookEndpointSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, withSecret(ep))
}

// webhookEndpointTimeline serves an endpoint's timeline, which outlives the
// endpoint: a deleted endpoint's entries say when it was deleted. An ID
// with neither an endpoint nor entries is ENOTFOUND.
func (s *Server) webhookEndpointTimeline(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	if !hasPrefix(id, autodebit.WebhookEndpointIDPrefix) {
		return autodebit.Errorf(autodebit.ENOTFOUND, "Webhook endpoint not found.")
	}
	_, err := s.store.FindWebhookEndpointByID(ctx, id)
	if err != nil && autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
		return err
	}
	entries, terr := s.store.FindTimeline(ctx, id)
	if terr != nil {
		return terr
	}
	if err != nil && len(entries) == 0 {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(entries, len(entries), toTimelineEntry))
}

// webhookEndpointOperations document the webhook endpoint routes; OpenAPI
// adds them to apiOperations.
var webhookEndpointOperations = []apiOperation{
	{Pattern: "POST /v1/webhook-endpoints", ID: "createWebhookEndpoint", Summary: "Add a webhook endpoint",
		Description: "Events (all types, or those in eventTypes) are POSTed to url, signed as Standard Webhooks specifies. The answer holds the signing secret, which is never shown again: keep it. " +
			"url must be absolute http(s), without user info; a production engine refuses hosts that are or resolve to private, loopback or link-local addresses.",
		Body: createWebhookEndpointRequest{}, Idempotent: true, Status: 201, Response: WebhookEndpointWithSecret{}},
	{Pattern: "GET /v1/webhook-endpoints", ID: "listWebhookEndpoints", Summary: "List webhook endpoints, newest first",
		Query: []queryParam{
			{"enabled", "boolean", "Only enabled (true) or disabled (false) endpoints.", nil},
			{"limit", "integer", "Page size, 1 to 100; default 100.", nil},
			{"offset", "integer", "Objects to skip; default 0.", nil},
		}, Status: 200, Response: List[WebhookEndpoint]{}},
	{Pattern: "GET /v1/webhook-endpoints/{id}", ID: "getWebhookEndpoint", Summary: "Read a webhook endpoint (never its secret)", Status: 200, Response: WebhookEndpoint{}},
	{Pattern: "PATCH /v1/webhook-endpoints/{id}", ID: "updateWebhookEndpoint", Summary: "Change a webhook endpoint",
		Description: "Changes the fields sent (url, eventTypes, description, enabled); absent fields stay. enabled: false stops deliveries; enabled: true resumes them and clears failingSince and disabledReason.",
		Body:        updateWebhookEndpointRequest{}, Status: 200, Response: WebhookEndpoint{}},
	{Pattern: "DELETE /v1/webhook-endpoints/{id}", ID: "deleteWebhookEndpoint", Summary: "Delete a webhook endpoint",
		Description: "Nothing is delivered to it any more. Returns the endpoint as it was.", Status: 200, Response: WebhookEndpoint{}},
	{Pattern: "POST /v1/webhook-endpoints/{id}/rotate-secret", ID: "rotateWebhookEndpointSecret", Summary: "Give a webhook endpoint a new signing secret",
		Description: "Returns the new secret, shown only here. For 24 hours (until previousSecretExpiresAt) deliveries carry signatures by both the old and the new secret, so the receiver can switch without refusing one; rotating again within that time ends the older secret's overlap.",
		Status:      200, Response: WebhookEndpointWithSecret{}},
	{Pattern: "GET /v1/webhook-endpoints/{id}/timeline", ID: "listWebhookEndpointTimeline", Summary: "Timeline (audit trail) of a webhook endpoint: creation, changes, rotations, deletion",
		Status: 200, Response: List[TimelineEntry]{}},
}
