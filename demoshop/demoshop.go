// Package demoshop is a tiny merchant's shop for demos with the in-process
// simulator (serve mounts it at /demo/): it makes a link session for a
// buyer, sends the browser to the buyer's page, receives it back on its
// returnUrl with the linked token, and charges that token through the
// engine with a button. It is a merchant's site in miniature, talking to
// the engine in-process where a real shop would call the REST API.
//
// It charges only tokens that one of its own sessions linked (the session
// and the token in the returnUrl must match, and its customers are
// "demo-…"), so it cannot be used to charge other tokens.
package demoshop

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
)

//go:embed shop.html shop.css
var files embed.FS

// CustomerPrefix starts the customer ID of every buyer of the demo shop.
const CustomerPrefix = "demo-"

// Prefix is the path the shop is served under.
const Prefix = "/demo/"

// Config configures the shop.
type Config struct {
	// Engine makes sessions and charges. Required.
	Engine *engine.Engine
	// BaseURL is where the shop is reached (the engine's public URL): its
	// returnUrl and cancelUrl are below it. Required.
	BaseURL string
	// Logger receives errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the shop. It is safe for concurrent use.
type Handler struct {
	engine *engine.Engine
	store  autodebit.Reader
	base   string
	log    *slog.Logger
	page   *template.Template
	mux    *http.ServeMux
}

// New returns the shop.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil || cfg.BaseURL == "" {
		return nil, errors.New("demoshop: Engine and BaseURL are required")
	}
	h := &Handler{engine: cfg.Engine, store: cfg.Engine.Store(), base: strings.TrimRight(cfg.BaseURL, "/"), log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	var err error
	if h.page, err = template.ParseFS(files, "shop.html"); err != nil {
		return nil, err
	}
	h.mux.HandleFunc("GET "+Prefix+"{$}", h.home)
	h.mux.HandleFunc("POST "+Prefix+"link", h.link)
	h.mux.HandleFunc("GET "+Prefix+"return", h.returned)
	h.mux.HandleFunc("POST "+Prefix+"charge", h.charge)
	h.mux.Handle("GET "+Prefix+"shop.css", http.StripPrefix(Prefix, http.FileServerFS(files)))
	h.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		h.render(w, http.StatusNotFound, view{Error: "There is no such page in the demo shop."})
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodPost && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		http.Error(w, "This form can only be sent from the shop's own pages.", http.StatusForbidden)
		return
	}
	h.mux.ServeHTTP(w, r)
}

type view struct {
	Page      string // home, linked, charged
	Customer  string
	Wallets   []antom.Wallet
	Cancelled bool
	Session   *autodebit.LinkSession
	Token     *autodebit.Token
	Wallet    antom.Wallet
	Amount    string
	Key       string
	Charge    *autodebit.Charge
	Error     string
}

func (h *Handler) render(w http.ResponseWriter, status int, v view) {
	var b bytes.Buffer
	if err := h.page.Execute(&b, v); err != nil {
		h.log.Error("demo shop render", "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func randomText() string {
	b := make([]byte, 6)
	rand.Read(b)
	return strings.ToLower(base64.RawURLEncoding.EncodeToString(b))
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, view{Page: "home", Customer: CustomerPrefix + "buyer-" + randomText(), Wallets: antom.Wallets(),
		Cancelled: r.URL.Query().Get("status") == string(autodebit.LinkSessionCancelled)})
}

// link is the shop's "Link a wallet": a session, then the buyer's page.
func (h *Handler) link(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	customer := strings.TrimSpace(r.PostForm.Get("customer"))
	if !strings.HasPrefix(customer, CustomerPrefix) {
		customer = CustomerPrefix + customer
	}
	s, err := h.engine.CreateLinkSession(r.Context(), engine.LinkSessionInput{
		CustomerID: customer, Wallet: r.PostForm.Get("wallet"),
		ReturnURL: h.base + Prefix + "return", CancelURL: h.base + Prefix,
	})
	if err != nil {
		h.fail(w, err, view{Page: "home", Customer: customer, Wallets: antom.Wallets()})
		return
	}
	http.Redirect(w, r, h.engine.LinkSessionURL(s), http.StatusSeeOther)
}

// linked finds the session and token the returnUrl names, and checks that
// they belong together and to the shop.
func (h *Handler) linked(r *http.Request, sessionID, tokenID string) (*autodebit.LinkSession, *autodebit.Token, error) {
	s, err := h.store.FindLinkSessionByID(r.Context(), sessionID)
	if err != nil || s.Status != autodebit.LinkSessionComplete || s.TokenID != tokenID || !strings.HasPrefix(s.CustomerID, CustomerPrefix) {
		return nil, nil, autodebit.Errorf(autodebit.ENOTFOUND, "This is not a wallet the demo shop linked.")
	}
	t, err := h.store.FindTokenByID(r.Context(), tokenID)
	if err != nil {
		return nil, nil, err
	}
	return s, t, nil
}

// demoAmount is what the shop charges: one unit of the wallet's currency,
// or the wallet's minimum when that is more.
func demoAmount(w antom.Wallet) autodebit.Amount {
	v := int64(100)
	if exp, _ := antom.CurrencyExponent(w.Currency); exp == 0 {
		v = 1000
	}
	return autodebit.Amount{Currency: w.Currency, Value: max(v, w.MinValue)}
}

func formatAmount(a autodebit.Amount) string {
	return antom.FormatAmount(antom.Amount{Currency: a.Currency, Value: a.Value})
}

func (h *Handler) returned(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s, t, err := h.linked(r, q.Get("link_session"), q.Get("token"))
	if err != nil {
		h.fail(w, err, view{})
		return
	}
	wallet, _ := antom.LookupWallet(t.Wallet)
	h.render(w, http.StatusOK, view{Page: "linked", Session: s, Token: t, Wallet: wallet, Amount: formatAmount(demoAmount(wallet)), Key: randomText()})
}

// charge charges the linked token through the engine, once per form.
func (h *Handler) charge(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	s, t, err := h.linked(r, f.Get("link_session"), f.Get("token"))
	if err != nil {
		h.fail(w, err, view{})
		return
	}
	wallet, _ := antom.LookupWallet(t.Wallet)
	v := view{Page: "charged", Session: s, Token: t, Wallet: wallet, Amount: formatAmount(demoAmount(wallet)), Key: randomText()}
	c, err := h.engine.CreateCharge(r.Context(), engine.ChargeInput{
		TokenID: t.ID, Amount: demoAmount(wallet), Description: "Demo shop order", IdempotencyKey: "demo_" + f.Get("key"),
	})
	if err != nil {
		h.fail(w, err, v)
		return
	}
	v.Charge = c
	h.render(w, http.StatusOK, v)
}

func (h *Handler) fail(w http.ResponseWriter, err error, v view) {
	code := autodebit.ErrorCode(err)
	if code == autodebit.EINTERNAL {
		h.log.Error("demo shop", "err", err)
	}
	v.Error = autodebit.ErrorMessage(err)
	status := http.StatusBadRequest
	switch code {
	case autodebit.ENOTFOUND:
		status = http.StatusNotFound
	case autodebit.EINTERNAL:
		status = http.StatusInternalServerError
	}
	h.render(w, status, v)
}
