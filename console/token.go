package console

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

type tokensView struct {
	Filter  autodebit.TokenFilter
	Tokens  []*autodebit.Token
	Pager   pager
	Message string
	Key     func() string // a fresh idempotency key per charge form
}

func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := autodebit.TokenFilter{
		CustomerID: strings.TrimSpace(q.Get("customer")), Wallet: q.Get("wallet"), Status: autodebit.TokenStatus(q.Get("status")),
	}
	v := tokensView{Filter: f, Key: newKey}
	if f.Status != "" && !f.Status.Valid() {
		v.Message = "Pick a status from the list."
		f.Status = ""
	}
	v.Pager = newPager(r)
	f.Limit, f.Offset = PageSize, v.Pager.Offset
	var err error
	if v.Tokens, v.Pager.Total, err = h.store.FindTokens(r.Context(), f); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "tokens", "Tokens", v)
	return nil
}

type tokenView struct {
	T       *autodebit.Token
	Wallet  antom.Wallet
	Charges []*autodebit.Charge
	// Timeline is the link attempt's exchanges (consult, the
	// AUTHCODE_CREATED notification, applyToken) and the token's own
	// (revoke, a wallet's TOKEN_CANCELED), oldest first.
	Timeline []timelineEntry
	Amount   string
	Desc     string
	Key      string
	Message  string
	// The token's subscriptions and the form that makes one.
	Subscriptions []*autodebit.Subscription
	Sub           subscribeForm
	SubKey        string
	Intervals     []autodebit.Interval
}

func (h *Handler) tokenPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderToken(w, r, http.StatusOK, tokenView{})
}

func (h *Handler) renderToken(w http.ResponseWriter, r *http.Request, status int, v tokenView) error {
	t, err := h.store.FindTokenByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v.T, v.Key, v.SubKey, v.Intervals = t, newKey(), newKey(), autodebit.Intervals()
	if v.Sub.Interval == "" {
		v.Sub.Interval = string(autodebit.IntervalMonth)
	}
	if v.Subscriptions, _, err = h.store.FindSubscriptions(r.Context(), autodebit.SubscriptionFilter{TokenID: t.ID, Limit: 10}); err != nil {
		return err
	}
	v.Wallet, _ = antom.LookupWallet(t.Wallet)
	if v.Charges, _, err = h.store.FindCharges(r.Context(), autodebit.ChargeFilter{TokenID: t.ID, Limit: 10}); err != nil {
		return err
	}
	v.Timeline, err = h.timeline(r.Context(), timelineSource{ID: t.AuthorizationID, Of: "link attempt " + t.AuthorizationID}, timelineSource{ID: t.ID})
	if err != nil {
		return err
	}
	h.render(w, r, status, "token", "Token "+t.ID, v)
	return nil
}

// createCharge is the one-click charge form of a token.
func (h *Handler) createCharge(w http.ResponseWriter, r *http.Request) error {
	t, err := h.store.FindTokenByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := tokenView{Amount: r.PostForm.Get("amount"), Desc: strings.TrimSpace(r.PostForm.Get("description"))}
	currency := t.Wallet
	if wl, ok := antom.LookupWallet(t.Wallet); ok {
		currency = wl.Currency
	}
	value, err := parseMajor(currency, v.Amount)
	if err == nil {
		var c *autodebit.Charge
		c, err = h.engine.CreateCharge(r.Context(), engine.ChargeInput{
			TokenID: t.ID, Amount: autodebit.Amount{Currency: currency, Value: value}, Description: v.Desc,
			IdempotencyKey: idempotencyKey(r),
		})
		if err == nil {
			return redirect(w, r, "/charges/"+url.PathEscape(c.ID)+"?notice=charged")
		}
	}
	if !formError(err) {
		return err
	}
	v.Message = autodebit.ErrorMessage(err)
	return h.renderToken(w, r, adhttp.StatusCode(err), v)
}

func (h *Handler) revokePage(w http.ResponseWriter, r *http.Request) error {
	t, err := h.store.FindTokenByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "revoke", "Revoke token "+t.ID, t)
	return nil
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm.Get("confirm") != "yes" {
		return autodebit.Errorf(autodebit.EINVALID, "Confirm the revoke with the button on the confirmation page.")
	}
	t, err := h.engine.RevokeToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	notice := "revoked"
	if t.Status != autodebit.TokenRevoked {
		notice = "revoking"
	}
	return redirect(w, r, "/tokens/"+url.PathEscape(t.ID)+"?notice="+notice)
}

// newKey returns a fresh idempotency key for a form, so that submitting it
// twice (a double click, a reload) makes one charge or refund, not two.
func newKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "console_" + b64(b)
}

func idempotencyKey(r *http.Request) string {
	k := r.PostForm.Get("key")
	if len(k) > 64 {
		return ""
	}
	return k
}

// pager is the position in a paginated list.
type pager struct {
	Page   int // from 1
	Offset int
	Total  int
	query  url.Values
}

func newPager(r *http.Request) pager {
	p := pager{Page: 1, query: r.URL.Query()}
	if n, err := strconv.Atoi(p.query.Get("page")); err == nil && n > 0 && n < 1_000_000 {
		p.Page = n
	}
	p.Offset = (p.Page - 1) * PageSize
	return p
}

func (p pager) First() int { return min(p.Offset+1, p.Total) }
func (p pager) Last() int  { return min(p.Offset+PageSize, p.Total) }
func (p pager) HasPrev() bool {
	return p.Page > 1
}
func (p pager) HasNext() bool { return p.Offset+PageSize < p.Total }
func (p pager) Prev() string  { return p.link(p.Page - 1) }
func (p pager) Next() string  { return p.link(p.Page + 1) }

func (p pager) link(page int) string {
	q := url.Values{}
	for k, v := range p.query {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(page))
	return "?" + q.Encode()
}
