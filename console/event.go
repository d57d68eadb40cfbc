package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/api"
)

// The event pages: every event the merchant's backend is told of, newest
// first, filtered by type and object; an event with its payload (the body
// each delivery POSTs), its deliveries and a Redeliver button.

type eventsView struct {
	Type     string
	ObjectID string
	Events   []*autodebit.Event
	Pager    pager
	Message  string
}

// Types are the filter's choices.
func (eventsView) Types() []autodebit.EventType { return autodebit.EventTypes() }

func (h *Handler) eventsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := eventsView{Type: q.Get("type"), ObjectID: strings.TrimSpace(q.Get("object")), Pager: newPager(r)}
	f := autodebit.EventFilter{Type: autodebit.EventType(v.Type), ObjectID: v.ObjectID, Limit: PageSize, Offset: v.Pager.Offset}
	if f.Type != "" && !f.Type.Valid() {
		v.Message, f.Type = fmt.Sprintf("%q is not an event type: pick one from the list.", v.Type), ""
	}
	var err error
	if v.Events, v.Pager.Total, err = h.store.FindEvents(r.Context(), f); err != nil {
		return err
	}
	h.render(w, r, filterStatus(v.Message), "events", "Events", v)
	return nil
}

type eventView struct {
	E *autodebit.Event
	// Payload is the event as its deliveries POST it, indented.
	Payload    string
	Deliveries []deliveryView
	// Targets are the enabled endpoints subscribed to the event's type:
	// where a redelivery can go.
	Targets []*autodebit.WebhookEndpoint
	Message string
}

func (h *Handler) eventPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderEvent(w, r, http.StatusOK, eventView{})
}

func (h *Handler) renderEvent(w http.ResponseWriter, r *http.Request, status int, v eventView) error {
	ctx := r.Context()
	ev, err := h.store.FindEventByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.E = ev
	body, err := json.MarshalIndent(api.ToEvent(ev), "", "  ")
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	v.Payload = string(body)
	enabled := true
	eps, _, err := h.store.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{Enabled: &enabled})
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if ep.Subscribes(string(ev.Type)) {
			v.Targets = append(v.Targets, public(ep))
		}
	}
	if v.Deliveries, err = h.eventDeliveries(ctx, ev); err != nil {
		return err
	}
	h.render(w, r, status, "event", "Event "+ev.ID, v)
	return nil
}

// objectPath is the console page of an event's object, or "" when it has
// none. A refund is on its charge's page.
func objectPath(e *autodebit.Event) string {
	id := e.ObjectID
	switch {
	case strings.HasPrefix(id, autodebit.ChargeIDPrefix):
		return "/charges/" + url.PathEscape(id)
	case strings.HasPrefix(id, autodebit.TokenIDPrefix):
		return "/tokens/" + url.PathEscape(id)
	case strings.HasPrefix(id, autodebit.AuthorizationIDPrefix):
		return "/authorizations/" + url.PathEscape(id)
	case strings.HasPrefix(id, autodebit.RefundIDPrefix):
		var r struct {
			ChargeID string `json:"chargeId"`
		}
		if json.Unmarshal(e.Data, &r) == nil && strings.HasPrefix(r.ChargeID, autodebit.ChargeIDPrefix) {
			return "/charges/" + url.PathEscape(r.ChargeID)
		}
	}
	return ""
}

// eventsPath is the events page filtered to one object's events.
func eventsPath(objectID string) string { return "/events?object=" + url.QueryEscape(objectID) }
