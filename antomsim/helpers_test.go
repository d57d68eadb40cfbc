package antomsim_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

var (
	keysOnce              sync.Once
	merchantKey, antomKey *rsa.PrivateKey
)

// keys returns a merchant and an Antom key pair, made once per test binary.
func keys(tb testing.TB) (merchant, antomPriv *rsa.PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		m, err := antom.GenerateKeyPair()
		if err != nil {
			panic(err)
		}
		a, err := antom.GenerateKeyPair()
		if err != nil {
			panic(err)
		}
		merchantKey, antomKey = m.PrivateKey, a.PrivateKey
	})
	return merchantKey, antomKey
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("UTC+8", 8*3600))

// env is a simulator behind a real HTTP server, a merchant client and a
// notification receiver.
type env struct {
	sim    *antomsim.Sim
	srv    *httptest.Server
	client *antom.Client
	notify *receiver
}

// newEnv starts a simulator with a manual clock at t0 that verifies the
// merchant's signatures and sends notifications to a receiver. mod may
// change the config.
func newEnv(tb testing.TB, mod func(*antomsim.Config)) *env {
	tb.Helper()
	mk, ak := keys(tb)
	e := &env{notify: newReceiver(tb)}
	cfg := antomsim.Config{
		ClientID: "SANDBOX_TEST", AntomPrivateKey: ak, MerchantPublicKey: &mk.PublicKey,
		NotifyURL: e.notify.srv.URL + "/notify", ManualClock: true, Start: t0, Seed: 7,
	}
	if mod != nil {
		mod(&cfg)
	}
	sim, err := antomsim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e.sim = sim
	e.start()
	e.srv = httptest.NewServer(sim)
	tb.Cleanup(func() { e.srv.Close(); sim.Close() })
	e.client, err = antom.NewClient(antom.Config{BaseURL: e.srv.URL, ClientID: cfg.ClientID, PrivateKey: mk,
		AntomPublicKey: sim.AntomPublicKey(), NowFunc: sim.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// receiver is a merchant's notification endpoint that verifies every
// notification with antom.NotificationVerifier and answers as told.
type receiver struct {
	srv      *httptest.Server
	verifier *antom.NotificationVerifier
	mu       sync.Mutex
	got      []*antom.Notification
	rejected int
	// answer returns the status and body to reply with; nil means the ack.
	answer atomic.Pointer[func(n *antom.Notification) (int, []byte)]
}

func newReceiver(tb testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		v := r.verifier
		r.mu.Unlock()
		if v == nil {
			http.Error(w, "no verifier", http.StatusServiceUnavailable)
			return
		}
		n, err := v.Verify(req)
		if err != nil {
			r.mu.Lock()
			r.rejected++
			r.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, n)
		r.mu.Unlock()
		if f := r.answer.Load(); f != nil {
			status, body := (*f)(n)
			w.WriteHeader(status)
			w.Write(body)
			return
		}
		antom.WriteAck(w)
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

// setAnswer makes the receiver answer with f instead of the ack.
func (r *receiver) setAnswer(f func(n *antom.Notification) (int, []byte)) { r.answer.Store(&f) }

func (r *receiver) all() []*antom.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*antom.Notification(nil), r.got...)
}

func (r *receiver) ofType(typ string) []*antom.Notification {
	var out []*antom.Notification
	for _, n := range r.all() {
		switch {
		case n.Authorization != nil && n.Authorization.AuthorizationNotifyType == typ,
			n.Payment != nil && n.Payment.NotifyType == typ,
			n.Refund != nil && n.Refund.NotifyType == typ:
			out = append(out, n)
		}
	}
	return out
}

// start wires the receiver's verifier to the simulator.
func (e *env) start() *env {
	e.notify.mu.Lock()
	// The simulator runs on a clock of its own, so it stamps notifications
	// with the wall clock: the receiver judges them on real time.
	e.notify.verifier = &antom.NotificationVerifier{ClientID: e.sim.ClientID(), AntomPublicKey: e.sim.AntomPublicKey()}
	e.notify.mu.Unlock()
	return e
}

func (e *env) settle(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.Settle(ctx); err != nil {
		tb.Fatal(err)
	}
}

func (e *env) advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	if _, err := e.sim.Advance(d); err != nil {
		tb.Fatal(err)
	}
}

func consultReq(wallet, state string) *antom.ConsultRequest {
	return &antom.ConsultRequest{CustomerBelongsTo: wallet, AuthRedirectURL: "https://merchant.example/done",
		Scopes: []string{antom.ScopeAgreementPay}, AuthState: state, TerminalType: antom.TerminalTypeWeb}
}

func payReq(id, token, wallet string, amt antom.Amount) *antom.PayRequest {
	return &antom.PayRequest{ProductCode: antom.ProductCodeAgreementPay, PaymentRequestID: id, PaymentAmount: amt,
		PaymentMethod: antom.PaymentMethod{PaymentMethodType: wallet, PaymentMethodID: token},
		Order:         antom.Order{ReferenceOrderID: "order-" + id, OrderDescription: "Test order", OrderAmount: amt},
		Env:           &antom.Env{TerminalType: antom.TerminalTypeWeb}}
}

// link runs consult, approve and applyToken and returns the access token.
func (e *env) link(tb testing.TB, wallet, login string) *antom.ApplyTokenResponse {
	tb.Helper()
	ctx := context.Background()
	state := fmt.Sprintf("state-%s-%s-%d", wallet, login, time.Now().UnixNano())
	c, err := e.client.Consult(ctx, consultReq(wallet, state))
	if err != nil || !c.Result.Succeeded() {
		tb.Fatalf("consult: %v %+v", err, c)
	}
	a, err := e.sim.Approve(c.AuthCodeForm.Text(), login)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := e.client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode,
		CustomerBelongsTo: wallet, AuthCode: a.AuthCode})
	if err != nil || !tok.Result.Succeeded() {
		tb.Fatalf("applyToken: %v %+v", err, tok)
	}
	return tok
}

// rawPost sends body to path, signed with the merchant key when sign is
// true, and returns the HTTP response and its body.
func (e *env) rawPost(tb testing.TB, method, path, clientID, contentType string, body []byte, sign bool) (*http.Response, []byte) {
	tb.Helper()
	mk, _ := keys(tb)
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	rt := strconv.FormatInt(e.sim.Now().UnixMilli(), 10)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Client-Id", clientID)
	req.Header.Set("Request-Time", rt)
	if sign {
		sig, err := antom.Sign(mk, method, path, clientID, rt, body)
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Signature", antom.SignatureHeader("1", sig))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, b
}

// resultOf decodes the result object of a body.
func resultOf(tb testing.TB, body []byte) antom.Result {
	tb.Helper()
	var v struct {
		Result antom.Result `json:"result"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("body %s: %v", body, err)
	}
	return v.Result
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := antom.MarshalBody(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func php(v int64) antom.Amount { return antom.Amount{Currency: "PHP", Value: v} }

// controlDo calls the control API and decodes the JSON answer into out (if
// not nil). It returns the status.
func (e *env) control(tb testing.TB, method, path string, in any, out any) int {
	tb.Helper()
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case string:
		body = bytes.NewReader([]byte(v))
	default:
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}
