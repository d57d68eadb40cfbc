package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

// The webhook endpoint pages: list, add (the secret shown once), read with
// its recent deliveries, edit, rotate the secret (shown once), disable or
// enable, delete. Every change goes through the engine, which checks the
// input; the pages show its error and change nothing then.

// recentDeliveries is how many deliveries an endpoint's page shows.
const recentDeliveries = 20

// public returns a copy of w without its secrets, for a template: a page
// other than the one that just made a secret can never show one.
func public(w *autodebit.WebhookEndpoint) *autodebit.WebhookEndpoint {
	c := *w
	c.Secret, c.PreviousSecret = "", ""
	return &c
}

type endpointsView struct {
	Endpoints []*autodebit.WebhookEndpoint
	Pager     pager
}

func (h *Handler) webhookEndpointsPage(w http.ResponseWriter, r *http.Request) error {
	v := endpointsView{Pager: newPager(r)}
	eps, total, err := h.store.FindWebhookEndpoints(r.Context(), autodebit.WebhookEndpointFilter{Limit: PageSize, Offset: v.Pager.Offset})
	if err != nil {
		return err
	}
	v.Pager.Total = total
	for _, ep := range eps {
		v.Endpoints = append(v.Endpoints, public(ep))
	}
	h.render(w, r, http.StatusOK, "webhook_endpoints", "Webhook endpoints", v)
	return nil
}

// endpointFormView is the add and edit form.
type endpointFormView struct {
	ID          string // empty when adding
	URL         string
	Description string
	Types       []string // checked; none means every type
	Key         string   // the add form's idempotency key
	Message     string
}

// EventTypes are the checkboxes, grouped by noun.
func (endpointFormView) EventTypes() [][]autodebit.EventType {
	var groups [][]autodebit.EventType
	noun := ""
	for _, t := range autodebit.EventTypes() {
		n, _, _ := strings.Cut(string(t), ".")
		if n != noun || len(groups) == 0 {
			groups, noun = append(groups, nil), n
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], t)
	}
	return groups
}

// Checked reports whether the box of t is checked.
func (v endpointFormView) Checked(t autodebit.EventType) bool {
	return slices.Contains(v.Types, string(t))
}

func (h *Handler) newWebhookEndpointPage(w http.ResponseWriter, r *http.Request) error {
	h.render(w, r, http.StatusOK, "webhook_endpoint_form", "Add a webhook endpoint", endpointFormView{Key: newKey()})
	return nil
}

// endpointForm reads the add or edit form.
func endpointForm(r *http.Request) endpointFormView {
	return endpointFormView{
		URL:         strings.TrimSpace(r.PostForm.Get("url")),
		Description: strings.TrimSpace(r.PostForm.Get("description")),
		Types:       r.PostForm["eventTypes"],
		Key:         idempotencyKey(r),
	}
}

// secretView is the page that shows a new signing secret, once: after
// adding an endpoint and after rotating its secret.
type secretView struct {
	W      *autodebit.WebhookEndpoint // without secrets
	Secret string
	// Rotated is set after a rotation: the previous secret still signs
	// until W.PreviousSecretExpiresAt, Overlap from now.
	Rotated bool
	Overlap string
}

// createWebhookEndpoint adds an endpoint and shows its secret. The form's
// idempotency key makes a second submission (a double click, a reload)
// land on the endpoint made by the first, without its secret: it was
// shown then.
func (h *Handler) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	v := endpointForm(r)
	ctx, replay := engine.WithReplayReport(r.Context())
	ep, err := h.engine.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{
		URL: v.URL, EventTypes: v.Types, Description: v.Description, IdempotencyKey: v.Key,
	})
	if err != nil {
		if !formError(err) {
			return err
		}
		v.Message = autodebit.ErrorMessage(err)
		h.render(w, r, adhttp.StatusCode(err), "webhook_endpoint_form", "Add a webhook endpoint", v)
		return nil
	}
	if *replay {
		return redirect(w, r, endpointPath(ep.ID)+"?notice=endpoint-replayed")
	}
	h.render(w, r, http.StatusCreated, "webhook_secret", "Webhook endpoint added", secretView{W: public(ep), Secret: ep.Secret})
	return nil
}

func endpointPath(id string) string { return "/webhook-endpoints/" + url.PathEscape(id) }

type endpointView struct {
	W          *autodebit.WebhookEndpoint // without secrets
	Deliveries []*autodebit.Delivery      // the latest first
	Total      int                        // all its deliveries
	Timeline   []timelineEntry
	// AutoDisabled is set when the engine disabled it for failing.
	AutoDisabled bool
	Message      string
}

func (h *Handler) webhookEndpointPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderEndpoint(w, r, http.StatusOK, endpointView{})
}

func (h *Handler) renderEndpoint(w http.ResponseWriter, r *http.Request, status int, v endpointView) error {
	ctx := r.Context()
	ep, err := h.store.FindWebhookEndpointByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.W, v.AutoDisabled = public(ep), autoDisabled(ep)
	if v.Deliveries, v.Total, err = h.latestDeliveries(ctx, autodebit.DeliveryFilter{EndpointID: ep.ID}, recentDeliveries); err != nil {
		return err
	}
	if v.Timeline, err = h.timeline(ctx, timelineSource{ID: ep.ID}); err != nil {
		return err
	}
	h.render(w, r, status, "webhook_endpoint", "Webhook endpoint "+ep.ID, v)
	return nil
}

// autoDisabled reports whether the engine disabled w because its
// deliveries failed for too long (not the merchant).
func autoDisabled(w *autodebit.WebhookEndpoint) bool {
	return !w.Enabled && w.DisabledReason != "" && w.DisabledReason != engine.DisabledByMerchant
}

// latestDeliveries returns the n latest deliveries f selects (by
// creation), the latest first, and how many it selects in all.
func (h *Handler) latestDeliveries(ctx context.Context, f autodebit.DeliveryFilter, n int) ([]*autodebit.Delivery, int, error) {
	f.Limit, f.Offset = 1, 0
	_, total, err := h.store.FindDeliveries(ctx, f)
	if err != nil || total == 0 {
		return nil, total, err
	}
	f.Limit, f.Offset = n, max(total-n, 0)
	ds, total, err := h.store.FindDeliveries(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	slices.Reverse(ds)
	return ds, total, nil
}

func (h *Handler) editWebhookEndpointPage(w http.ResponseWriter, r *http.Request) error {
	ep, err := h.store.FindWebhookEndpointByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := endpointFormView{ID: ep.ID, URL: ep.URL, Description: ep.Description, Types: ep.EventTypes}
	h.render(w, r, http.StatusOK, "webhook_endpoint_form", "Edit webhook endpoint "+ep.ID, v)
	return nil
}

// updateWebhookEndpoint saves the edit form: URL, event types (none
// checked: every type) and description.
func (h *Handler) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	v := endpointForm(r)
	v.ID = r.PathValue("id")
	types := v.Types
	if types == nil {
		types = []string{}
	}
	_, err := h.engine.UpdateWebhookEndpoint(r.Context(), v.ID, engine.WebhookEndpointUpdate{
		URL: &v.URL, EventTypes: &types, Description: &v.Description,
	})
	if err != nil {
		if !formError(err) {
			return err
		}
		v.Message = autodebit.ErrorMessage(err)
		h.render(w, r, adhttp.StatusCode(err), "webhook_endpoint_form", "Edit webhook endpoint "+v.ID, v)
		return nil
	}
	return redirect(w, r, endpointPath(v.ID)+"?notice=endpoint-saved")
}

// setWebhookEndpointEnabled answers the Disable and Enable buttons.
func (h *Handler) setWebhookEndpointEnabled(enabled bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ep, err := h.engine.UpdateWebhookEndpoint(r.Context(), r.PathValue("id"), engine.WebhookEndpointUpdate{Enabled: &enabled})
		if err != nil {
			if !formError(err) {
				return err
			}
			return h.renderEndpoint(w, r, adhttp.StatusCode(err), endpointView{Message: autodebit.ErrorMessage(err)})
		}
		notice := "endpoint-disabled"
		if enabled {
			notice = "endpoint-enabled"
		}
		return redirect(w, r, endpointPath(ep.ID)+"?notice="+notice)
	}
}

// confirmWebhookEndpointPage asks to confirm a rotation or a delete: page
// names the template.
func (h *Handler) confirmWebhookEndpointPage(page, title string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ep, err := h.store.FindWebhookEndpointByID(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		h.render(w, r, http.StatusOK, page, title+" "+ep.ID, public(ep))
		return nil
	}
}

// rotateWebhookEndpointSecret makes a new secret, once confirmed, and shows
// it. The confirmation carries the endpoint's latest rotation as the page
// saw it (rotation: its PreviousSecretExpiresAt, or "never").
func (h *Handler) rotateWebhookEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	last, err := time.Parse(time.RFC3339Nano, r.PostForm.Get("rotation"))
	if r.PostForm.Get("rotation") == "never" {
		last, err = time.Time{}, nil
	}
	if r.PostForm.Get("confirm") != "yes" || err != nil {
		return autodebit.Errorf(autodebit.EINVALID, "Confirm the rotation with the button on the confirmation page.")
	}
	// The confirmation names the rotation it saw, so that sending it twice
	// (a reload) rotates once instead of ending the old secret's overlap.
	ep, err := h.engine.RotateWebhookEndpointSecretOnce(r.Context(), r.PathValue("id"), last)
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT {
		return h.renderEndpoint(w, r, http.StatusConflict, endpointView{Message: autodebit.ErrorMessage(err) +
			" If you did not keep that secret, rotate again."})
	} else if err != nil {
		return err
	}
	overlap := duration(max(ep.PreviousSecretExpiresAt.Sub(h.now()).Round(time.Minute), 0))
	if d := ep.PreviousSecretExpiresAt.Sub(h.now()).Round(time.Hour); d >= 2*time.Hour {
		overlap = fmt.Sprintf("%d hours", int(d.Hours()))
	}
	h.render(w, r, http.StatusOK, "webhook_secret", "Secret rotated", secretView{
		W: public(ep), Secret: ep.Secret, Rotated: true, Overlap: overlap,
	})
	return nil
}

// deleteWebhookEndpoint deletes an endpoint, once confirmed.
func (h *Handler) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm.Get("confirm") != "yes" {
		return autodebit.Errorf(autodebit.EINVALID, "Confirm the delete with the button on the confirmation page.")
	}
	if _, err := h.engine.DeleteWebhookEndpoint(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/webhook-endpoints?notice=endpoint-deleted")
}
