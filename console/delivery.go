package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/autodebit/autodebit"
	adhttp "github.com/autodebit/autodebit/http"
)

// deliveryView is one delivery of an event to one endpoint, with its
// attempts, the first first.
type deliveryView struct {
	D        *autodebit.Delivery
	Endpoint *autodebit.WebhookEndpoint // without secrets
	Attempts []*autodebit.DeliveryAttempt
	// CanRedeliver is set when a redelivery to this endpoint is possible:
	// the delivery is not pending and the endpoint is enabled and still
	// subscribed to the event's type.
	CanRedeliver bool
}

// eventDeliveries reads ev's deliveries, oldest first, with their attempts
// and endpoints (a delivery's endpoint always exists: deleting an endpoint
// deletes its deliveries).
func (h *Handler) eventDeliveries(ctx context.Context, ev *autodebit.Event) ([]deliveryView, error) {
	ds, _, err := h.store.FindDeliveries(ctx, autodebit.DeliveryFilter{EventID: ev.ID})
	if err != nil {
		return nil, err
	}
	out := make([]deliveryView, 0, len(ds))
	for _, d := range ds {
		v := deliveryView{D: d}
		if v.Attempts, err = h.store.FindDeliveryAttempts(ctx, d.ID); err != nil {
			return nil, err
		}
		ep, err := h.store.FindWebhookEndpointByID(ctx, d.EndpointID)
		if err != nil && autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			return nil, err
		}
		if ep != nil {
			v.Endpoint = public(ep)
			v.CanRedeliver = d.Status != autodebit.DeliveryPending && ep.Enabled && ep.Subscribes(string(ev.Type))
		}
		out = append(out, v)
	}
	return out, nil
}

// redeliverEvent answers the Redeliver buttons: to one endpoint
// (endpoint=we_…) or to every enabled endpoint subscribed to the event's
// type (endpoint empty). The engine refuses a pending delivery, a disabled
// or unsubscribed endpoint, or no endpoint at all; the event page says why.
func (h *Handler) redeliverEvent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ds, err := h.engine.Redeliver(r.Context(), id, strings.TrimSpace(r.PostForm.Get("endpoint")))
	if err != nil {
		if !formError(err) && autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			return err
		}
		// An unknown event is the event page's own 404.
		return h.renderEvent(w, r, adhttp.StatusCode(err), eventView{Message: autodebit.ErrorMessage(err)})
	}
	notice := "redelivered"
	if len(ds) > 1 {
		notice = "redelivered-all"
	}
	return redirect(w, r, "/events/"+url.PathEscape(id)+"?notice="+notice)
}
