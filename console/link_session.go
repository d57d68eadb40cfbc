package console

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

// Link sessions in the console: "Send a link" makes one and shows the URL
// to send the buyer (with a copy button and a QR code of it), and each
// customer's sessions are listed.

// linkLifetimes are the lifetimes the form offers, the default first.
var linkLifetimes = []string{"1h", "4h", "12h", "24h"}

// localeNames name the buyer page's locales in the form.
var localeNames = map[string]string{
	"en": "English", "zh": "中文 (Chinese)", "id": "Bahasa Indonesia", "ko": "한국어 (Korean)",
	"th": "ไทย (Thai)", "ms": "Bahasa Melayu", "tl": "Tagalog / Filipino",
}

type linkSessionsView struct {
	Filter   autodebit.LinkSessionFilter
	Sessions []*autodebit.LinkSession
	Pager    pager
	// The "Send a link" form.
	CustomerID, Wallet, Lifetime, Locale, ReturnURL string
	Lifetimes                                       []string
	Locales                                         []string
	LocaleNames                                     map[string]string
	Key                                             string
	Message                                         string
}

func (h *Handler) linkSessionsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := linkSessionsView{CustomerID: strings.TrimSpace(q.Get("customer")), Wallet: q.Get("wallet")}
	return h.renderLinkSessions(w, r, http.StatusOK, v)
}

func (h *Handler) renderLinkSessions(w http.ResponseWriter, r *http.Request, status int, v linkSessionsView) error {
	q := r.URL.Query()
	v.Filter = autodebit.LinkSessionFilter{CustomerID: strings.TrimSpace(q.Get("customer")), Status: autodebit.LinkSessionStatus(q.Get("status"))}
	if v.Filter.Status != "" && !v.Filter.Status.Valid() {
		v.Filter.Status = ""
	}
	v.Lifetimes, v.Locales, v.LocaleNames, v.Key = linkLifetimes, autodebit.LinkSessionLocales(), localeNames, newKey()
	v.Pager = newPager(r)
	f := v.Filter
	f.Limit, f.Offset = PageSize, v.Pager.Offset
	var err error
	if v.Sessions, v.Pager.Total, err = h.store.FindLinkSessions(r.Context(), f); err != nil {
		return err
	}
	title := "Send a link"
	if v.Filter.CustomerID != "" {
		title = "Links for " + v.Filter.CustomerID
	}
	h.render(w, r, status, "link_sessions", title, v)
	return nil
}

// createLinkSession is "Send a link": a session for the customer, whose
// page the operator sends the buyer.
func (h *Handler) createLinkSession(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	v := linkSessionsView{
		CustomerID: strings.TrimSpace(f.Get("customerId")), Wallet: f.Get("wallet"), Lifetime: f.Get("lifetime"),
		Locale: f.Get("locale"), ReturnURL: strings.TrimSpace(f.Get("returnUrl")),
	}
	in := engine.LinkSessionInput{CustomerID: v.CustomerID, Wallet: v.Wallet, Locale: v.Locale, ReturnURL: v.ReturnURL, IdempotencyKey: idempotencyKey(r)}
	if v.Lifetime != "" {
		d, err := time.ParseDuration(v.Lifetime)
		if err != nil {
			v.Message = "Choose how long the link works from the list."
			return h.renderLinkSessions(w, r, http.StatusBadRequest, v)
		}
		in.Lifetime = d
	}
	if v.CustomerID == "" {
		v.Message = "Enter the customer ID: your reference for the buyer."
		return h.renderLinkSessions(w, r, http.StatusBadRequest, v)
	}
	s, err := h.engine.CreateLinkSession(r.Context(), in)
	if err != nil {
		if !formError(err) {
			return err
		}
		v.Message = autodebit.ErrorMessage(err)
		return h.renderLinkSessions(w, r, adhttp.StatusCode(err), v)
	}
	return redirect(w, r, "/link-sessions/"+url.PathEscape(s.ID)+"?notice=sent")
}

type linkSessionView struct {
	S        *autodebit.LinkSession
	URL      string
	QR       template.URL // the URL as a QR code, for a buyer standing at the counter
	Attempts []*autodebit.Authorization
	Timeline []timelineEntry
	Notice   notice
	Message  string
}

func (v linkSessionView) notice() notice { return v.Notice }

func (h *Handler) linkSessionPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderLinkSession(w, r, http.StatusOK, "")
}

// renderLinkSession shows the session of the path; message says why an
// action on it was refused.
func (h *Handler) renderLinkSession(w http.ResponseWriter, r *http.Request, status int, message string) error {
	ctx := r.Context()
	s, err := h.store.FindLinkSessionByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := linkSessionView{S: s, URL: h.engine.LinkSessionURL(s), Message: message}
	switch r.URL.Query().Get("notice") {
	case "sent":
		v.Notice = notice{"Link made. Send it to the buyer: it works until " + s.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC") + ".", "ok"}
	case "cancelled":
		v.Notice = notice{"The link is cancelled: its page no longer works.", "ok"}
	}
	if s.Status == autodebit.LinkSessionOpen {
		png, err := qrcode.Encode(v.URL, qrcode.Medium, 256)
		if err != nil {
			return err
		}
		v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	if v.Attempts, _, err = h.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{LinkSessionID: s.ID}); err != nil {
		return err
	}
	sources := []timelineSource{{ID: s.ID}}
	for _, a := range v.Attempts {
		sources = append(sources, timelineSource{ID: a.ID, Of: "attempt " + a.ID})
	}
	if v.Timeline, err = h.timeline(ctx, sources...); err != nil {
		return err
	}
	h.render(w, r, status, "link_session", "Link for "+s.CustomerID, v)
	return nil
}

func (h *Handler) cancelLinkSession(w http.ResponseWriter, r *http.Request) error {
	s, err := h.engine.CancelLinkSession(r.Context(), r.PathValue("id"), engine.CancelledByMerchant)
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT {
		return h.renderLinkSession(w, r, http.StatusConflict, autodebit.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return redirect(w, r, "/link-sessions/"+url.PathEscape(s.ID)+"?notice=cancelled")
}
