package autodebit

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on a webhook endpoint's fields.
const (
	MaxWebhookURLLength         = 2048
	MaxWebhookDescriptionLength = 256 // characters
	MaxWebhookEventTypes        = 64
)

// WebhookEndpoint is a URL of the merchant's backend that receives signed
// events (deliveries follow the Standard Webhooks specification).
//
// Secret and PreviousSecret are signing secrets ("whsec_…"): stores encrypt
// them at rest, the API shows a secret only in the answer that created it
// (create, rotate), and String, LogValue and JSON leave them out. After a
// rotation the previous secret is still honoured (deliveries are signed
// with both) until PreviousSecretExpiresAt, so that a receiver can switch
// without losing a delivery.
type WebhookEndpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes are the event types delivered to the endpoint; empty
	// means every type.
	EventTypes []string `json:"eventTypes"`
	Enabled    bool     `json:"enabled"`

	Secret                  string    `json:"-"`
	PreviousSecret          string    `json:"-"` // empty when none
	PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt,omitzero"`

	// FailingSince is when deliveries to the endpoint started failing
	// without a success since; zero while it is healthy. DisabledReason
	// says why a disabled endpoint is disabled (the merchant, or failures
	// for too long). Re-enabling clears both.
	FailingSince   time.Time `json:"failingSince,omitzero"`
	DisabledReason string    `json:"disabledReason,omitempty"`

	// IdempotencyKey is the merchant's Idempotency-Key of the create
	// request, unique across endpoints when set; RequestHash is a digest of
	// that request, so that a reused key with another body is refused.
	IdempotencyKey string `json:"-"`
	RequestHash    string `json:"-"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Version is incremented by every write; updates are compare-and-set on it.
	Version int64 `json:"-"`
}

// Validate returns EINVALID, naming the field, if a field is missing or
// malformed: the URL must be an absolute http or https URL of at most
// MaxWebhookURLLength bytes, without user info or fragment; the
// description printable and at most MaxWebhookDescriptionLength
// characters; each event type a known type, listed once.
//
// Whether the URL's host may be reached (private addresses) is the
// engine's policy, not checked here.
func (w *WebhookEndpoint) Validate() error {
	if err := ValidateWebhookURL(w.URL); err != nil {
		return err
	}
	if utf8.RuneCountInString(w.Description) > MaxWebhookDescriptionLength {
		return Errorf(EINVALID, "Webhook endpoint description must be at most %d characters.", MaxWebhookDescriptionLength)
	} else if !IsPrintable(w.Description) {
		return Errorf(EINVALID, "Webhook endpoint description must be printable UTF-8 text, without control characters.")
	}
	if err := ValidateEventTypes(w.EventTypes); err != nil {
		return err
	}
	if w.Secret == "" {
		return Errorf(EINVALID, "Webhook endpoint secret is required.")
	} else if w.PreviousSecret != "" && w.PreviousSecretExpiresAt.IsZero() {
		return Errorf(EINVALID, "Webhook endpoint previous secret needs the time it expires.")
	}
	if len(w.DisabledReason) > 256 || !IsPrintable(w.DisabledReason) {
		return Errorf(EINVALID, "Webhook endpoint disabled reason must be printable text of at most 256 characters.")
	}
	return nil
}

// ValidateWebhookURL returns EINVALID unless u is an absolute http or https
// URL with a host, without user info (credentials in a URL end up in logs)
// or fragment (never sent), of at most MaxWebhookURLLength bytes.
func ValidateWebhookURL(u string) error {
	if u == "" {
		return Errorf(EINVALID, "Webhook endpoint url is required.")
	} else if len(u) > MaxWebhookURLLength {
		return Errorf(EINVALID, "Webhook endpoint url must be at most %d characters.", MaxWebhookURLLength)
	}
	p, err := url.Parse(u)
	if err != nil || !IsPrintable(u) || strings.ContainsAny(u, " \t") {
		return Errorf(EINVALID, "Webhook endpoint url %q is not a valid URL.", clipText(u, 100))
	}
	switch {
	case p.Scheme != "http" && p.Scheme != "https":
		return Errorf(EINVALID, "Webhook endpoint url must be an absolute http:// or https:// URL, such as https://shop.example/webhooks.")
	case p.Host == "" || p.Hostname() == "":
		return Errorf(EINVALID, "Webhook endpoint url must name a host, such as https://shop.example/webhooks.")
	case p.User != nil:
		return Errorf(EINVALID, "Webhook endpoint url must not hold a user name or password; authenticate deliveries by their signature.")
	case p.Fragment != "" || strings.Contains(u, "#"):
		return Errorf(EINVALID, "Webhook endpoint url must not have a #fragment: it is never sent.")
	}
	return nil
}

// ValidateEventTypes returns EINVALID unless each type is a known event
// type, listed once, and there are at most MaxWebhookEventTypes of them.
// An empty list (every type) is valid.
func ValidateEventTypes(types []string) error {
	if len(types) > MaxWebhookEventTypes {
		return Errorf(EINVALID, "Webhook endpoint eventTypes lists %d types; at most %d.", len(types), MaxWebhookEventTypes)
	}
	seen := make(map[string]bool, len(types))
	for _, t := range types {
		if !EventType(t).Valid() {
			return Errorf(EINVALID, "Webhook endpoint event type %q is not an event type; use %s.", clipText(t, 64), EventTypeList())
		} else if seen[t] {
			return Errorf(EINVALID, "Webhook endpoint eventTypes lists %q twice.", t)
		}
		seen[t] = true
	}
	return nil
}

// Subscribes reports whether events of type typ are delivered to the
// endpoint (enabled or not).
func (w *WebhookEndpoint) Subscribes(typ string) bool {
	return len(w.EventTypes) == 0 || contains(w.EventTypes, typ)
}

// SigningSecrets returns the secrets a delivery at now is signed with: the
// current one, and the previous one while it is still honoured.
func (w *WebhookEndpoint) SigningSecrets(now time.Time) []string {
	out := []string{w.Secret}
	if w.PreviousSecret != "" && now.Before(w.PreviousSecretExpiresAt) {
		out = append(out, w.PreviousSecret)
	}
	return out
}

// String describes the endpoint without its secrets.
func (w *WebhookEndpoint) String() string {
	return fmt.Sprintf("WebhookEndpoint{ID:%s URL:%s Enabled:%t EventTypes:%v}", w.ID, w.URL, w.Enabled, w.EventTypes)
}

// LogValue implements slog.LogValuer without the endpoint's secrets.
func (w *WebhookEndpoint) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", w.ID),
		slog.String("url", w.URL),
		slog.Bool("enabled", w.Enabled),
		slog.Any("eventTypes", w.EventTypes),
	)
}

// WebhookEndpointFilter selects webhook endpoints. Zero fields match
// everything.
type WebhookEndpointFilter struct {
	Enabled *bool // only enabled (true) or disabled (false) endpoints
	Limit   int   // zero means no limit
	Offset  int
}

// clipText shortens s to at most n bytes for an error message, on a rune
// boundary, marking the cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
