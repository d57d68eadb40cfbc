package antomsim

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/autodebit/autodebit/antom"
	qrcode "github.com/skip2/go-qrcode"
)

// WalletAction is the JSON body a script POSTs to a QR URL.
type WalletAction struct {
	// Action is "approve" or "deny".
	Action string `json:"action"`
	// UserLoginID picks the account (created if missing); empty means the
	// wallet's first account.
	UserLoginID string `json:"userLoginId,omitempty"`
}

// serveWallet serves the wallet page at the QR URL, the QR image at the
// QR URL plus ".png", and the buyer's approve/deny POSTs.
func (s *Sim) serveWallet(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if c, ok := strings.CutSuffix(code, ".png"); ok {
		s.serveQRImage(w, r, c)
		return
	}
	s.mu.Lock()
	a := s.st.auths[code]
	var auth Authorization
	if a != nil {
		auth = a.Authorization
	}
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if a == nil {
			s.walletPage(w, http.StatusNotFound, walletView{Message: "This QR code is not known to the simulator."})
			return
		}
		s.walletPage(w, http.StatusOK, s.walletViewOf(auth, ""))
	case http.MethodPost:
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/json" {
			s.walletJSON(w, r, code)
			return
		}
		if err := r.ParseForm(); err != nil {
			s.walletPage(w, http.StatusBadRequest, walletView{Message: "The form could not be read."})
			return
		}
		login := strings.TrimSpace(r.PostForm.Get("newLoginId"))
		if login == "" {
			login = r.PostForm.Get("userLoginId")
		}
		var err error
		switch r.PostForm.Get("action") {
		case "approve":
			auth, err = s.Approve(code, login)
		case "deny":
			auth, err = s.Deny(code)
		default:
			err = errorf(ErrInvalid, "action must be approve or deny")
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "antomsim: ")
			v := s.walletViewOf(auth, msg)
			if auth.QRCode == "" {
				v = walletView{Message: msg}
			}
			s.walletPage(w, httpStatus(err), v)
			return
		}
		s.walletPage(w, http.StatusOK, s.walletViewOf(auth, ""))
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use GET or POST")
	}
}

func (s *Sim) walletJSON(w http.ResponseWriter, r *http.Request, code string) {
	var act WalletAction
	if err := decodeControl(r, &act); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	var auth Authorization
	var err error
	switch act.Action {
	case "approve":
		auth, err = s.Approve(code, act.UserLoginID)
	case "deny":
		auth, err = s.Deny(code)
	default:
		err = errorf(ErrInvalid, "action %q must be \"approve\" or \"deny\"", act.Action)
	}
	if err != nil {
		writeJSONError(w, httpStatus(err), strings.TrimPrefix(err.Error(), "antomsim: "))
		return
	}
	writeJSON(w, http.StatusOK, auth)
}

func (s *Sim) serveQRImage(w http.ResponseWriter, r *http.Request, code string) {
	s.mu.Lock()
	a := s.st.auths[code]
	var text string
	if a != nil {
		text = a.QRURL
	}
	s.mu.Unlock()
	if a == nil {
		writeJSONError(w, http.StatusNotFound, "QR code "+code+" does not exist")
		return
	}
	png, err := qrcode.Encode(text, qrcode.Medium, 320)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "could not draw the QR code")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

type walletView struct {
	Auth     Authorization
	Wallet   antom.Wallet
	Accounts []Account
	Message  string
	Pending  bool
	// Merchant names who asks for the link: the simulator knows a merchant
	// by its Client-Id (a real wallet shows the name registered with Antom).
	Merchant string
	// MerchantHost is where the merchant takes the result (the host of the
	// consult's authNotifyUrl), so a buyer on the page sees which one it is.
	MerchantHost string
}

func (s *Sim) walletViewOf(a Authorization, msg string) walletView {
	v := walletView{Auth: a, Message: msg, Pending: a.Status == AuthPending, Merchant: s.cfg.ClientID}
	if u, err := url.Parse(a.NotifyURL); err == nil {
		v.MerchantHost = u.Host
	}
	v.Wallet, _ = antom.LookupWallet(a.Wallet)
	for _, acct := range s.Accounts() {
		if acct.Wallet == a.Wallet {
			v.Accounts = append(v.Accounts, acct)
		}
	}
	return v
}

func (s *Sim) walletPage(w http.ResponseWriter, status int, v walletView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := walletTmpl.Execute(w, v); err != nil {
		s.log.Error("antomsim: wallet page", "err", err)
	}
}

var walletTmpl = template.Must(template.New("wallet").Funcs(template.FuncMap{
	"money": func(a Account) string {
		return antom.FormatAmount(antom.Amount{Currency: a.Currency, Value: a.Balance})
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Wallet.Name}}{{.Wallet.Name}}{{else}}Wallet{{end}} · Antom simulator</title>
<style>
*{box-sizing:border-box}
body{margin:0;min-height:100vh;background:radial-gradient(circle at 30% 20%,#f4f6fa,#d9dee7);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2330;display:flex;flex-direction:column;align-items:center}
.phone{--brand:#1677ff;--on-brand:#fff;--soft:#e8f1ff;width:375px;max-width:100%;min-height:720px;margin:24px 12px 8px;background:#f6f7f9;border-radius:44px;border:12px solid #16181d;box-shadow:0 20px 50px #0004,inset 0 0 0 1px #000;overflow:hidden;display:flex;flex-direction:column;position:relative}
@media (max-width:420px){.phone{border:0;border-radius:0;margin:0;min-height:100vh;box-shadow:none}}
.w-ALIPAY_CN,.w-ALIPAY_HK{--brand:#1677ff;--soft:#e6f0ff}
.w-DANA{--brand:#118eea;--soft:#e3f3fd}
.w-GCASH{--brand:#0063f7;--soft:#e5efff}
.w-KAKAOPAY{--brand:#ffe300;--on-brand:#191919;--soft:#fff9cc}
.w-TNG{--brand:#0a3a8c;--soft:#e4ebf7}
.w-TRUEMONEY{--brand:#ff6b00;--soft:#fff0e5}
.statusbar{display:flex;justify-content:space-between;align-items:center;padding:10px 26px 6px;background:var(--brand);color:var(--on-brand);font-size:13px;font-weight:600}
.notch{width:110px;height:24px;background:#16181d;border-radius:0 0 16px 16px;position:absolute;left:50%;top:0;transform:translateX(-50%)}
.appbar{background:var(--brand);color:var(--on-brand);padding:14px 20px 22px;display:flex;align-items:center;gap:12px}
.logo{width:42px;height:42px;border-radius:12px;background:var(--on-brand);color:var(--brand);display:flex;align-items:center;justify-content:center;font-weight:800;font-size:20px;flex:none}
.appbar h1{margin:0;font-size:19px}.appbar p{margin:0;font-size:12px;opacity:.8}
main{flex:1;padding:16px;display:flex;flex-direction:column;gap:12px;margin-top:-10px}
.sheet{background:#fff;border-radius:18px;padding:16px;box-shadow:0 1px 3px #0001}
.merchant{display:flex;align-items:center;gap:12px}.merchant .m{width:40px;height:40px;border-radius:50%;background:var(--soft);color:var(--brand);display:flex;align-items:center;justify-content:center;font-weight:700}
.w-KAKAOPAY .merchant .m{color:#191919}
.sheet h2{font-size:16px;margin:0}.mname{overflow-wrap:anywhere}.sub{color:#667085;font-size:13px;margin:2px 0 0}
.perm{list-style:none;padding:0;margin:12px 0 0}.perm li{padding:8px 0 8px 28px;position:relative;border-top:1px solid #f0f1f3;font-size:14px}
.perm li::before{content:"\2713";position:absolute;left:4px;top:8px;color:var(--brand);font-weight:700}
.w-KAKAOPAY .perm li::before{color:#191919}
.nocharge{background:var(--soft);border-radius:10px;padding:8px 10px;font-size:13px;margin-top:10px}
fieldset{border:0;margin:0;padding:0}legend{font-weight:700;font-size:14px;margin-bottom:8px}
label.acct{display:flex;gap:10px;align-items:center;padding:10px 12px;border:1.5px solid #e4e7ec;border-radius:12px;margin-bottom:8px;cursor:pointer}
label.acct:has(input:checked){border-color:var(--brand);background:var(--soft)}
.w-KAKAOPAY label.acct:has(input:checked){border-color:#c9b400}
label.acct input{accent-color:var(--brand)}.acct .who{font-weight:600}.small{color:#667085;font-size:12px;word-break:break-all}
.newacct{font-size:13px;color:#475467;display:block;margin:4px 0}
input[type=text]{width:100%;padding:10px 12px;border:1.5px solid #d0d5dd;border-radius:12px;font-size:15px}
.buttons{display:flex;gap:10px;margin-top:14px}
button{flex:1;padding:14px;border:0;border-radius:14px;font-size:16px;font-weight:700;cursor:pointer}
.approve{background:var(--brand);color:var(--on-brand)}.deny{background:#e9ebef;color:#344054}
button:focus-visible,input:focus-visible{outline:3px solid #0006;outline-offset:2px}
.msg{padding:12px 14px;border-radius:12px;background:#fff4e5;color:#7a4b00;font-size:14px}
.result{text-align:center;padding:28px 16px}
.icon{width:76px;height:76px;border-radius:50%;margin:0 auto 14px;display:flex;align-items:center;justify-content:center;font-size:40px;font-weight:800;color:#fff}
.icon.ok{background:#12b76a}.icon.no{background:#98a2b3}.icon.late{background:#f79009}
.result h2{font-size:22px;margin:0 0 6px}
.foot{text-align:center;color:#98a2b3;font-size:11px;padding:8px 0 14px}
.home{width:120px;height:5px;border-radius:3px;background:#16181d;margin:0 auto 8px}
.outside{color:#667085;font-size:12px;margin:6px 0 20px}
</style></head><body>
<div class="phone w-{{.Wallet.Code}}">
<div class="notch" aria-hidden="true"></div>
<div class="statusbar" aria-hidden="true"><span>9:41</span><span>&#9679;&#9679;&#9679;&#9679; 5G &#9646;</span></div>
<header class="appbar">
  <div class="logo" aria-hidden="true">{{if .Wallet.Name}}{{slice .Wallet.Name 0 1}}{{else}}W{{end}}</div>
  <div><h1>{{if .Wallet.Name}}{{.Wallet.Name}}{{else}}Wallet{{end}}</h1><p>Auto debit authorization</p></div>
</header>
<main>
{{if .Message}}<div class="msg" role="alert">{{.Message}}</div>{{end}}
{{if .Auth.QRCode}}
{{if .Pending}}
<section class="sheet" aria-labelledby="req">
  <div class="merchant"><div class="m" aria-hidden="true">{{if .Merchant}}{{slice .Merchant 0 1}}{{else}}M{{end}}</div>
    <div><h2 id="req">Link your {{.Wallet.Name}} account?</h2><p class="sub" id="merchant">Merchant <b class="mname">{{.Merchant}}</b>{{with .MerchantHost}} at {{.}}{{end}} asks for auto debit in {{.Wallet.Currency}}</p></div></div>
  <ul class="perm">
    <li>The merchant may take payments from your {{.Wallet.Name}} balance automatically, without asking each time</li>
    <li>The merchant sees your masked login ID</li>
  </ul>
  <p class="nocharge">Nothing is charged now. You can unlink the merchant at any time in {{.Wallet.Name}}.</p>
</section>
<form method="post" class="sheet">
<fieldset>
<legend>Account to link</legend>
{{range $i, $a := .Accounts}}<label class="acct"><input type="radio" name="userLoginId" value="{{$a.UserLoginID}}" {{if eq $i 0}}checked{{end}}>
<span><span class="who">{{$a.UserLoginID}}</span><br><span class="small">Balance {{money $a}}</span></span></label>{{end}}
<label class="newacct" for="newLoginId">{{if .Accounts}}Or log in with another account:{{else}}Log in with your account:{{end}}</label>
<input type="text" id="newLoginId" name="newLoginId" placeholder="Phone number or e-mail" maxlength="64" autocomplete="off">
</fieldset>
<div class="buttons"><button class="deny" name="action" value="deny">Deny</button><button class="approve" name="action" value="approve">Agree and link</button></div>
</form>
<p class="foot">Code expires {{.Auth.ExpiryTime.UTC.Format "15:04:05 UTC"}} · authState {{.Auth.AuthState}}</p>
{{else}}
<section class="sheet result" aria-live="polite">
{{if eq .Auth.Status "APPROVED"}}<div class="icon ok" aria-hidden="true">&#10003;</div><h2>Linked</h2>
<p>Account <b>{{.Auth.UserLoginID}}</b> is linked to <b>{{.Merchant}}</b>, which can now charge it automatically.</p>
<p class="small">The merchant was notified (AUTHCODE_CREATED) · authCode {{.Auth.AuthCode}}</p>
{{else if eq .Auth.Status "DENIED"}}<div class="icon no" aria-hidden="true">&#10005;</div><h2>Denied</h2><p>Nothing was linked to <b>{{.Merchant}}</b>.</p>
{{else}}<div class="icon late" aria-hidden="true">&#8987;</div><h2>Expired</h2><p>This code timed out. Ask the merchant for a new one.</p>{{end}}
<p class="small">This QR code can no longer be used.</p>
</section>
{{end}}
{{end}}
</main>
<div class="foot">Antom simulator · not a real wallet</div>
<div class="home" aria-hidden="true"></div>
</div>
<p class="outside">Simulated {{if .Wallet.Name}}{{.Wallet.Name}}{{else}}wallet{{end}} app for demos and tests.</p>
</body></html>
`))

// httpStatus maps the errors of the Go control methods to HTTP statuses.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrExpired):
		return http.StatusGone
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// decodeControl decodes a JSON control body strictly: one object, no
// unknown fields.
func decodeControl(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		return errors.New("could not read the body")
	}
	if len(body) > MaxRequestBytes {
		return errors.New("body is too large")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return errors.New("body is empty; want a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("invalid JSON body: " + err.Error())
	}
	if dec.More() {
		return errors.New("body has data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ControlError is the body of every control API error.
type ControlError struct {
	Error string `json:"error"`
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ControlError{Error: msg})
}
