package autodebit

import (
	"strings"
	"time"
	"unicode/utf8"
)

// DeliveryStatus is the state of a webhook delivery.
type DeliveryStatus string

// Delivery statuses. A delivery is pending until an attempt gets a 2xx
// (delivered) or the retry schedule runs out (failed). A redelivery the
// merchant asks for moves a delivered or failed one back to pending.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// DeliveryStatuses returns every delivery status.
func DeliveryStatuses() []DeliveryStatus {
	return []DeliveryStatus{DeliveryPending, DeliveryDelivered, DeliveryFailed}
}

// Valid reports whether s is a known delivery status.
func (s DeliveryStatus) Valid() bool { return contains(DeliveryStatuses(), s) }

// MaxDeliveryResponseBytes bounds the receiver's response body kept with an
// attempt: enough to read an error message, never a whole page.
const MaxDeliveryResponseBytes = 1024

// Delivery is one event sent to one webhook endpoint: created pending, in
// the event's transaction, for each enabled endpoint subscribed to its
// type, and sent by a deliver_webhook job until it is delivered or failed.
// A receiver may get it more than once (at least once): it dedupes on the
// event ID, the webhook-id header.
type Delivery struct {
	ID         string
	EventID    string
	EndpointID string
	Status     DeliveryStatus
	// Attempts counts the attempts claimed so far, each a DeliveryAttempt.
	Attempts int
	// NextAttemptAt is when a pending delivery is due; zero once it is
	// delivered or failed.
	NextAttemptAt  time.Time
	LastStatusCode int    // of the latest recorded attempt; 0 if it got no answer
	LastError      string // of the latest recorded attempt; empty on a 2xx
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    time.Time // zero unless delivered
	// Version is incremented by every write; updates are compare-and-set on it.
	Version int64
}

// Validate returns EINVALID, naming the field, if a field is missing or
// malformed.
func (d *Delivery) Validate() error {
	switch {
	case d.EventID == "":
		return Errorf(EINVALID, "Delivery event ID is required.")
	case d.EndpointID == "":
		return Errorf(EINVALID, "Delivery endpoint ID is required.")
	case !d.Status.Valid():
		return Errorf(EINVALID, "Delivery status %q is not pending, delivered or failed.", d.Status)
	case d.Attempts < 0:
		return Errorf(EINVALID, "Delivery attempts must not be negative.")
	case d.Status == DeliveryPending && d.NextAttemptAt.IsZero():
		return Errorf(EINVALID, "A pending delivery needs the time of its next attempt.")
	case d.Status == DeliveryDelivered && d.DeliveredAt.IsZero():
		return Errorf(EINVALID, "A delivered delivery needs the time it was delivered.")
	case len(d.LastError) > 1024 || !utf8.ValidString(d.LastError):
		return Errorf(EINVALID, "Delivery last error must be UTF-8 text of at most 1024 bytes.")
	}
	return nil
}

// DeliveryAttempt is one try of a delivery: claimed (StartedAt) before the
// POST and recorded (FinishedAt) after it, each in its own transaction, so
// that an attempt whose process died in between is seen open and recorded
// as interrupted by the next run.
type DeliveryAttempt struct {
	DeliveryID string
	Attempt    int // from 1
	StartedAt  time.Time
	FinishedAt time.Time // zero while the attempt is open
	Duration   time.Duration
	StatusCode int    // 0 if there was no HTTP answer
	Error      string // empty on a 2xx
	// Response is the start of the receiver's response body, at most
	// MaxDeliveryResponseBytes, as text.
	Response string
}

// Open reports whether the attempt was claimed and never recorded.
func (a *DeliveryAttempt) Open() bool { return a.FinishedAt.IsZero() }

// Validate returns EINVALID, naming the field, if a field is missing or
// malformed.
func (a *DeliveryAttempt) Validate() error {
	switch {
	case a.DeliveryID == "":
		return Errorf(EINVALID, "Delivery attempt delivery ID is required.")
	case a.Attempt < 1:
		return Errorf(EINVALID, "Delivery attempt number must be 1 or more.")
	case a.StartedAt.IsZero():
		return Errorf(EINVALID, "Delivery attempt start time is required.")
	case a.Duration < 0:
		return Errorf(EINVALID, "Delivery attempt duration must not be negative.")
	case len(a.Response) > MaxDeliveryResponseBytes || !utf8.ValidString(a.Response):
		return Errorf(EINVALID, "Delivery attempt response must be UTF-8 text of at most %d bytes.", MaxDeliveryResponseBytes)
	case len(a.Error) > 1024 || !utf8.ValidString(a.Error):
		return Errorf(EINVALID, "Delivery attempt error must be UTF-8 text of at most 1024 bytes.")
	}
	return nil
}

// ClipText returns s as valid UTF-8 of at most n bytes, cut on a rune
// boundary (invalid bytes replaced), for storing a receiver's text.
func ClipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// DeliveryFilter selects deliveries for Reader.FindDeliveries. Zero fields
// match everything.
type DeliveryFilter struct {
	EventID    string
	EndpointID string
	Status     DeliveryStatus
	Limit      int // zero means no limit
	Offset     int
}
