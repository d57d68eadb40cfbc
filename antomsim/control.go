package antomsim

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// The control API, under /sim/v1/: JSON in and out, no signature; with
// Config.ControlSecret set, every route needs "Authorization: Bearer KEY"
// (401 otherwise). Errors are {"error": "..."} with 400 for bad input
// (nothing changes), 401 for a missing or wrong key, 404 for an unknown
// thing, 409 for a conflict and 410 for an expired QR code. Amounts are strings of minor units, durations
// Go duration strings ("90s", "24h").
//
//	GET    /sim/v1/accounts                          every account
//	POST   /sim/v1/accounts                          create: {"wallet","userLoginId","balance"?,"payMode"?,"processingDelay"?,"failCode"?}; balance defaults to Config.DefaultBalance
//	GET    /sim/v1/accounts/{wallet}/{userLoginId}   one account
//	PATCH  /sim/v1/accounts/{wallet}/{userLoginId}   change: {"balance"?,"payMode"?,"processingDelay"?,"failCode"?}
//	GET    /sim/v1/settings                          {"payMode"}: the pay mode of accounts that set none
//	PUT    /sim/v1/settings                          replace the settings
//	GET    /sim/v1/faults                            the fault configuration (see Faults)
//	PUT    /sim/v1/faults                            replace it: {"api":{"pay":[{"kind","probability",…}]},"notify":{"payment":[…]},"seed"?}
//	DELETE /sim/v1/faults                            remove every fault
//	GET    /sim/v1/faults/stats                      faults injected so far: {"api.unknown": 3, "notify.drop": 12, …}
//	GET    /sim/v1/authorizations                    every consult and what the buyer did
//	POST   /sim/v1/authorizations/{qrCode}           act as the buyer: {"action":"approve"|"deny","userLoginId"?} (same as POSTing to the QR URL)
//	GET    /sim/v1/tokens                            every token
//	POST   /sim/v1/tokens/{accessToken}/cancel       wallet-side cancel: {"reason"?}; sends TOKEN_CANCELED
//	GET    /sim/v1/payments                          the truth about every payment (status, debits, refunds)
//	GET    /sim/v1/payments/{paymentRequestId}       one payment
//	GET    /sim/v1/refunds                           every refund
//	GET    /sim/v1/truth                             {"payments","refunds","tokens","authorizations","violations"}
//	GET    /sim/v1/notifications                     the delivery log; filters ?kind= &type= &status= &subject=
//	GET    /sim/v1/clock                             {"now","scale","seed"}
//	POST   /sim/v1/clock/advance                     {"by":"24h"}: move the clock, run everything due, wait for deliveries
//	POST   /sim/v1/settle                            wait until due work and deliveries in flight are done
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	// Answers carry access tokens and the buyers' accounts: never cached.
	w.Header().Set("Cache-Control", "no-store")
	if ok, why := s.controlAccess(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="antomsim control API"`)
		writeJSONError(w, http.StatusUnauthorized, why)
		return
	}
	s.controlMux().ServeHTTP(w, r)
}

func (s *Sim) controlMux() *http.ServeMux {
	s.controlOnce.Do(func() {
		m := http.NewServeMux()
		m.HandleFunc("GET /sim/v1/accounts", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Accounts())
		})
		m.HandleFunc("POST /sim/v1/accounts", s.ctlCreateAccount)
		m.HandleFunc("GET /sim/v1/accounts/{wallet}/{login}", func(w http.ResponseWriter, r *http.Request) {
			v, err := s.Account(r.PathValue("wallet"), r.PathValue("login"))
			reply(w, http.StatusOK, v, err)
		})
		m.HandleFunc("PATCH /sim/v1/accounts/{wallet}/{login}", func(w http.ResponseWriter, r *http.Request) {
			var u AccountUpdate
			if err := decodeControl(r, &u); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
			v, err := s.UpdateAccount(r.PathValue("wallet"), r.PathValue("login"), u)
			reply(w, http.StatusOK, v, err)
		})
		m.HandleFunc("GET /sim/v1/settings", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Settings())
		})
		m.HandleFunc("PUT /sim/v1/settings", func(w http.ResponseWriter, r *http.Request) {
			var v Settings
			if err := decodeControl(r, &v); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
			if err := s.SetSettings(v); err != nil {
				writeJSONError(w, httpStatus(err), trimErr(err))
				return
			}
			writeJSON(w, http.StatusOK, s.Settings())
		})
		m.HandleFunc("GET /sim/v1/faults", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Faults())
		})
		m.HandleFunc("PUT /sim/v1/faults", func(w http.ResponseWriter, r *http.Request) {
			var f Faults
			if err := decodeControl(r, &f); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
			if err := s.SetFaults(f); err != nil {
				writeJSONError(w, httpStatus(err), trimErr(err))
				return
			}
			writeJSON(w, http.StatusOK, s.Faults())
		})
		m.HandleFunc("GET /sim/v1/faults/stats", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.FaultStats())
		})
		m.HandleFunc("DELETE /sim/v1/faults", func(w http.ResponseWriter, r *http.Request) {
			s.SetFaults(Faults{})
			writeJSON(w, http.StatusOK, s.Faults())
		})
		m.HandleFunc("GET /sim/v1/authorizations", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Authorizations())
		})
		m.HandleFunc("POST /sim/v1/authorizations/{code}", func(w http.ResponseWriter, r *http.Request) {
			s.walletJSON(w, r, r.PathValue("code"))
		})
		m.HandleFunc("GET /sim/v1/tokens", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Tokens())
		})
		m.HandleFunc("POST /sim/v1/tokens/{token}/cancel", func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				Reason string `json:"reason"`
			}
			if r.ContentLength != 0 {
				if err := decodeControl(r, &in); err != nil {
					writeJSONError(w, http.StatusBadRequest, err.Error())
					return
				}
			}
			v, err := s.CancelToken(r.PathValue("token"), in.Reason)
			reply(w, http.StatusOK, v, err)
		})
		m.HandleFunc("GET /sim/v1/payments", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Payments())
		})
		m.HandleFunc("GET /sim/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request) {
			v, err := s.Payment(r.PathValue("id"))
			reply(w, http.StatusOK, v, err)
		})
		m.HandleFunc("GET /sim/v1/refunds", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Refunds())
		})
		m.HandleFunc("GET /sim/v1/truth", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.Truth())
		})
		m.HandleFunc("GET /sim/v1/notifications", func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			out := s.Notifications(NotificationFilter{Kind: q.Get("kind"), Type: q.Get("type"), Status: q.Get("status"), Subject: q.Get("subject")})
			if out == nil {
				out = []Notification{}
			}
			writeJSON(w, http.StatusOK, out)
		})
		m.HandleFunc("GET /sim/v1/clock", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.clockView())
		})
		m.HandleFunc("POST /sim/v1/clock/advance", func(w http.ResponseWriter, r *http.Request) {
			var v struct {
				By Duration `json:"by"`
			}
			if err := decodeControl(r, &v); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
			if time.Duration(v.By) > 10*366*24*time.Hour {
				writeJSONError(w, http.StatusBadRequest, "by must be at most ten years")
				return
			}
			if _, err := s.Advance(time.Duration(v.By)); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeJSON(w, http.StatusOK, s.clockView())
		})
		m.HandleFunc("POST /sim/v1/settle", func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
			defer cancel()
			if err := s.Settle(ctx); err != nil {
				writeJSONError(w, http.StatusServiceUnavailable, "settle: "+err.Error())
				return
			}
			writeJSON(w, http.StatusOK, s.clockView())
		})
		m.HandleFunc("/sim/v1/", func(w http.ResponseWriter, r *http.Request) {
			writeJSONError(w, http.StatusNotFound, fmt.Sprintf("no control route %s %s; see the README's Simulator section", r.Method, r.URL.Path))
		})
		s.ctl = m
	})
	return s.ctl
}

func (s *Sim) ctlCreateAccount(w http.ResponseWriter, r *http.Request) {
	var v struct {
		Account
		Balance *string `json:"balance"`
	}
	if err := decodeControl(r, &v); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	a := v.Account
	if v.Balance == nil {
		if cur, ok := walletCurrency(a.Wallet); ok {
			a.Balance = majorToMinor(s.cfg.DefaultBalance, cur)
		}
	} else {
		var n int64
		if _, err := fmt.Sscan(*v.Balance, &n); err != nil || fmt.Sprint(n) != *v.Balance {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("balance %q must be a string of minor units, e.g. \"100000\"", *v.Balance))
			return
		}
		a.Balance = n
	}
	created, err := s.CreateAccount(a)
	reply(w, http.StatusCreated, created, err)
}

// reply writes v, or the error's status and message.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeJSONError(w, httpStatus(err), trimErr(err))
		return
	}
	writeJSON(w, status, v)
}

func trimErr(err error) string {
	msg := err.Error()
	for _, p := range []string{"antomsim: not found: ", "antomsim: conflict: ", "antomsim: expired: ", "antomsim: invalid input: "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			return msg[len(p):]
		}
	}
	return msg
}

type clockView struct {
	Now   time.Time `json:"now"`
	Scale float64   `json:"scale"`
	Seed  int64     `json:"seed"`
}

func (s *Sim) clockView() clockView {
	return clockView{Now: s.now(), Scale: s.clock.Scale(), Seed: s.seed}
}

// Truth is everything the simulator knows, for checking a merchant's
// records: Violations lists broken invariants (money moved more than once,
// more refunded than paid, a negative balance) and is empty when all is well.
type Truth struct {
	Payments       []Payment       `json:"payments"`
	Refunds        []Refund        `json:"refunds"`
	Tokens         []Token         `json:"tokens"`
	Authorizations []Authorization `json:"authorizations"`
	Violations     []string        `json:"violations"`
}

// Truth returns every payment, refund, token and authorization, and the
// invariants they break.
func (s *Sim) Truth() Truth {
	t := Truth{Payments: s.Payments(), Refunds: s.Refunds(), Tokens: s.Tokens(), Authorizations: s.Authorizations(), Violations: []string{}}
	for _, p := range t.Payments {
		if p.Debits > 1 {
			t.Violations = append(t.Violations, fmt.Sprintf("payment %s was debited %d times", p.PaymentRequestID, p.Debits))
		}
		if p.Refunded.Value > p.Amount.Value {
			t.Violations = append(t.Violations, fmt.Sprintf("payment %s refunded %d of %d", p.PaymentRequestID, p.Refunded.Value, p.Amount.Value))
		}
	}
	for _, a := range s.Accounts() {
		if a.Balance < 0 {
			t.Violations = append(t.Violations, fmt.Sprintf("account %s/%s has a negative balance", a.Wallet, a.UserLoginID))
		}
	}
	return t
}

func walletCurrency(code string) (string, bool) {
	w, ok := antom.LookupWallet(code)
	return w.Currency, ok
}

// serveHome is a small index page: the merchant settings, and with the
// control key the waiting QR codes and links to the control API. Opened as
// /?key=KEY it checks the key, sets the read-only cookie and redirects to /
// (so the key leaves the address bar and the history).
func (s *Sim) serveHome(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	v := homeView{ClientID: s.cfg.ClientID, PublicKey: s.pubBase64, Now: s.now()}
	if key := r.URL.Query().Get("key"); key != "" && s.cfg.ControlSecret != "" {
		if !s.secretMatches(key) {
			v.Message = "The key in the address is not this simulator's control key."
			w.WriteHeader(http.StatusUnauthorized)
			homeTmpl.Execute(w, v)
			return
		}
		s.setControlCookie(w, r)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if ok, _ := s.controlAccess(r); !ok {
		v.Message = "Waiting QR codes and the control API are shown only with the simulator's control key: open /?key=KEY (autodebit sim prints the key, and so does serve for its in-process simulator)."
		homeTmpl.Execute(w, v)
		return
	}
	v.Control = true
	for _, a := range s.Authorizations() {
		if a.Status == AuthPending {
			v.Pending = append(v.Pending, a)
		}
	}
	homeTmpl.Execute(w, v)
}

type homeView struct {
	ClientID, PublicKey string
	Now                 time.Time
	Message             string
	Control             bool // the key was shown: list QR codes and control links
	Pending             []Authorization
}

var homeTmpl = template.Must(template.New("home").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>Antom simulator</title>
<style>body{font:15px system-ui,sans-serif;max-width:820px;margin:30px auto;padding:0 16px}code{word-break:break-all}.msg{padding:12px 14px;border-radius:8px;background:#fff4e5;color:#7a4b00}</style></head><body>
<h1>Antom simulator</h1><p>Clock: {{.Now.Format "2006-01-02 15:04:05 MST"}} · Client ID <code>{{.ClientID}}</code></p>
<p>Antom public key: <code>{{.PublicKey}}</code></p>
{{if .Message}}<p class="msg" role="alert">{{.Message}}</p>{{end}}
{{if .Control}}<h2>QR codes waiting for a buyer</h2>{{if .Pending}}<ul>{{range .Pending}}<li><a href="{{.QRURL}}">{{.Wallet}} · {{.AuthState}}</a> <img src="{{.QRURL}}.png" width="96" alt="QR"></li>{{end}}</ul>{{else}}<p>None. Call consult.</p>{{end}}
<h2>Control API</h2><ul><li><a href="/sim/v1/accounts">accounts</a></li><li><a href="/sim/v1/notifications">delivery log</a></li><li><a href="/sim/v1/truth">truth</a></li><li><a href="/sim/v1/clock">clock</a></li><li><a href="/sim/v1/faults">faults</a></li></ul>{{end}}
</body></html>`))
