// Package linkpage serves the buyer's page of a link session at
// /link/{secret}: no login (the unguessable secret in the URL is the
// credential), the wallet choice, the QR code (and on a phone a button that
// opens the wallet), a live status, "Try again", "Cancel", and the redirect
// to the merchant's returnUrl once the token is ACTIVE.
//
// Pages are rendered on the server and work without JavaScript (a
// <noscript> refresh moves them on); the one script only polls the page's
// status and moves on without a reload. Every response carries a strict
// Content-Security-Policy (nothing inline, nothing from another origin),
// Referrer-Policy: no-referrer (the URL holds the secret) and Cache-Control:
// no-store. An unknown, wrong, cancelled or expired secret gets one and the
// same "this link does not work" page.
package linkpage

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
)

//go:embed templates static
var files embed.FS

// Config configures the page.
type Config struct {
	// Engine starts attempts and cancels sessions. Required.
	Engine *engine.Engine
	// Reader finds sessions and attempts. Nil means Engine.Store().
	Reader autodebit.Reader
	// PollInterval is how often the page's script asks for the status.
	// Zero means 2s.
	PollInterval time.Duration
	// NowFunc returns the current time. Nil means the engine's clock
	// (Engine.Now), which is what judges a session's expiry.
	NowFunc func() time.Time
	// Logger receives errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the pages. It is safe for concurrent use.
type Handler struct {
	engine *engine.Engine
	store  autodebit.Reader
	poll   time.Duration
	now    func() time.Time
	log    *slog.Logger
	pages  map[string]*template.Template
	mux    *http.ServeMux
}

// New returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("linkpage: Engine is required")
	}
	h := &Handler{engine: cfg.Engine, store: cfg.Reader, poll: cfg.PollInterval, now: cfg.NowFunc, log: cfg.Logger, mux: http.NewServeMux()}
	if h.store == nil {
		h.store = cfg.Engine.Store()
	}
	if h.poll <= 0 {
		h.poll = 2 * time.Second
	}
	if h.now == nil {
		h.now = cfg.Engine.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix(assetsPrefix, http.FileServerFS(static))
	h.mux.Handle("GET "+assetsPrefix+"link.css", assets)
	h.mux.Handle("GET "+assetsPrefix+"link.js", assets)
	h.mux.HandleFunc("GET "+engine.LinkDonePath, h.done)
	h.mux.HandleFunc("GET /link/{secret}", h.page)
	h.mux.HandleFunc("GET /link/{secret}/status", h.status)
	h.mux.HandleFunc("GET /link/{secret}/next", h.next)
	h.mux.HandleFunc("POST /link/{secret}/attempt", h.attempt)
	h.mux.HandleFunc("POST /link/{secret}/cancel", h.cancel)
	h.mux.HandleFunc("/link/{secret}/{rest...}", h.gone)
	return h, nil
}

// assetsPrefix is where the page's stylesheet and script are served.
const assetsPrefix = "/link/assets/"

// Mount registers the handler on mux for every path it serves: /link/ and
// the paths below it, but not /link itself (the console's page).
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("/link/{secret}", h)
	mux.Handle("/link/{secret}/{rest...}", h)
}

// ServeHTTP implements http.Handler. Every response gets the page's
// security headers first, so that errors and 404s carry them too.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setHeaders(w.Header(), "")
	h.mux.ServeHTTP(w, r)
}

// setHeaders sets the headers of every response. formOrigin, when set, is
// the one other origin a form may lead to: the cancelUrl's, which the
// Cancel form's redirect goes to (browsers check form-action on it).
func setHeaders(hd http.Header, formOrigin string) {
	formAction := "'self'"
	if formOrigin != "" {
		formAction += " " + formOrigin
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
		"form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
}

// origin returns scheme://host[:port] of u, or "" if it has none.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// States of the page, as the status endpoint reports them.
const (
	stateChoose   = "choose"   // the buyer picks a wallet
	stateStart    = "start"    // a wallet is set and no attempt made yet
	statePending  = "pending"  // the QR code is shown
	stateLinking  = "linking"  // approved; applyToken is running
	stateFailed   = "failed"   // the attempt failed or expired: try again
	stateComplete = "complete" // linked
	stateGone     = "gone"     // unknown, wrong, cancelled or expired
)

// session is a session and its current attempt as the page shows them.
type session struct {
	s     *autodebit.LinkSession
	a     *autodebit.Authorization // nil before the first attempt
	state string
}

// load finds the session of secret and works out its state. A secret that
// names no session is stateGone with a nil s.
func (h *Handler) load(ctx context.Context, secret string) (*session, error) {
	s, err := h.store.FindLinkSessionBySecret(ctx, secret)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return &session{state: stateGone}, nil
	} else if err != nil {
		return nil, err
	}
	out := &session{s: s}
	if s.AuthorizationID != "" {
		if out.a, err = h.store.FindAuthorizationByID(ctx, s.AuthorizationID); err != nil {
			return nil, err
		}
	}
	now := h.now()
	switch {
	case s.Status == autodebit.LinkSessionComplete:
		out.state = stateComplete
	case s.Status != autodebit.LinkSessionOpen || s.Expired(now):
		out.state = stateGone
	case out.a == nil && s.Wallet == "":
		out.state = stateChoose
	case out.a == nil:
		out.state = stateStart
	case out.a.Status == autodebit.AuthorizationAuthorized || out.a.Status == autodebit.AuthorizationActive:
		out.state = stateLinking
	case out.a.Status == autodebit.AuthorizationPending && now.Before(out.a.ExpiresAt):
		out.state = statePending
	default: // FAILED, EXPIRED, or PENDING past its expiry before its job ran
		out.state = stateFailed
	}
	return out, nil
}

// page is the buyer's page. A browser's navigation to a session that has a
// wallet and no attempt yet starts one, so that the QR code shows at once;
// a request that is not a navigation (a chat app fetching a preview of the
// link) gets a "Show the QR code" button instead, and uses up nothing.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	ctx, secret := r.Context(), r.PathValue("secret")
	ss, err := h.load(ctx, secret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ss.state == stateComplete && r.URL.Query().Get("live") == "1" {
		// The page moving on by itself (its script or refresh, through
		// next) found the session complete: on to the returnUrl. A buyer
		// who opens the link again gets the "linked" page instead.
		http.Redirect(w, r, ss.s.CompleteURL(), http.StatusSeeOther)
		return
	}
	if ss.state == stateStart && r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		if _, _, err := h.engine.StartLinkAttempt(ctx, ss.s.ID, ""); err != nil && !shownOnPage(err) {
			h.fail(w, r, err)
			return
		}
		if ss, err = h.load(ctx, secret); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	choose := r.URL.Query().Get("choose") == "1" && ss.s != nil && ss.s.BuyerChoosesWallet &&
		(ss.state == statePending || ss.state == stateFailed)
	h.render(w, r, ss, choose, "")
}

// shownOnPage reports whether an error of StartLinkAttempt is one the page
// shows by its state (a consult that failed is a FAILED attempt; a session
// that ended or is linking shows as such) rather than as an error page.
func shownOnPage(err error) bool {
	switch autodebit.ErrorCode(err) {
	case autodebit.ECONFLICT, autodebit.EDECLINED, autodebit.EUNAVAILABLE:
		return true
	}
	return false
}

// status is the small JSON the page's script polls: {"state": …}. It says
// nothing else: the page itself shows the rest.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	ss, err := h.load(r.Context(), r.PathValue("secret"))
	if err != nil {
		h.log.Error("link page status", "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"state": "error"})
		return
	}
	code := http.StatusOK
	if ss.state == stateGone {
		code = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"state": ss.state})
}

// next is where the page goes when its state changes (the script, or the
// <noscript> refresh): to the returnUrl once complete, else back to the page.
func (h *Handler) next(w http.ResponseWriter, r *http.Request) {
	secret := r.PathValue("secret")
	ss, err := h.load(r.Context(), secret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ss.state == stateComplete {
		http.Redirect(w, r, ss.s.CompleteURL(), http.StatusSeeOther)
		return
	}
	// live: the session may complete before the page loads again.
	http.Redirect(w, r, engine.LinkPagePrefix+secret+"?live=1", http.StatusSeeOther)
}

// posted reads a form posted to a session's page and the session it names.
// It answers the request itself, and returns nil, unless the session is
// open: a finished or unknown session shows its page.
func (h *Handler) posted(w http.ResponseWriter, r *http.Request) *session {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		// The secret in the path already makes a forged post impossible
		// without the link; this keeps it so for a link that leaked into
		// another site's page.
		http.Error(w, "This form can only be sent from its own page.", http.StatusForbidden)
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return nil
	}
	ss, err := h.load(r.Context(), r.PathValue("secret"))
	if err != nil {
		h.fail(w, r, err)
		return nil
	}
	if ss.state == stateGone || ss.state == stateComplete {
		h.render(w, r, ss, false, "")
		return nil
	}
	return ss
}

// attempt starts an attempt: the wallet chosen, "Try again", "Get a new
// code" and "Show the QR code" post here.
func (h *Handler) attempt(w http.ResponseWriter, r *http.Request) {
	ss := h.posted(w, r)
	if ss == nil {
		return
	}
	ctx, secret := r.Context(), r.PathValue("secret")
	_, _, err := h.engine.StartLinkAttempt(ctx, ss.s.ID, r.PostForm.Get("wallet"))
	switch {
	case autodebit.ErrorCode(err) == autodebit.EINVALID:
		// Not a wallet of this session: the choice again (a crafted form).
		h.render(w, r, ss, ss.s.BuyerChoosesWallet, autodebit.ErrorMessage(err))
		return
	case err != nil && !shownOnPage(err):
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, engine.LinkPagePrefix+secret, http.StatusSeeOther)
}

// cancel is the buyer's Cancel: the session ends and the browser goes to
// the cancelUrl with link_session and status=cancelled.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	ss := h.posted(w, r)
	if ss == nil {
		return
	}
	secret := r.PathValue("secret")
	s, err := h.engine.CancelLinkSession(r.Context(), ss.s.ID, engine.CancelledByBuyer)
	switch {
	case err != nil && !shownOnPage(err):
		h.fail(w, r, err)
	case err != nil || s.CancelledURL() == "":
		http.Redirect(w, r, engine.LinkPagePrefix+secret, http.StatusSeeOther)
	default:
		http.Redirect(w, r, s.CancelledURL(), http.StatusSeeOther)
	}
}

// gone answers every other path below a session's page.
func (h *Handler) gone(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, &session{state: stateGone}, false, "")
}

// done is the page sessions made without a returnUrl of their own return
// to (the console's "Send a link").
func (h *Handler) done(w http.ResponseWriter, r *http.Request) {
	t := textsFor(chooseLocale("", r.Header.Get("Accept-Language")))
	h.write(w, http.StatusOK, "done", pageView{T: t, Title: t.Get("linked_heading")})
}

// fail shows an unexpected error as a plain page; the details go to the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("link page failed", "method", r.Method, "path", engine.LinkPagePrefix+"…", "err", err)
	t := textsFor(chooseLocale("", r.Header.Get("Accept-Language")))
	h.write(w, http.StatusInternalServerError, "error", pageView{T: t, Title: t.Get("error_heading")})
}

// walletView is a wallet as the page shows it.
type walletView struct {
	Code, Name, Region string
}

func toWalletView(w antom.Wallet) walletView {
	return walletView{Code: w.Code, Name: w.Name, Region: w.Region}
}

// pageView is what every template gets.
type pageView struct {
	T     text
	Title string
	State string
	// Paths of the session's page and its actions.
	Page, StatusURL, NextURL, AttemptURL, CancelAction string
	PollMS                                             int64
	Wallet                                             walletView // the current one; zero when none
	Wallets                                            []walletView
	Message                                            string // why a choice was refused
	QR                                                 template.URL
	OpenURL                                            string // the QR's TEXT link, when it is an http(s) URL
	Failure                                            string // the failed attempt, in plain words
	FailureCode                                        string
	CanChoose, CanCancel                               bool
	ContinueURL                                        string
}

// render shows a session's page in its state; choose shows the wallet
// choice instead of the current attempt.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, ss *session, choose bool, message string) {
	locale := ""
	if ss.s != nil {
		locale = ss.s.Locale
	}
	t := textsFor(chooseLocale(locale, r.Header.Get("Accept-Language")))
	v := pageView{T: t, Title: t.Get("title"), State: ss.state, Message: message}
	if ss.state == stateGone {
		h.write(w, http.StatusNotFound, "gone", pageView{T: t, Title: t.Get("gone_heading"), State: stateGone})
		return
	}
	s := ss.s
	base := engine.LinkPagePrefix + r.PathValue("secret")
	v.Page, v.StatusURL, v.NextURL, v.AttemptURL, v.CancelAction = base, base+"/status", base+"/next", base+"/attempt", base+"/cancel"
	v.PollMS = h.poll.Milliseconds()
	v.CanChoose, v.CanCancel = s.BuyerChoosesWallet, s.CancelURL != ""
	if wallet, ok := antom.LookupWallet(s.Wallet); ok {
		v.Wallet = toWalletView(wallet)
	}
	if ss.a != nil {
		if wallet, ok := antom.LookupWallet(ss.a.Wallet); ok {
			v.Wallet = toWalletView(wallet)
		}
	}
	setHeaders(w.Header(), origin(s.CancelURL))
	name := "link"
	switch {
	case ss.state == stateComplete:
		name, v.Title, v.ContinueURL = "linked", t.Get("linked_heading"), s.CompleteURL()
	case ss.state == stateChoose || choose:
		name, v.Title = "choose", t.Get("choose")
		for _, wallet := range antom.Wallets() {
			v.Wallets = append(v.Wallets, toWalletView(wallet))
		}
	case ss.state == statePending:
		png, err := qrcode.Encode(ss.a.QRText, qrcode.Medium, 512)
		if err != nil {
			h.fail(w, r, fmt.Errorf("QR code of %s: %w", ss.a.ID, err))
			return
		}
		v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		if p, err := url.Parse(ss.a.QRText); err == nil && (p.Scheme == "https" || p.Scheme == "http") {
			v.OpenURL = ss.a.QRText
		}
		v.Title = t.Get("link", v.Wallet.Name)
	case ss.state == stateFailed:
		v.Failure, v.FailureCode = failureText(t, ss.a, v.Wallet.Name, h.now()), ss.a.FailureCode
		v.Title = t.Get("link", v.Wallet.Name)
	default:
		v.Title = t.Get("link", v.Wallet.Name)
	}
	status := http.StatusOK
	if message != "" {
		status = http.StatusBadRequest
	}
	h.write(w, status, name, v)
}

// failureText says in plain words why an attempt did not link.
func failureText(t text, a *autodebit.Authorization, wallet string, now time.Time) string {
	switch {
	case a.Status == autodebit.AuthorizationExpired || a.Status == autodebit.AuthorizationPending && !now.Before(a.ExpiresAt):
		return t.Get("expired")
	case a.FailureCode == "CONSULT_UNAVAILABLE" || a.FailureCode == "NO_QR_CODE" || a.QRText == "":
		return t.Get("unavailable", wallet)
	}
	return t.Get("failed", wallet)
}

func (h *Handler) write(w http.ResponseWriter, status int, name string, v pageView) {
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		h.log.Error("link page render", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// pageNames are the templates, each rendered inside templates/layout.html.
var pageNames = []string{"choose", "link", "linked", "gone", "done", "error"}

func (h *Handler) parseTemplates() error {
	layout, err := template.New("layout").ParseFS(files, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("linkpage: parse layout: %w", err)
	}
	h.pages = make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		if h.pages[name], err = template.Must(layout.Clone()).ParseFS(files, "templates/"+name+".html"); err != nil {
			return fmt.Errorf("linkpage: parse %s: %w", name, err)
		}
	}
	return nil
}
