package autodebit

import (
	"encoding/json"
	"strings"
	"time"
)

// EventType names the state change an Event records, as "noun.change".
type EventType string

// Event types: one per state change the merchant's backend is told of.
// Link sessions are declared for the issue that builds them; nothing emits
// them yet.
const (
	EventAuthorizationActive  EventType = "authorization.active"
	EventAuthorizationFailed  EventType = "authorization.failed"
	EventAuthorizationExpired EventType = "authorization.expired"

	EventTokenRevoked EventType = "token.revoked" // the token says who: revokedBy
	EventTokenExpired EventType = "token.expired"

	EventChargeSucceeded EventType = "charge.succeeded"
	EventChargeFailed    EventType = "charge.failed"
	EventChargeCancelled EventType = "charge.cancelled"

	EventRefundSucceeded EventType = "refund.succeeded"
	EventRefundFailed    EventType = "refund.failed"

	EventLinkSessionCompleted EventType = "link_session.completed"
	EventLinkSessionExpired   EventType = "link_session.expired"

	EventSubscriptionCreated   EventType = "subscription.created"
	EventSubscriptionPastDue   EventType = "subscription.past_due"
	EventSubscriptionActive    EventType = "subscription.active"
	EventSubscriptionUnpaid    EventType = "subscription.unpaid"
	EventSubscriptionPaused    EventType = "subscription.paused"
	EventSubscriptionResumed   EventType = "subscription.resumed"
	EventSubscriptionCancelled EventType = "subscription.cancelled"
	EventSubscriptionCompleted EventType = "subscription.completed"
)

// EventTypes returns every event type, grouped by noun.
func EventTypes() []EventType {
	return []EventType{
		EventAuthorizationActive, EventAuthorizationFailed, EventAuthorizationExpired,
		EventTokenRevoked, EventTokenExpired,
		EventChargeSucceeded, EventChargeFailed, EventChargeCancelled,
		EventRefundSucceeded, EventRefundFailed,
		EventLinkSessionCompleted, EventLinkSessionExpired,
		EventSubscriptionCreated, EventSubscriptionPastDue, EventSubscriptionActive, EventSubscriptionUnpaid,
		EventSubscriptionPaused, EventSubscriptionResumed, EventSubscriptionCancelled, EventSubscriptionCompleted,
	}
}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool { return contains(EventTypes(), t) }

// EventTypeList is every event type, comma-separated, for error messages
// that must say what is accepted.
func EventTypeList() string {
	types := EventTypes()
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Event records one state change the merchant's backend is told of. It is
// written in the same transaction as the change (an outbox), so no change
// is without its event and no event without its change. Events are
// immutable; retention deletes old ones.
type Event struct {
	ID       string
	Type     EventType
	ObjectID string // the authorization, token, charge, refund or subscription that changed
	// Sequence counts the object's events from 1, in the order of its
	// changes, so that a receiver can put them in order.
	Sequence int64
	// Data is the object as its GET shows it right after the change (the
	// api package's view); the API shows it as data.object.
	Data      json.RawMessage
	CreatedAt time.Time
}

// Validate returns EINVALID if a required field is missing or malformed.
func (e *Event) Validate() error {
	switch {
	case !e.Type.Valid():
		return Errorf(EINVALID, "Event type %q is not one of %s.", e.Type, EventTypeList())
	case e.ObjectID == "":
		return Errorf(EINVALID, "Event object ID is required.")
	case len(e.Data) == 0:
		return Errorf(EINVALID, "Event data (the object as its GET shows it) is required.")
	case !json.Valid(e.Data) || strings.TrimSpace(string(e.Data))[0] != '{':
		return Errorf(EINVALID, "Event data must be a JSON object.")
	}
	return nil
}

// EventFilter selects events for Reader.FindEvents.
type EventFilter struct {
	Type          EventType
	ObjectID      string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // zero means no limit
	Offset        int
}
