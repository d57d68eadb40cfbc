package chaos_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/chaos"
)

// eventRecords is a run's records that agree with their events: one
// linked wallet, a revoked token, a succeeded and a failed charge, a
// charge still INIT (no event yet), a succeeded refund and one still
// PROCESSING.
func eventRecords(t *testing.T) chaos.Records {
	t.Helper()
	at := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ev := func(id string, typ autodebit.EventType, objectID, status string, seq int64) *autodebit.Event {
		data, err := json.Marshal(map[string]string{"id": objectID, "status": status})
		if err != nil {
			t.Fatal(err)
		}
		return &autodebit.Event{ID: id, Type: typ, ObjectID: objectID, Sequence: seq, Data: data, CreatedAt: at.Add(time.Duration(seq) * time.Second)}
	}
	return chaos.Records{
		Authorizations: []*autodebit.Authorization{{ID: "auth_1", Status: autodebit.AuthorizationActive}, {ID: "auth_2", Status: autodebit.AuthorizationPending}},
		Tokens:         []*autodebit.Token{{ID: "tok_1", Status: autodebit.TokenRevoked}, {ID: "tok_2", Status: autodebit.TokenActive}},
		Charges: []*autodebit.Charge{
			{ID: "chg_ok", Status: autodebit.ChargeSuccess}, {ID: "chg_fail", Status: autodebit.ChargeFail}, {ID: "chg_init", Status: autodebit.ChargeInit},
		},
		Refunds: []*autodebit.Refund{{ID: "ref_ok", Status: autodebit.RefundSuccess}, {ID: "ref_open", Status: autodebit.RefundProcessing}},
		Events: []*autodebit.Event{
			ev("evt_a", autodebit.EventAuthorizationActive, "auth_1", "ACTIVE", 1),
			ev("evt_t", autodebit.EventTokenRevoked, "tok_1", "REVOKED", 1),
			ev("evt_c1", autodebit.EventChargeSucceeded, "chg_ok", "SUCCESS", 1),
			ev("evt_c2", autodebit.EventChargeFailed, "chg_fail", "FAIL", 1),
			ev("evt_r", autodebit.EventRefundSucceeded, "ref_ok", "SUCCESS", 1),
		},
	}
}

// receivedAll is the receiver having got each of r's events once.
func receivedAll(r chaos.Records) map[string]int {
	m := map[string]int{}
	for _, e := range r.Events {
		m[e.ID] = 1
	}
	return m
}

func TestCompareEvents(t *testing.T) {
	t.Parallel()
	t.Run("Agree", func(t *testing.T) {
		r := eventRecords(t)
		got := receivedAll(r)
		got["evt_c1"] = 3 // two duplicate deliveries: allowed
		first := map[string]time.Time{"evt_c1": r.Events[2].CreatedAt.Add(250 * time.Millisecond)}
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: got, FirstAt: first})
		if !c.OK() || c.Expected != 5 || c.Produced != 5 || c.Delivered != 5 || c.DuplicateDeliveries != 2 {
			t.Fatalf("CompareEvents = %+v, want OK with 5 expected, produced and delivered, 2 duplicates", c)
		}
		if c.DeliveryP50 != 250*time.Millisecond || c.DeliveryP99 != 250*time.Millisecond {
			t.Fatalf("delivery p50/p99 = %s/%s, want 250ms from the stored createdAt", c.DeliveryP50, c.DeliveryP99)
		}
		if c.ByType["charge.succeeded"] != 1 || c.ByType["token.revoked"] != 1 {
			t.Fatalf("ByType = %v", c.ByType)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		r := eventRecords(t)
		r.Events = r.Events[:4] // the refund's event is gone
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 0})
		if c.OK() || len(c.Missing) != 1 || !strings.Contains(c.Missing[0], "ref_ok") || len(c.Extra) != 0 {
			t.Fatalf("CompareEvents = %+v, want ref_ok missing", c)
		}
	})
	t.Run("MissingAfterAChange", func(t *testing.T) {
		// The store says the charge ended CANCELLED, its event says FAIL:
		// the cancellation has no event and the failure never happened.
		r := eventRecords(t)
		r.Charges[1].Status = autodebit.ChargeCancelled
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 0})
		if len(c.Missing) != 1 || !strings.Contains(c.Missing[0], "charge.cancelled") || len(c.Extra) != 1 || !strings.Contains(c.Extra[0], "evt_c2") {
			t.Fatalf("CompareEvents = %+v, want the cancellation missing and evt_c2 extra", c)
		}
	})
	t.Run("ExtraForAChangeThatDidNotHappen", func(t *testing.T) {
		r := eventRecords(t)
		data, _ := json.Marshal(map[string]string{"id": "chg_init", "status": "SUCCESS"})
		r.Events = append(r.Events,
			// The charge is still INIT, and no such object exists.
			&autodebit.Event{ID: "evt_x", Type: autodebit.EventChargeSucceeded, ObjectID: "chg_init", Sequence: 1, Data: data},
			&autodebit.Event{ID: "evt_y", Type: autodebit.EventChargeFailed, ObjectID: "chg_ghost", Sequence: 1, Data: data},
		)
		got := receivedAll(r)
		got["evt_z"] = 1 // the receiver got an event the store never held
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: got, Refused: 0})
		if c.OK() || len(c.Extra) != 3 || len(c.Missing) != 0 {
			t.Fatalf("Extra = %q, want evt_x, evt_y and evt_z", c.Extra)
		}
		for i, id := range []string{"evt_x", "evt_y", "evt_z"} {
			if !strings.Contains(c.Extra[i], id) {
				t.Fatalf("Extra[%d] = %q, want %s", i, c.Extra[i], id)
			}
		}
	})
	t.Run("WrongData", func(t *testing.T) {
		r := eventRecords(t)
		r.Events[2].Data = json.RawMessage(`{"id":"chg_ok","status":"INIT"}`)
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 0})
		if len(c.Extra) != 1 || !strings.Contains(c.Extra[0], "data.object is chg_ok INIT") {
			t.Fatalf("Extra = %q, want evt_c1's data.object", c.Extra)
		}
	})
	t.Run("DuplicateProduced", func(t *testing.T) {
		r := eventRecords(t)
		dup := *r.Events[2]
		dup.ID, dup.Sequence = "evt_c1b", 2
		r.Events = append(r.Events, &dup)
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 0})
		if c.OK() || len(c.DuplicateProduced) != 1 || !strings.Contains(c.DuplicateProduced[0], "chg_ok has 2") || len(c.SequenceGaps) != 0 {
			t.Fatalf("CompareEvents = %+v, want chg_ok's event produced twice", c)
		}
	})
	t.Run("SequenceGap", func(t *testing.T) {
		r := eventRecords(t)
		r.Events[1].Sequence = 2
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 0})
		if c.OK() || len(c.SequenceGaps) != 1 || !strings.Contains(c.SequenceGaps[0], "tok_1") {
			t.Fatalf("SequenceGaps = %q, want tok_1's", c.SequenceGaps)
		}
	})
	t.Run("SequenceOutOfOrder", func(t *testing.T) {
		r := eventRecords(t)
		second := *r.Events[0]
		second.ID, second.Sequence, second.CreatedAt = "evt_a2", 2, r.Events[0].CreatedAt.Add(-time.Minute)
		r.Events = append(r.Events, &second)
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 0})
		if len(c.SequenceGaps) != 1 || !strings.Contains(c.SequenceGaps[0], "created before") {
			t.Fatalf("SequenceGaps = %q, want sequence 2 created before 1", c.SequenceGaps)
		}
	})
	t.Run("Lost", func(t *testing.T) {
		r := eventRecords(t)
		r.Deliveries = []*autodebit.Delivery{{ID: "dlv_1", EventID: "evt_r", Status: autodebit.DeliveryFailed, Attempts: 13, LastError: "HTTP 503 Service Unavailable"}}
		got := receivedAll(r)
		delete(got, "evt_r")
		delete(got, "evt_t")
		c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: got, Refused: 0})
		if c.OK() || len(c.Lost) != 2 || c.Delivered != 3 {
			t.Fatalf("CompareEvents = %+v, want 2 lost, 3 delivered", c)
		}
		if !strings.Contains(c.Lost[0], "evt_r") || !strings.Contains(c.Lost[0], "failed after 13 attempts (HTTP 503") || !strings.Contains(c.Lost[1], "it has no delivery") {
			t.Fatalf("Lost = %q", c.Lost)
		}
	})
	t.Run("BadSignatures", func(t *testing.T) {
		r := eventRecords(t)
		if c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r), Refused: 2}); c.OK() || c.BadSignatures != 2 {
			t.Fatalf("CompareEvents = %+v, want 2 bad signatures and not OK", c)
		}
	})
}

func TestReport_OK(t *testing.T) {
	t.Parallel()
	r := &chaos.Report{}
	if !r.OK() {
		t.Fatal("an empty report is not OK")
	}
	r.Events.Lost = []string{"event evt_1 never reached the receiver"}
	if r.OK() {
		t.Fatal("a report with a lost event is OK")
	}
	var b strings.Builder
	r.WriteTable(&b)
	var line string
	for l := range strings.Lines(b.String()) {
		if strings.HasPrefix(l, "events lost (not received)") {
			line = l
		}
	}
	if f := strings.Fields(strings.TrimPrefix(line, "events lost (not received)")); len(f) < 2 || f[0] != "1" || f[1] != "FAIL" || !strings.Contains(b.String(), "evt_1 never reached") {
		t.Fatalf("table does not show the lost event:\n%s", b.String())
	}
}

// A subscription's events follow each status change: created first and
// once, no change published twice in a row, the last one showing its final
// status. Each rule broken is reported.
func TestCompareEvents_Subscriptions(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ev := func(id string, typ autodebit.EventType, status string, seq int64) *autodebit.Event {
		data, err := json.Marshal(map[string]string{"id": "sub_1", "status": status})
		if err != nil {
			t.Fatal(err)
		}
		return &autodebit.Event{ID: id, Type: typ, ObjectID: "sub_1", Sequence: seq, Data: data, CreatedAt: at.Add(time.Duration(seq) * time.Second)}
	}
	agree := []*autodebit.Event{
		ev("evt_1", autodebit.EventSubscriptionCreated, "active", 1),
		ev("evt_2", autodebit.EventSubscriptionPastDue, "past_due", 2),
		ev("evt_3", autodebit.EventSubscriptionActive, "active", 3),
		ev("evt_4", autodebit.EventSubscriptionCompleted, "completed", 4),
	}
	for name, tc := range map[string]struct {
		status autodebit.SubscriptionStatus
		events []*autodebit.Event
		want   string // "" = OK
	}{
		"Agree":          {autodebit.SubscriptionCompleted, agree, ""},
		"StillActive":    {autodebit.SubscriptionActive, agree[:3], ""},
		"NoCreated":      {autodebit.SubscriptionCompleted, nil, "no subscription.created"},
		"LastNotFinal":   {autodebit.SubscriptionCompleted, agree[:3], "is completed but its last event"},
		"Twice":          {autodebit.SubscriptionCompleted, append(append([]*autodebit.Event{}, agree...), ev("evt_5", autodebit.EventSubscriptionCompleted, "completed", 5)), "two subscription.completed events in a row"},
		"WrongDataShown": {autodebit.SubscriptionCompleted, append(append([]*autodebit.Event{}, agree[:3]...), ev("evt_4", autodebit.EventSubscriptionCompleted, "active", 4)), "data.object is sub_1 active"},
	} {
		t.Run(name, func(t *testing.T) {
			r := chaos.Records{Subscriptions: []*autodebit.Subscription{{ID: "sub_1", Status: tc.status}}, Events: tc.events}
			c := chaos.CompareEvents(r, chaos.ReceiverStats{Received: receivedAll(r)})
			all := strings.Join(append(append(append([]string{}, c.Missing...), c.Extra...), c.DuplicateProduced...), "; ")
			if tc.want == "" {
				if !c.OK() || c.Expected != 1 {
					t.Fatalf("CompareEvents = %+v (%s), want OK with 1 expected", c, all)
				}
				return
			}
			if c.OK() || !strings.Contains(all, tc.want) {
				t.Fatalf("CompareEvents problems %q, want one saying %q", all, tc.want)
			}
		})
	}
}
