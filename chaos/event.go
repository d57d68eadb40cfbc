package chaos

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/autodebit/autodebit"
)

// EventComparison is the result of comparing the events the engine
// produced with the changes its records show, and with what the webhook
// receiver got. Each slice holds one sentence per problem; the events are
// right when all of them are empty and BadSignatures is zero.
type EventComparison struct {
	Expected int `json:"expected"` // events the final records call for
	Produced int `json:"produced"` // events in the store
	// ByType counts the produced events by type.
	ByType map[string]int `json:"byType"`
	// Missing lists changes with no event of their type.
	Missing []string `json:"missing"`
	// Extra lists events of a change that did not happen: of an object
	// the store does not hold, of a type its final state does not call
	// for, or whose data.object disagrees with the object; and events the
	// receiver got that the store does not hold.
	Extra []string `json:"extra"`
	// DuplicateProduced lists changes with more than one event.
	DuplicateProduced []string `json:"duplicateProduced"`
	// SequenceGaps lists objects whose events' sequences are not 1, 2, …
	// in order.
	SequenceGaps []string `json:"sequenceGaps"`
	// Delivered counts the store's events the receiver accepted at least
	// once (deduplicated by webhook-id).
	Delivered int `json:"delivered"`
	// Lost lists the store's events the receiver never accepted.
	Lost []string `json:"lost"`
	// DuplicateDeliveries counts deliveries accepted beyond the first of
	// each event: allowed (at least once), reported.
	DuplicateDeliveries int `json:"duplicateDeliveries"`
	// BadSignatures counts deliveries the receiver refused: a signature,
	// timestamp or body that did not verify.
	BadSignatures int `json:"badSignatures"`
	// DeliveryP50 and DeliveryP99 are the time from an event's creation
	// (the store's, to the microsecond) to its first accepted delivery.
	DeliveryP50 time.Duration `json:"deliveryP50"`
	DeliveryP99 time.Duration `json:"deliveryP99"`
}

// OK reports whether every change produced exactly one event, nothing
// else was produced, and every event reached the receiver with a good
// signature.
func (c *EventComparison) OK() bool {
	return len(c.Missing)+len(c.Extra)+len(c.DuplicateProduced)+len(c.SequenceGaps)+len(c.Lost)+c.BadSignatures == 0
}

// expectedEvent returns the one event the final state of an object calls
// for, or "" when its state is not final (or, for a token, still ACTIVE:
// its creation is told by its authorization's event).
func expectedEvent(noun, status string) autodebit.EventType {
	return map[string]map[string]autodebit.EventType{
		"authorization": {
			string(autodebit.AuthorizationActive):  autodebit.EventAuthorizationActive,
			string(autodebit.AuthorizationFailed):  autodebit.EventAuthorizationFailed,
			string(autodebit.AuthorizationExpired): autodebit.EventAuthorizationExpired,
		},
		"token": {
			string(autodebit.TokenRevoked): autodebit.EventTokenRevoked,
			string(autodebit.TokenExpired): autodebit.EventTokenExpired,
		},
		"charge": {
			string(autodebit.ChargeSuccess):   autodebit.EventChargeSucceeded,
			string(autodebit.ChargeFail):      autodebit.EventChargeFailed,
			string(autodebit.ChargeCancelled): autodebit.EventChargeCancelled,
		},
		"refund": {
			string(autodebit.RefundSuccess): autodebit.EventRefundSucceeded,
			string(autodebit.RefundFail):    autodebit.EventRefundFailed,
		},
	}[noun][status]
}

// object is one authorization, token, charge or refund of the records.
type object struct{ noun, id, status string }

func (r Records) objects() []object {
	var out []object
	for _, a := range r.Authorizations {
		out = append(out, object{"authorization", a.ID, string(a.Status)})
	}
	for _, t := range r.Tokens {
		out = append(out, object{"token", t.ID, string(t.Status)})
	}
	for _, c := range r.Charges {
		out = append(out, object{"charge", c.ID, string(c.Status)})
	}
	for _, f := range r.Refunds {
		out = append(out, object{"refund", f.ID, string(f.Status)})
	}
	return out
}

// CompareEvents checks r.Events against the final state of every object
// in r (each authorization, token, charge and refund whose state is final
// has exactly one event of its type, whose data.object shows that state;
// no other event exists; each object's sequences run 1, 2, … without a
// gap), and against what the receiver accepted (s: the deliveries it
// accepted per event ID, and those that failed verification).
func CompareEvents(r Records, s ReceiverStats) EventComparison {
	received := s.Received
	out := EventComparison{Produced: len(r.Events), ByType: map[string]int{}, BadSignatures: s.Refused}
	byObject := map[string][]*autodebit.Event{}
	stored := map[string]bool{}
	for _, e := range r.Events {
		out.ByType[string(e.Type)]++
		byObject[e.ObjectID] = append(byObject[e.ObjectID], e)
		stored[e.ID] = true
	}
	known := map[string]bool{}
	for _, o := range r.objects() {
		known[o.id] = true
		evs := byObject[o.id]
		want := expectedEvent(o.noun, o.status)
		if want != "" {
			out.Expected++
		}
		n := 0
		for _, e := range evs {
			if e.Type != want {
				out.Extra = append(out.Extra, fmt.Sprintf("event %s is %s, but %s %s is %s", e.ID, e.Type, o.noun, o.id, o.status))
				continue
			}
			n++
			if msg := checkData(e, o); msg != "" {
				out.Extra = append(out.Extra, msg)
			}
		}
		switch {
		case want != "" && n == 0:
			out.Missing = append(out.Missing, fmt.Sprintf("%s %s is %s but has no %s event", o.noun, o.id, o.status, want))
		case n > 1:
			out.DuplicateProduced = append(out.DuplicateProduced, fmt.Sprintf("%s %s has %d %s events", o.noun, o.id, n, want))
		}
	}
	for _, sub := range r.Subscriptions {
		known[sub.ID] = true
		out.Expected++ // its subscription.created; the others follow its changes
		compareSubscriptionEvents(&out, sub, byObject[sub.ID])
	}
	for _, id := range sortedKeys(byObject) {
		evs := byObject[id]
		if !known[id] {
			for _, e := range evs {
				out.Extra = append(out.Extra, fmt.Sprintf("event %s (%s) is of %s, which the store does not hold", e.ID, e.Type, id))
			}
		}
		if msg := checkSequences(id, evs); msg != "" {
			out.SequenceGaps = append(out.SequenceGaps, msg)
		}
	}
	events := append([]*autodebit.Event(nil), r.Events...)
	sort.Slice(events, func(i, j int) bool { return events[i].ID < events[j].ID })
	var lat []time.Duration
	for _, e := range events {
		switch n := received[e.ID]; {
		case n == 0:
			out.Lost = append(out.Lost, fmt.Sprintf("event %s (%s of %s) never reached the receiver%s", e.ID, e.Type, e.ObjectID, r.deliveryNote(e.ID)))
		default:
			out.Delivered++
			out.DuplicateDeliveries += n - 1
			if at, ok := s.FirstAt[e.ID]; ok {
				lat = append(lat, at.Sub(e.CreatedAt))
			}
		}
	}
	out.DeliveryP50, out.DeliveryP99 = Percentile(lat, 50), Percentile(lat, 99)
	for _, id := range sortedKeys(received) {
		if !stored[id] {
			out.Extra = append(out.Extra, fmt.Sprintf("the receiver got event %s, which the store does not hold", id))
		}
	}
	return out
}

// checkData reports an event whose data.object is not object o as it is.
func checkData(e *autodebit.Event, o object) string {
	var v struct{ ID, Status string }
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return fmt.Sprintf("event %s: data.object is not an object: %v", e.ID, err)
	}
	if v.ID != o.id || v.Status != o.status {
		return fmt.Sprintf("event %s (%s): data.object is %s %s, but the store has %s %s", e.ID, e.Type, v.ID, v.Status, o.id, o.status)
	}
	return ""
}

// subscriptionStatusEvent is the event whose data.object a subscription's
// status comes from: active has three (created, back from dunning, resumed).
var subscriptionStatusEvent = map[autodebit.SubscriptionStatus][]autodebit.EventType{
	autodebit.SubscriptionActive:    {autodebit.EventSubscriptionCreated, autodebit.EventSubscriptionActive, autodebit.EventSubscriptionResumed},
	autodebit.SubscriptionPastDue:   {autodebit.EventSubscriptionPastDue},
	autodebit.SubscriptionUnpaid:    {autodebit.EventSubscriptionUnpaid},
	autodebit.SubscriptionPaused:    {autodebit.EventSubscriptionPaused},
	autodebit.SubscriptionCancelled: {autodebit.EventSubscriptionCancelled},
	autodebit.SubscriptionCompleted: {autodebit.EventSubscriptionCompleted},
}

// compareSubscriptionEvents checks a subscription's events, which follow
// each status change rather than one final one: exactly one
// subscription.created, first; no two events in a row of one type (a
// change published twice); and the last one of the type its final status
// comes from, its data.object showing that status.
func compareSubscriptionEvents(out *EventComparison, sub *autodebit.Subscription, evs []*autodebit.Event) {
	s := append([]*autodebit.Event(nil), evs...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Sequence < s[j].Sequence })
	created := 0
	for i, e := range s {
		if e.Type == autodebit.EventSubscriptionCreated {
			created++
		}
		if i > 0 && e.Type == s[i-1].Type {
			out.DuplicateProduced = append(out.DuplicateProduced, fmt.Sprintf("subscription %s has two %s events in a row (%s, %s)", sub.ID, e.Type, s[i-1].ID, e.ID))
		}
	}
	switch {
	case len(s) == 0 || created == 0:
		out.Missing = append(out.Missing, fmt.Sprintf("subscription %s has no subscription.created event", sub.ID))
		return
	case created > 1:
		out.DuplicateProduced = append(out.DuplicateProduced, fmt.Sprintf("subscription %s has %d subscription.created events", sub.ID, created))
	case s[0].Type != autodebit.EventSubscriptionCreated:
		out.Extra = append(out.Extra, fmt.Sprintf("subscription %s: its first event %s is %s, not subscription.created", sub.ID, s[0].ID, s[0].Type))
	}
	last := s[len(s)-1]
	if !slices.Contains(subscriptionStatusEvent[sub.Status], last.Type) {
		out.Missing = append(out.Missing, fmt.Sprintf("subscription %s is %s but its last event %s is %s", sub.ID, sub.Status, last.ID, last.Type))
		return
	}
	if msg := checkData(last, object{"subscription", sub.ID, string(sub.Status)}); msg != "" {
		out.Extra = append(out.Extra, msg)
	}
}

// checkSequences reports an object whose events' sequences are not 1, 2,
// … n, in the order they were created.
func checkSequences(objectID string, evs []*autodebit.Event) string {
	s := append([]*autodebit.Event(nil), evs...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Sequence < s[j].Sequence })
	for i, e := range s {
		if e.Sequence != int64(i+1) {
			seqs := make([]int64, len(s))
			for j, x := range s {
				seqs[j] = x.Sequence
			}
			return fmt.Sprintf("%s: event sequences %v, want 1 to %d", objectID, seqs, len(s))
		}
		if i > 0 && e.CreatedAt.Before(s[i-1].CreatedAt) {
			return fmt.Sprintf("%s: event %s (sequence %d) was created before event %s (sequence %d)", objectID, e.ID, e.Sequence, s[i-1].ID, s[i-1].Sequence)
		}
	}
	return ""
}

// deliveryNote says what the store's deliveries of event id say, for a
// lost event's sentence.
func (r Records) deliveryNote(id string) string {
	var notes string
	for _, d := range r.Deliveries {
		if d.EventID != id {
			continue
		}
		notes += fmt.Sprintf("; delivery %s is %s after %d attempts", d.ID, d.Status, d.Attempts)
		if d.LastError != "" {
			notes += " (" + d.LastError + ")"
		}
	}
	if notes == "" {
		return "; it has no delivery"
	}
	return notes
}
