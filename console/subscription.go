package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

type subscriptionsView struct {
	Filter        autodebit.SubscriptionFilter
	Subscriptions []*autodebit.Subscription
	Statuses      []autodebit.SubscriptionStatus
	Pager         pager
	Message       string
}

func (h *Handler) subscriptionsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := autodebit.SubscriptionFilter{CustomerID: strings.TrimSpace(q.Get("customer")), Status: autodebit.SubscriptionStatus(q.Get("status")),
		TokenID: strings.TrimSpace(q.Get("token"))}
	v := subscriptionsView{Filter: f, Statuses: autodebit.SubscriptionStatuses()}
	if f.Status != "" && !f.Status.Valid() {
		v.Message = "Pick a status from the list."
		f.Status = ""
	}
	v.Pager = newPager(r)
	f.Limit, f.Offset = PageSize, v.Pager.Offset
	var err error
	if v.Subscriptions, v.Pager.Total, err = h.store.FindSubscriptions(r.Context(), f); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "subscriptions", "Subscriptions", v)
	return nil
}

// periodRow is one period on a subscription's page: its dates and every
// charge made for it (attempts, oldest first).
type periodRow struct {
	autodebit.Period
	Charges []*autodebit.Charge
	Current bool   // the period being charged, or next to charge
	State   string // paid, charging, unpaid, upcoming, scheduled, due, retry due, not charged
}

// StateClass is State as a CSS class.
func (p periodRow) StateClass() string { return "period-" + strings.ReplaceAll(p.State, " ", "-") }

type subscriptionView struct {
	S        *autodebit.Subscription
	Periods  []periodRow // newest first, the upcoming ones on top
	Timeline []timelineEntry
	Retries  []string
	Message  string
	Notice   notice
}

func (v subscriptionView) notice() notice { return v.Notice }

// subscriptionNotices are the banners after an action on the page.
var subscriptionNotices = map[string]notice{
	"subscribed": {"Subscribed.", "ok"},
	"paused":     {"Paused: nothing is charged until it is resumed.", "ok"},
	"resumed":    {"Resumed.", "ok"},
	"cancelled":  {"Cancelled. It will not be charged again.", "ok"},
}

// upcomingPeriods is how many periods after the current one the schedule
// shows.
const upcomingPeriods = 3

func (h *Handler) subscriptionPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderSubscription(w, r, http.StatusOK, subscriptionView{})
}

func (h *Handler) renderSubscription(w http.ResponseWriter, r *http.Request, status int, v subscriptionView) error {
	s, err := h.store.FindSubscriptionByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v.S = s
	for _, d := range s.RetrySchedule {
		v.Retries = append(v.Retries, autodebit.FormatDuration(d))
	}
	if n, ok := subscriptionNotices[r.URL.Query().Get("notice")]; ok && v.Message == "" {
		v.Notice = n
		if r.URL.Query().Get("notice") == "resumed" && !s.NextChargeAt.IsZero() {
			v.Notice.Text = "Resumed: period " + strconv.Itoa(s.Period) + " is charged next."
		}
	}
	charges, _, err := h.store.FindCharges(r.Context(), autodebit.ChargeFilter{SubscriptionID: s.ID})
	if err != nil {
		return err
	}
	byPeriod := map[int][]*autodebit.Charge{}
	for _, c := range charges {
		byPeriod[c.Period] = append(byPeriod[c.Period], c)
	}
	last := s.Period
	if s.Status.Charging() || s.Status == autodebit.SubscriptionPaused {
		last += upcomingPeriods
	}
	if s.Cycles > 0 {
		last = min(last, s.Cycles)
	}
	for n := last; n >= 1; n-- {
		cs := byPeriod[n]
		if n < s.Period && len(cs) == 0 {
			continue // skipped while paused: nothing to show
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].CreatedAt.Before(cs[j].CreatedAt) })
		row := periodRow{Period: s.PeriodOf(n), Charges: cs, Current: n == s.Period && !s.Status.Final()}
		row.State = periodState(s, n, cs, h.now())
		v.Periods = append(v.Periods, row)
	}
	v.Timeline, err = h.timeline(r.Context(), timelineSource{ID: s.ID})
	if err != nil {
		return err
	}
	h.render(w, r, status, "subscription", "Subscription "+s.ID, v)
	return nil
}

// periodState says in a few words where period n of s stands at now.
func periodState(s *autodebit.Subscription, n int, cs []*autodebit.Charge, now time.Time) string {
	for _, c := range cs {
		if c.Status == autodebit.ChargeSuccess {
			return "paid"
		}
	}
	for _, c := range cs {
		if c.Status == autodebit.ChargeInit {
			return "charging"
		}
	}
	switch {
	case n < s.Period && len(cs) > 0:
		return "unpaid"
	case n > s.Period || s.Status == autodebit.SubscriptionPaused:
		return "upcoming"
	case s.Status.Final():
		return "not charged"
	case len(cs) > 0:
		return "retry due"
	case s.NextChargeAt.After(now):
		return "scheduled"
	}
	return "due"
}

func (h *Handler) pauseSubscription(w http.ResponseWriter, r *http.Request) error {
	return h.subscriptionAction(w, r, "paused", func(id string) (*autodebit.Subscription, error) {
		return h.engine.PauseSubscription(r.Context(), id)
	})
}

func (h *Handler) resumeSubscription(w http.ResponseWriter, r *http.Request) error {
	return h.subscriptionAction(w, r, "resumed", func(id string) (*autodebit.Subscription, error) {
		return h.engine.ResumeSubscription(r.Context(), id)
	})
}

func (h *Handler) cancelSubscriptionPage(w http.ResponseWriter, r *http.Request) error {
	s, err := h.store.FindSubscriptionByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "subscription_cancel", "Cancel subscription "+s.ID, s)
	return nil
}

func (h *Handler) cancelSubscription(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm.Get("confirm") != "yes" {
		return autodebit.Errorf(autodebit.EINVALID, "Confirm the cancel with the button on the confirmation page.")
	}
	return h.subscriptionAction(w, r, "cancelled", func(id string) (*autodebit.Subscription, error) {
		return h.engine.CancelSubscription(r.Context(), id, strings.TrimSpace(r.PostForm.Get("reason")))
	})
}

// subscriptionAction runs act on the subscription of the path and shows
// its page with the notice, or with the refusal.
func (h *Handler) subscriptionAction(w http.ResponseWriter, r *http.Request, done string, act func(id string) (*autodebit.Subscription, error)) error {
	s, err := act(r.PathValue("id"))
	if err == nil {
		return redirect(w, r, "/subscriptions/"+url.PathEscape(s.ID)+"?notice="+done)
	}
	if !formError(err) {
		return err
	}
	return h.renderSubscription(w, r, adhttp.StatusCode(err), subscriptionView{Message: autodebit.ErrorMessage(err)})
}

// subscribeForm is the subscription form on a token's page, as entered.
type subscribeForm struct {
	Amount, Interval, Count, Cycles, Start, Zone, Retries, Desc string
	Message                                                     string
}

// createSubscription is the subscribe form of a token.
func (h *Handler) createSubscription(w http.ResponseWriter, r *http.Request) error {
	t, err := h.store.FindTokenByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	pf := r.PostForm
	f := subscribeForm{Amount: pf.Get("amount"), Interval: pf.Get("interval"), Count: strings.TrimSpace(pf.Get("interval_count")),
		Cycles: strings.TrimSpace(pf.Get("cycles")), Start: strings.TrimSpace(pf.Get("start")), Zone: strings.TrimSpace(pf.Get("time_zone")),
		Retries: strings.TrimSpace(pf.Get("retries")), Desc: strings.TrimSpace(pf.Get("description"))}
	s, err := h.subscribe(r, t, f)
	if err == nil {
		return redirect(w, r, "/subscriptions/"+url.PathEscape(s.ID)+"?notice=subscribed")
	}
	if !formError(err) {
		return err
	}
	f.Message = autodebit.ErrorMessage(err)
	return h.renderToken(w, r, adhttp.StatusCode(err), tokenView{Sub: f})
}

func (h *Handler) subscribe(r *http.Request, t *autodebit.Token, f subscribeForm) (*autodebit.Subscription, error) {
	currency := t.Wallet
	if wl, ok := antom.LookupWallet(t.Wallet); ok {
		currency = wl.Currency
	}
	value, err := parseMajor(currency, f.Amount)
	if err != nil {
		return nil, err
	}
	in := engine.SubscriptionInput{TokenID: t.ID, Amount: autodebit.Amount{Currency: currency, Value: value},
		Interval: autodebit.Interval(f.Interval), Description: f.Desc, TimeZone: f.Zone, IdempotencyKey: idempotencyKey(r)}
	if in.IntervalCount, err = formInt("Every", f.Count, 1); err != nil {
		return nil, err
	}
	if in.Cycles, err = formInt("Periods", f.Cycles, 0); err != nil {
		return nil, err
	}
	loc, err := autodebit.LoadTimeZone(f.Zone)
	if err != nil {
		return nil, err
	}
	if f.Start != "" {
		// A datetime-local field: a wall time in the subscription's zone.
		start, err := time.ParseInLocation("2006-01-02T15:04", f.Start, loc)
		if err != nil {
			return nil, autodebit.Errorf(autodebit.EINVALID, "First charge must be a date and time such as 2026-05-01T09:00.")
		}
		in.StartAt = start
	}
	if f.Retries != "" {
		list := []string{}
		if strings.ToLower(f.Retries) != "none" {
			for _, p := range strings.Split(f.Retries, ",") {
				list = append(list, strings.TrimSpace(p))
			}
		}
		if in.RetrySchedule, err = autodebit.ParseRetrySchedule(list); err != nil {
			return nil, err
		}
	}
	return h.engine.CreateSubscription(r.Context(), in)
}

// formInt reads a whole number from a form field named label; empty gives
// def.
func formInt(label, s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, autodebit.Errorf(autodebit.EINVALID, "%s must be a whole number.", label)
	}
	return n, nil
}
