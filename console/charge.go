package console

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

type chargesView struct {
	Status   string
	Customer string
	Wallet   string
	From, To string // YYYY-MM-DD, UTC
	Charges  []*autodebit.Charge
	Pager    pager
	Message  string
}

func (h *Handler) chargesPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := chargesView{Status: q.Get("status"), Customer: strings.TrimSpace(q.Get("customer")), Wallet: q.Get("wallet"), From: q.Get("from"), To: q.Get("to")}
	f := autodebit.ChargeFilter{Status: autodebit.ChargeStatus(v.Status), CustomerID: v.Customer, Wallet: v.Wallet}
	var msgs []string
	if f.Status != "" && !f.Status.Valid() {
		msgs, f.Status = append(msgs, "Pick a status from the list."), ""
	}
	if v.From != "" {
		t, err := time.Parse(time.DateOnly, v.From)
		if err != nil {
			msgs = append(msgs, "“From” must be a date such as 2026-01-31.")
		}
		f.CreatedAfter = t
	}
	if v.To != "" {
		t, err := time.Parse(time.DateOnly, v.To)
		if err != nil {
			msgs = append(msgs, "“To” must be a date such as 2026-01-31.")
		} else {
			f.CreatedBefore = t.AddDate(0, 0, 1) // the whole day
		}
	}
	if !f.CreatedAfter.IsZero() && !f.CreatedBefore.IsZero() && !f.CreatedAfter.Before(f.CreatedBefore) {
		msgs = append(msgs, "“From” must not be after “To”.")
	}
	v.Message = strings.Join(msgs, " ")
	v.Pager = newPager(r)
	f.Limit, f.Offset = PageSize, v.Pager.Offset
	var err error
	if v.Charges, v.Pager.Total, err = h.store.FindCharges(r.Context(), f); err != nil {
		return err
	}
	status := http.StatusOK
	if v.Message != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "charges", "Charges", v)
	return nil
}

type chargeView struct {
	C          *autodebit.Charge
	Refunds    []*autodebit.Refund
	Timeline   []timelineEntry
	Remaining  int64 // minor units left to refund
	CanCancel  bool
	CanRefund  bool
	Refund     string // the refund form's amount
	Reason     string
	Key        string
	Message    string
	MessageFor string // "cancel" or "refund"
}

// timelineEntry is one event of the charge or of one of its refunds.
type timelineEntry struct {
	*autodebit.Event
	Refund string // the refund's ID, for a refund's event
}

func (e timelineEntry) Label() string {
	switch {
	case e.Direction == autodebit.EventOut:
		return "→ Antom " + strings.TrimPrefix(e.Kind, "antom.")
	case e.Direction == autodebit.EventIn:
		return "← Antom " + strings.ReplaceAll(e.Kind, ".", " ")
	}
	if e.Response != "" {
		return "State: " + e.Response
	}
	return "State change"
}

func (h *Handler) chargePage(w http.ResponseWriter, r *http.Request) error {
	return h.renderCharge(w, r, http.StatusOK, chargeView{})
}

func (h *Handler) renderCharge(w http.ResponseWriter, r *http.Request, status int, v chargeView) error {
	ctx := r.Context()
	c, err := h.store.FindChargeByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.C, v.Key = c, newKey()
	if v.Refunds, _, err = h.store.FindRefunds(ctx, autodebit.RefundFilter{ChargeID: c.ID}); err != nil {
		return err
	}
	events, err := h.store.FindEvents(ctx, c.ID)
	if err != nil {
		return err
	}
	for _, e := range events {
		v.Timeline = append(v.Timeline, timelineEntry{Event: e})
	}
	for _, rf := range v.Refunds {
		events, err := h.store.FindEvents(ctx, rf.ID)
		if err != nil {
			return err
		}
		for _, e := range events {
			v.Timeline = append(v.Timeline, timelineEntry{Event: e, Refund: rf.ID})
		}
	}
	sort.SliceStable(v.Timeline, func(i, j int) bool { return v.Timeline[i].CreatedAt.Before(v.Timeline[j].CreatedAt) })
	// Refunds still PROCESSING count against what is left.
	v.Remaining = c.Amount.Value - c.RefundedValue
	for _, rf := range v.Refunds {
		if rf.Status == autodebit.RefundProcessing {
			v.Remaining -= rf.Amount.Value
		}
	}
	v.CanCancel = c.Status == autodebit.ChargeInit && c.CancelRequestedAt.IsZero()
	v.CanRefund = c.Status == autodebit.ChargeSuccess && v.Remaining > 0
	if v.Refund == "" && v.CanRefund {
		v.Refund = majorUnits(c.Amount.Currency, v.Remaining)
	}
	h.render(w, r, status, "charge", "Charge "+c.ID, v)
	return nil
}

func (h *Handler) cancelCharge(w http.ResponseWriter, r *http.Request) error {
	c, err := h.engine.CancelCharge(r.Context(), r.PathValue("id"))
	if err != nil {
		if !formError(err) {
			return err
		}
		return h.renderCharge(w, r, adhttp.StatusCode(err), chargeView{Message: autodebit.ErrorMessage(err), MessageFor: "cancel"})
	}
	return redirect(w, r, "/charges/"+c.ID+"?notice=cancelled")
}

func (h *Handler) createRefund(w http.ResponseWriter, r *http.Request) error {
	c, err := h.store.FindChargeByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := chargeView{Refund: r.PostForm.Get("amount"), Reason: strings.TrimSpace(r.PostForm.Get("reason")), MessageFor: "refund"}
	value, err := parseMajor(c.Amount.Currency, v.Refund)
	if err == nil {
		_, err = h.engine.CreateRefund(r.Context(), engine.RefundInput{
			ChargeID: c.ID, Amount: autodebit.Amount{Currency: c.Amount.Currency, Value: value}, Reason: v.Reason,
			IdempotencyKey: idempotencyKey(r),
		})
		if err == nil {
			return redirect(w, r, "/charges/"+c.ID+"?notice=refunded")
		}
	}
	if !formError(err) {
		return err
	}
	v.Message = autodebit.ErrorMessage(err)
	return h.renderCharge(w, r, adhttp.StatusCode(err), v)
}
