// Package console serves the operator's web console: link a wallet, list
// and revoke tokens, charge, cancel and refund, and watch the engine's
// health. Pages are rendered on the server with html/template; the assets
// are embedded, and the little JavaScript there is (live authorization
// status, local times) only improves pages that work without it.
//
// The console sits behind a login with the operator's API key. See
// session.go for how sessions and CSRF tokens work.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/clock"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

//go:embed templates static
var files embed.FS

// PageSize is the number of rows on one page of a list.
const PageSize = 25

// Config configures the console.
type Config struct {
	// Engine runs the flows (link, charge, cancel, refund, revoke). Required.
	Engine *engine.Engine
	// Reader finds objects. Nil means Engine.Store().
	Reader autodebit.Reader
	// APIKey is the operator key that logs in. Required. Sessions are
	// stored under a hash keyed with a key derived from it, so changing it
	// ends every session.
	APIKey string
	// Sessions keeps the logins, so that a logout holds on every process
	// sharing the database and after a restart. Nil means Engine.Store(),
	// which must then implement autodebit.ConsoleSessionStore.
	Sessions autodebit.ConsoleSessionStore
	// SessionTTL is how long a login lasts. Zero means 12 hours.
	SessionTTL time.Duration
	// Limiter limits failed logins per client address (SurfaceConsole);
	// share it with the API server so that both count against one budget.
	// Nil means a limiter of the console's own with adhttp.AuthLimitConfig's
	// defaults.
	Limiter *adhttp.AuthLimiter
	// NowFunc returns the current time, for sessions and login limits. Nil
	// means time.Now.
	NowFunc func() time.Time
	// Clock, in simulator mode, is the one clock with what falls due on it:
	// the Health page shows it with buttons that advance it, and pages
	// count ages and waits on it. Nil (a real Antom) shows no control.
	Clock *clock.Stepper
	// Logger receives errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the console. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	engine   *engine.Engine
	store    autodebit.Reader
	now      func() time.Time
	log      *slog.Logger
	sessions *sessions
	limiter  *adhttp.AuthLimiter
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the console's handler, meant to be mounted at "/".
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("console: Engine is required")
	}
	if len(cfg.APIKey) < 16 {
		return nil, errors.New("console: APIKey of at least 16 characters is required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	h := &Handler{cfg: cfg, engine: cfg.Engine, store: cfg.Reader, now: cfg.NowFunc, log: cfg.Logger, mux: http.NewServeMux()}
	if h.store == nil {
		h.store = cfg.Engine.Store()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	store := cfg.Sessions
	if store == nil {
		var ok bool
		if store, ok = cfg.Engine.Store().(autodebit.ConsoleSessionStore); !ok {
			return nil, fmt.Errorf("console: Sessions is required: the engine's store (%T) does not keep console sessions", cfg.Engine.Store())
		}
	}
	h.sessions = newSessions(cfg.APIKey, cfg.SessionTTL, h.now, store, h.log)
	if h.limiter = cfg.Limiter; h.limiter == nil {
		h.limiter = adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{NowFunc: h.now, Logger: h.log})
	}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	static, _ := fs.Sub(files, "static")
	h.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	h.mux.Handle("GET /favicon.ico", http.RedirectHandler("/assets/favicon.svg", http.StatusMovedPermanently))
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)

	page := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		h.mux.Handle(pattern, h.authenticated(fn))
	}
	page("POST /logout", h.logout)
	page("GET /{$}", func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/charges", http.StatusSeeOther)
		return nil
	})
	page("GET /link", h.linkPage)
	page("POST /link", h.createAuthorization)
	// An attempt's page is not below /link/: that is the buyers' (linkpage).
	page("GET /authorizations/{id}", h.authorizationPage)
	page("GET /authorizations/{id}/status", h.authorizationStatus)
	page("GET /link-sessions", h.linkSessionsPage)
	page("POST /link-sessions", h.createLinkSession)
	page("GET /link-sessions/{id}", h.linkSessionPage)
	page("POST /link-sessions/{id}/cancel", h.cancelLinkSession)
	page("GET /tokens", h.tokensPage)
	page("GET /tokens/{id}", h.tokenPage)
	page("POST /tokens/{id}/charges", h.createCharge)
	page("GET /tokens/{id}/revoke", h.revokePage)
	page("POST /tokens/{id}/revoke", h.revokeToken)
	page("GET /charges", h.chargesPage)
	page("GET /charges/{id}", h.chargePage)
	page("GET /charges/{id}/cancel", h.cancelPage)
	page("POST /charges/{id}/cancel", h.cancelCharge)
	page("POST /charges/{id}/refunds", h.createRefund)
	page("GET /health", h.healthPage)
	page("GET /webhook-endpoints", h.webhookEndpointsPage)
	page("GET /webhook-endpoints/new", h.newWebhookEndpointPage)
	page("POST /webhook-endpoints", h.createWebhookEndpoint)
	page("GET /webhook-endpoints/{id}", h.webhookEndpointPage)
	page("POST /webhook-endpoints/{id}", h.updateWebhookEndpoint)
	page("GET /webhook-endpoints/{id}/edit", h.editWebhookEndpointPage)
	page("POST /webhook-endpoints/{id}/disable", h.setWebhookEndpointEnabled(false))
	page("POST /webhook-endpoints/{id}/enable", h.setWebhookEndpointEnabled(true))
	page("GET /webhook-endpoints/{id}/rotate", h.confirmWebhookEndpointPage("webhook_rotate", "Rotate the secret of"))
	page("POST /webhook-endpoints/{id}/rotate", h.rotateWebhookEndpointSecret)
	page("GET /webhook-endpoints/{id}/delete", h.confirmWebhookEndpointPage("webhook_delete", "Delete"))
	page("POST /webhook-endpoints/{id}/delete", h.deleteWebhookEndpoint)
	page("GET /events", h.eventsPage)
	page("GET /events/{id}", h.eventPage)
	page("POST /events/{id}/redeliver", h.redeliverEvent)
	if h.cfg.Clock != nil {
		page("POST /clock/advance", h.advanceClock)
	}
	// Subscriptions (issue 13).
	page("GET /subscriptions", h.subscriptionsPage)
	page("GET /subscriptions/{id}", h.subscriptionPage)
	page("POST /subscriptions/{id}/pause", h.pauseSubscription)
	page("POST /subscriptions/{id}/resume", h.resumeSubscription)
	page("GET /subscriptions/{id}/cancel", h.cancelSubscriptionPage)
	page("POST /subscriptions/{id}/cancel", h.cancelSubscription)
	page("POST /tokens/{id}/subscriptions", h.createSubscription)
	page("/", func(w http.ResponseWriter, r *http.Request) error {
		return autodebit.Errorf(autodebit.ENOTFOUND, "There is no page at %s.", r.URL.Path)
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// authenticated requires a session, and a valid CSRF token on every POST;
// it renders a handler's error as a page.
func (h *Handler) authenticated(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok, err := h.sessions.read(r)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		if !ok {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/status") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Log in first.", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if err := r.ParseForm(); err != nil || !h.sessions.checkCSRF(sess, r.PostForm.Get("csrf")) {
				h.render(w, r, http.StatusForbidden, "error", "Request refused", errorView{
					Heading: "This form has expired",
					Message: "The request did not carry this session's form token, so nothing was changed. Go back, reload the page and try again.",
				})
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r.WithContext(withSession(r.Context(), sess))); err != nil {
			h.renderError(w, r, err)
		}
	})
}

type errorView struct {
	Heading string
	Message string
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := autodebit.ErrorCode(err)
	if code == autodebit.EINTERNAL {
		h.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	heading := "Something went wrong"
	if code == autodebit.ENOTFOUND {
		heading = "Not found"
	}
	h.render(w, r, adhttp.StatusCode(err), "error", heading, errorView{Heading: heading, Message: autodebit.ErrorMessage(err)})
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the section the page belongs to
	CSRF    string // empty when logged out
	Notice  notice
	Data    any
	NowUTC  time.Time
	Version string
}

// notice is the banner at the top of a page after an action.
type notice struct {
	Text string
	Kind string // "ok", "info" (asked, not yet answered) or "error"
}

// noticer is page data that works its notice out from the object it shows,
// so that the banner says what happened ("Refunded PHP 5.00.") rather than
// what was asked. A zero notice falls back to notices.
type noticer interface{ notice() notice }

var navOf = map[string]string{
	"link": "link", "authorization": "link", "link_sessions": "link", "link_session": "link", "tokens": "tokens", "token": "tokens", "revoke": "tokens",
	"charges": "charges", "charge": "charges", "cancel": "charges", "refund": "charges", "health": "health",
	"webhook_endpoints": "webhooks", "webhook_endpoint": "webhooks", "webhook_endpoint_form": "webhooks", "webhook_secret": "webhooks",
	"webhook_rotate": "webhooks", "webhook_delete": "webhooks", "events": "events", "event": "events",
	"subscriptions": "subscriptions", "subscription": "subscriptions", "subscription_cancel": "subscriptions",
}

// notices are the messages a redirect can ask a page to show (?notice=).
// Charges, cancels and refunds are not here: the charge page says what
// came of them (see chargeView.notice).
var notices = map[string]notice{
	"revoked":        {"The token is revoked. It can no longer be charged.", "ok"},
	"revoking":       {"Revoke requested. The token can no longer be charged; Antom's confirmation is pending.", "info"},
	"logged-out":     {"You are logged out.", "ok"},
	"session-ended":  {"Your session has ended. Log in again.", "info"},
	"clock-advanced": {"The clock moved forward, and everything that fell due on the way has run.", "ok"},

	"endpoint-saved":    {"Saved.", "ok"},
	"endpoint-disabled": {"Disabled: nothing is sent to this endpoint until you enable it, and events meanwhile are not queued for it.", "ok"},
	"endpoint-enabled":  {"Enabled: new events are sent to this endpoint again. Events from while it was disabled are not sent by themselves: redeliver them from their pages.", "ok"},
	"endpoint-deleted":  {"The webhook endpoint is deleted. Nothing more is sent to it.", "ok"},
	"endpoint-replayed": {"This form was already sent: the endpoint was added then, and its secret shown then. If you did not keep the secret, rotate it.", "info"},
	"redelivered":       {"Redelivery queued: it is sent now, with the same webhook-id. Reload this page to see the attempt.", "ok"},
	"redelivered-all":   {"Redelivery queued to every enabled endpoint subscribed to this event's type: it is sent now, with the same webhook-id. Reload this page to see the attempts.", "ok"},
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	v := view{Title: title, Nav: navOf[name], Data: data, NowUTC: h.clockNow().UTC(), Notice: notices[r.URL.Query().Get("notice")]}
	if n, ok := data.(noticer); ok && n.notice().Text != "" {
		v.Notice = n.notice()
	}
	if sess, ok := sessionFrom(r.Context()); ok {
		v.CSRF = h.sessions.csrf(sess)
	}
	t := h.pages[name]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		h.log.Error("console render", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

func (h *Handler) parseTemplates() error {
	funcs := template.FuncMap{
		"money":      money,
		"resultNote": resultNote,
		"moneyOf":    func(currency string, v int64) string { return money(autodebit.Amount{Currency: currency, Value: v}) },
		"major":      func(currency string, v int64) string { return majorUnits(currency, v) },
		"time":       timeTag,
		"walletName": walletName,
		"wallets":    antom.Wallets,
		"lower":      func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
		"since":      func(t time.Time) string { return since(h.clockNow(), t) },
		"until":      func(t time.Time) string { return since(t, h.clockNow()) },
		"lag":        lag,
		"took":       took,
		"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"pretty":     prettyJSON,
		"list":       func(s ...string) []string { return s },
		"relative":   func(t time.Time) string { return relative(h.now(), t) },
		"objectPath": objectPath,
		"eventsPath": eventsPath,
		"deliveries": func(ds []*autodebit.Delivery, eps map[string]*autodebit.WebhookEndpoint, empty string) any {
			return struct {
				Deliveries []*autodebit.Delivery
				Endpoints  map[string]*autodebit.WebhookEndpoint // nil: the table is one endpoint's
				Empty      string
			}{ds, eps, empty}
		},
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("console: parse layout: %w", err)
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	h.pages = map[string]*template.Template{}
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(files, path)
		if err != nil {
			return fmt.Errorf("console: parse %s: %w", path, err)
		}
		h.pages[name] = t
	}
	return nil
}

// redirect answers a form POST with 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// filterStatus is the status of a list page: 400 when a filter was refused
// (message says why; the list ignores that filter), 200 otherwise.
func filterStatus(message string) int {
	if message != "" {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// formError reports whether err is one a form shows next to the input
// (bad input or a refusal) rather than as an error page.
func formError(err error) bool {
	switch autodebit.ErrorCode(err) {
	case autodebit.EINVALID, autodebit.ECONFLICT, autodebit.EDECLINED, autodebit.EUNAVAILABLE:
		return true
	}
	return false
}
