package console

import (
	"context"
	"net/http"
	"net/url"
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
	// Start is set when there are no charges at all: "link" when no
	// wallet was ever linked, "charge" when tokens exist. The page then
	// points to the next step instead of an empty table.
	Start string
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
	if v.Pager.Total == 0 && v.Message == "" && f == (autodebit.ChargeFilter{Limit: PageSize}) {
		_, tokens, err := h.store.FindTokens(r.Context(), autodebit.TokenFilter{Limit: 1})
		if err != nil {
			return err
		}
		v.Start = "charge"
		if tokens == 0 {
			v.Start = "link"
		}
	}
	h.render(w, r, filterStatus(v.Message), "charges", "Charges", v)
	return nil
}

type chargeView struct {
	C          *autodebit.Charge
	Refunds    []*autodebit.Refund
	Timeline   []timelineEntry
	Remaining  int64 // minor units left to refund
	CanCancel  bool
	CanRefund  bool
	Refund     string // the refund form's amount, as typed; never prefilled
	Reason     string
	Key        string
	Message    string
	MessageFor string // "cancel" or "refund"
	done       notice // what came of the action that led here
}

func (v chargeView) notice() notice { return v.done }

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
	sources := []timelineSource{{ID: c.ID}}
	for _, rf := range v.Refunds {
		sources = append(sources, timelineSource{ID: rf.ID, Of: "refund " + rf.ID})
	}
	if v.Timeline, err = h.timeline(ctx, sources...); err != nil {
		return err
	}
	v.Remaining = remaining(c, v.Refunds)
	v.CanCancel = cancellable(c)
	v.CanRefund = c.Status == autodebit.ChargeSuccess && v.Remaining > 0
	if v.MessageFor == "" {
		v.done = actionNotice(r.URL.Query(), c, v.Refunds)
	}
	h.render(w, r, status, "charge", "Charge "+c.ID, v)
	return nil
}

// remaining is what is left to refund of c, in minor units: refunds still
// PROCESSING count against it.
func remaining(c *autodebit.Charge, refunds []*autodebit.Refund) int64 {
	left := c.Amount.Value - c.RefundedValue
	for _, rf := range refunds {
		if rf.Status == autodebit.RefundProcessing {
			left -= rf.Amount.Value
		}
	}
	return max(left, 0)
}

func cancellable(c *autodebit.Charge) bool {
	return c.Status == autodebit.ChargeInit && c.CancelRequestedAt.IsZero()
}

// actionNotice says what came of the charge, cancel or refund that
// redirected here (?notice=charged, cancelled, or refunded&refund=ID), from
// the state the objects are in now: a refund Antom answered at once is
// "Refunded PHP 5.00.", one still PROCESSING says so.
func actionNotice(q url.Values, c *autodebit.Charge, refunds []*autodebit.Refund) notice {
	amount := money(c.Amount)
	why := ""
	if c.ResultCode != "" {
		why = ": " + c.ResultCode
		if c.ResultMessage != "" {
			why += " (" + c.ResultMessage + ")"
		}
	}
	switch q.Get("notice") {
	case "charged":
		switch c.Status {
		case autodebit.ChargeSuccess:
			return notice{"Charged " + amount + ".", "ok"}
		case autodebit.ChargeFail:
			return notice{"The charge of " + amount + " failed" + why + ". Nothing was charged.", "error"}
		case autodebit.ChargeCancelled:
			return notice{"The charge of " + amount + " was cancelled. Nothing was charged.", "info"}
		}
		return notice{"Charge of " + amount + " sent; Antom has not given the result yet. The engine asks until it knows; reload this page to see it.", "info"}
	case "cancelled":
		switch c.Status {
		case autodebit.ChargeCancelled:
			return notice{"Cancelled. The buyer is not charged " + amount + " (a payment made meanwhile is refunded in full by Antom).", "ok"}
		case autodebit.ChargeSuccess:
			return notice{"The charge succeeded before the cancel reached Antom. Refund it to give the money back.", "error"}
		case autodebit.ChargeFail:
			return notice{"The charge had already failed" + why + ". Nothing was charged.", "info"}
		}
		return notice{"Cancel requested; Antom has not answered yet. Reload this page to see the result.", "info"}
	case "refunded":
		for _, rf := range refunds {
			if rf.ID != q.Get("refund") {
				continue
			}
			switch rf.Status {
			case autodebit.RefundSuccess:
				return notice{"Refunded " + money(rf.Amount) + ".", "ok"}
			case autodebit.RefundFail:
				return notice{"The refund of " + money(rf.Amount) + " failed: " + rf.ResultCode + ". Nothing was refunded.", "error"}
			}
			return notice{"Refund of " + money(rf.Amount) + " sent; Antom has not confirmed it yet. Reload this page to see the result.", "info"}
		}
	}
	return notice{}
}

// cancelPage asks to confirm a cancel: it cannot be undone, and a payment
// that succeeds meanwhile is refunded.
func (h *Handler) cancelPage(w http.ResponseWriter, r *http.Request) error {
	c, err := h.store.FindChargeByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !cancellable(c) {
		return h.renderCharge(w, r, http.StatusConflict, chargeView{Message: notCancellable(c), MessageFor: "cancel"})
	}
	h.render(w, r, http.StatusOK, "cancel", "Cancel charge "+c.ID, c)
	return nil
}

// notCancellable says why c has no cancel, and what can be done instead:
// the engine's words for a final charge.
func notCancellable(c *autodebit.Charge) string {
	if c.Status.Final() {
		return autodebit.ErrorMessage(engine.NotCancellable(c))
	}
	return "A cancel of this charge is already requested; Antom's answer is pending."
}

func (h *Handler) cancelCharge(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm.Get("confirm") != "yes" {
		return autodebit.Errorf(autodebit.EINVALID, "Confirm the cancel with the button on the confirmation page.")
	}
	c, err := h.engine.CancelCharge(r.Context(), r.PathValue("id"))
	if err != nil {
		if !formError(err) {
			return err
		}
		return h.renderCharge(w, r, adhttp.StatusCode(err), chargeView{Message: autodebit.ErrorMessage(err), MessageFor: "cancel"})
	}
	return redirect(w, r, "/charges/"+url.PathEscape(c.ID)+"?notice=cancelled")
}

// refundConfirmView is the page that asks to confirm a refund.
type refundConfirmView struct {
	C         *autodebit.Charge
	Amount    autodebit.Amount
	Reason    string
	Key       string
	LeftAfter autodebit.Amount // what is left to refund after this one
}

// createRefund answers the refund form: with a valid amount it asks for a
// confirmation first, and refunds once confirmed (confirm=yes).
func (h *Handler) createRefund(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := h.store.FindChargeByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := chargeView{Refund: r.PostForm.Get("amount"), Reason: strings.TrimSpace(r.PostForm.Get("reason")), MessageFor: "refund"}
	amount := autodebit.Amount{Currency: c.Amount.Currency}
	amount.Value, err = parseMajor(c.Amount.Currency, v.Refund)
	if err == nil && r.PostForm.Get("confirm") != "yes" {
		var left int64
		if left, err = h.refundable(ctx, c, amount); err == nil {
			h.render(w, r, http.StatusOK, "refund", "Refund charge "+c.ID, refundConfirmView{
				C: c, Amount: amount, Reason: v.Reason, Key: idempotencyKey(r),
				LeftAfter: autodebit.Amount{Currency: c.Amount.Currency, Value: left - amount.Value},
			})
			return nil
		}
	}
	if err == nil {
		var rf *autodebit.Refund
		rf, err = h.engine.CreateRefund(ctx, engine.RefundInput{
			ChargeID: c.ID, Amount: amount, Reason: v.Reason, IdempotencyKey: idempotencyKey(r),
		})
		if err == nil {
			return redirect(w, r, "/charges/"+url.PathEscape(c.ID)+"?notice=refunded&refund="+url.QueryEscape(rf.ID))
		}
	}
	if !formError(err) {
		return err
	}
	v.Message = autodebit.ErrorMessage(err)
	return h.renderCharge(w, r, adhttp.StatusCode(err), v)
}

// refundable checks, before asking for a confirmation, that amount can be
// refunded on c, and returns what is left to refund. The engine checks
// again when the refund is made.
func (h *Handler) refundable(ctx context.Context, c *autodebit.Charge, amount autodebit.Amount) (int64, error) {
	if c.Status != autodebit.ChargeSuccess {
		return 0, autodebit.Errorf(autodebit.ECONFLICT, "This charge is %s; only a SUCCESS charge can be refunded.", c.Status)
	}
	refunds, _, err := h.store.FindRefunds(ctx, autodebit.RefundFilter{ChargeID: c.ID})
	if err != nil {
		return 0, err
	}
	left := remaining(c, refunds)
	if amount.Value > left {
		return 0, autodebit.Errorf(autodebit.EINVALID, "A refund of %s is more than the %s left to refund.",
			money(amount), money(autodebit.Amount{Currency: c.Amount.Currency, Value: left}))
	}
	return left, nil
}
