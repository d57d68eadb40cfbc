package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
)

type healthView struct {
	Clock             *clockView // simulator mode only
	Backlog           *autodebit.Backlog
	OpenCharges       []*autodebit.Charge
	ProcessingRefunds []*autodebit.Refund
	FailedAuths       []*autodebit.Authorization
	FailedCharges     []*autodebit.Charge

	// Webhooks: endpoints failing now, endpoints the engine disabled for
	// failing too long, the oldest pending deliveries and the latest
	// that ran out of attempts (or met a disabled endpoint).
	FailingEndpoints  []failingEndpoint
	DisabledEndpoints []disabledEndpoint
	PendingDeliveries []*autodebit.Delivery // the oldest first
	FailedDeliveries  []*autodebit.Delivery // the latest first
	FailedTotal       int
	Endpoints         map[string]*autodebit.WebhookEndpoint // by ID, without secrets
}

// failingEndpoint is an enabled endpoint whose deliveries fail, with the
// latest error one of them got.
type failingEndpoint struct {
	W           *autodebit.WebhookEndpoint // without secrets
	LastError   string
	LastErrorAt time.Time
}

// disabledEndpoint is an endpoint the engine disabled, with the timeline
// entry that did it (nil if retention or a store copy lost it).
type disabledEndpoint struct {
	W       *autodebit.WebhookEndpoint // without secrets
	Disable *autodebit.TimelineEntry
}

// maxHealthEndpoints bounds the endpoints the health page reads.
const maxHealthEndpoints = 500

// healthPage shows the open work and recent failures, all from the store.
func (h *Handler) healthPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v := healthView{Clock: h.clockView()}
	var err error
	if v.Backlog, err = h.store.FindBacklog(ctx); err != nil {
		return err
	}
	if v.OpenCharges, _, err = h.store.FindCharges(ctx, autodebit.ChargeFilter{Status: autodebit.ChargeInit, Limit: 50}); err != nil {
		return err
	}
	if v.ProcessingRefunds, _, err = h.store.FindRefunds(ctx, autodebit.RefundFilter{Status: autodebit.RefundProcessing, Limit: 50}); err != nil {
		return err
	}
	if v.FailedAuths, _, err = h.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{Status: autodebit.AuthorizationFailed, Limit: 10}); err != nil {
		return err
	}
	if v.FailedCharges, _, err = h.store.FindCharges(ctx, autodebit.ChargeFilter{Status: autodebit.ChargeFail, Limit: 10}); err != nil {
		return err
	}
	if err := h.webhookHealth(ctx, &v); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "health", "Health", v)
	return nil
}

// webhookHealth fills in the webhook part of the health page.
func (h *Handler) webhookHealth(ctx context.Context, v *healthView) error {
	eps, _, err := h.store.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{Limit: maxHealthEndpoints})
	if err != nil {
		return err
	}
	v.Endpoints = make(map[string]*autodebit.WebhookEndpoint, len(eps))
	for _, ep := range eps {
		v.Endpoints[ep.ID] = public(ep)
		switch {
		case ep.Enabled && !ep.FailingSince.IsZero():
			f := failingEndpoint{W: public(ep)}
			ds, _, err := h.latestDeliveries(ctx, autodebit.DeliveryFilter{EndpointID: ep.ID}, recentDeliveries)
			if err != nil {
				return err
			}
			for _, d := range ds { // the latest attempt is on the delivery updated last
				if d.LastError != "" && d.UpdatedAt.After(f.LastErrorAt) {
					f.LastError, f.LastErrorAt = d.LastError, d.UpdatedAt
				}
			}
			v.FailingEndpoints = append(v.FailingEndpoints, f)
		case autoDisabled(ep):
			d := disabledEndpoint{W: public(ep)}
			entries, err := h.store.FindTimeline(ctx, ep.ID)
			if err != nil {
				return err
			}
			for _, e := range entries {
				// The engine's entry when it disables an endpoint for failing
				// (engine.trackEndpointHealth): "DISABLED: deliveries failed since …".
				if e.Kind == "state" && strings.HasPrefix(e.Response, "DISABLED") {
					d.Disable = e
				}
			}
			v.DisabledEndpoints = append(v.DisabledEndpoints, d)
		}
	}
	if v.PendingDeliveries, _, err = h.store.FindDeliveries(ctx, autodebit.DeliveryFilter{Status: autodebit.DeliveryPending, Limit: 10}); err != nil {
		return err
	}
	v.FailedDeliveries, v.FailedTotal, err = h.latestDeliveries(ctx, autodebit.DeliveryFilter{Status: autodebit.DeliveryFailed}, 10)
	return err
}
