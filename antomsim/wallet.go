package antomsim

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
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
}

func (s *Sim) walletViewOf(a Authorization, msg string) walletView {
	v := walletView{Auth: a, Message: msg, Pending: a.Status == AuthPending}
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
body{margin:0;background:#e9edf2;font:16px system-ui,sans-serif;display:flex;justify-content:center}
.phone{width:360px;min-height:640px;margin:24px;background:#fff;border-radius:32px;box-shadow:0 8px 30px #0003;overflow:hidden;border:10px solid #222}
header{background:#1677ff;color:#fff;padding:28px 20px 18px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.85;font-size:13px}
main{padding:20px}label.acct{display:flex;gap:10px;align-items:center;padding:12px;border:1px solid #ddd;border-radius:12px;margin-bottom:8px}
input[type=text]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #ccc;border-radius:10px;font-size:15px}
.buttons{display:flex;gap:10px;margin-top:18px}button{flex:1;padding:14px;border:0;border-radius:12px;font-size:16px;cursor:pointer}
.approve{background:#1677ff;color:#fff}.deny{background:#eee}.msg{padding:14px;border-radius:12px;background:#fff4e5;margin-bottom:14px}
.status{font-size:22px;text-align:center;margin:40px 0 10px}.small{color:#666;font-size:13px;word-break:break-all}
</style></head><body><div class="phone">
<header><h1>{{if .Wallet.Name}}{{.Wallet.Name}}{{else}}Wallet{{end}}</h1><p>Antom simulator · auto debit authorization</p></header>
<main>
{{if .Message}}<div class="msg">{{.Message}}</div>{{end}}
{{if .Auth.QRCode}}
{{if .Pending}}
<p>A merchant asks to <b>debit your {{.Wallet.Name}} account automatically</b> ({{.Wallet.Currency}}).</p>
<form method="post">
{{range $i, $a := .Accounts}}<label class="acct"><input type="radio" name="userLoginId" value="{{$a.UserLoginID}}" {{if eq $i 0}}checked{{end}}>
<span>{{$a.UserLoginID}}<br><span class="small">balance {{money $a}}</span></span></label>{{end}}
<p class="small">Or use a new account:</p>
<input type="text" name="newLoginId" placeholder="login ID, e.g. a phone number" maxlength="64">
<div class="buttons"><button class="deny" name="action" value="deny">Deny</button><button class="approve" name="action" value="approve">Agree</button></div>
</form>
<p class="small">authState {{.Auth.AuthState}} · expires {{.Auth.ExpiryTime.Format "15:04:05 MST"}}</p>
{{else}}
<div class="status">{{if eq .Auth.Status "APPROVED"}}✅ Linked{{else if eq .Auth.Status "DENIED"}}✋ Denied{{else}}⌛ Expired{{end}}</div>
{{if eq .Auth.Status "APPROVED"}}<p>Account {{.Auth.UserLoginID}} is linked. The merchant was notified (AUTHCODE_CREATED).</p>
<p class="small">authCode {{.Auth.AuthCode}}</p>{{end}}
<p class="small">This QR code can no longer be used.</p>
{{end}}
{{end}}
</main></div></body></html>
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
