package http_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/storetest"
)

// newLinkServer returns a Server whose engine allows returnUrls on
// shop.example, and the kinds of the jobs its store enqueued. Creating a
// link session calls no Antom, which is unreachable here.
func newLinkServer(t *testing.T) (*adhttp.Server, autodebit.Store, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var jobs []string
	store := storetest.OpenSQLite(t, sqldb.Config{TokenKey: storetest.TokenKey, EnqueueFunc: func(_ context.Context, _ *sql.Tx, js []autodebit.Job) error {
		mu.Lock()
		defer mu.Unlock()
		for _, j := range js {
			jobs = append(jobs, j.Args.Kind())
		}
		return nil
	}})
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	client, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "client_1", PrivateKey: kp.PrivateKey,
		AntomPublicKey: &kp.PrivateKey.PublicKey, ObserveFunc: engine.Observe})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: store, Antom: client, PublicURL: "https://pay.example.net", LinkReturnHosts: []string{"shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := adhttp.NewServer(adhttp.Config{Engine: eng, APIKey: testAPIKey,
		Verifier: &antom.NotificationVerifier{ClientID: "client_1", AntomPublicKey: &kp.PrivateKey.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	return s, store, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), jobs...)
	}
}

func TestLinkSessions_CreateReadList(t *testing.T) {
	s, _, jobs := newLinkServer(t)
	body := `{"customerId":"cus_42","wallet":"GCASH","returnUrl":"https://shop.example/linked?cart=9","cancelUrl":"https://shop.example/cart","locale":"th","lifetime":"2h"}`
	w := doKey(t, s, "POST", "/v1/link-sessions", body, "signup-42")
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	created := decode[adhttp.LinkSession](t, w)
	if !strings.HasPrefix(created.ID, "ls_") || created.Status != "open" || created.CustomerID != "cus_42" || created.Wallet != "GCASH" ||
		created.BuyerChoosesWallet || created.Locale != "th" || created.AuthorizationID != "" || created.TokenID != "" ||
		!created.ExpiresAt.Equal(created.CreatedAt.Add(2*time.Hour)) {
		t.Fatalf("created %+v", created)
	}
	secret, ok := strings.CutPrefix(created.URL, "https://pay.example.net/link/")
	if !ok || len(secret) < 40 || strings.Contains(secret, created.ID) {
		t.Fatalf("url %q", created.URL)
	}
	if got := jobs(); strings.Join(got, ",") != "expire_link_session" {
		t.Fatalf("jobs %v, want the expiry", got)
	}

	// The same key and body: the same session, marked a replay.
	w = doKey(t, s, "POST", "/v1/link-sessions", body, "signup-42")
	if w.Code != 201 || w.Header().Get(adhttp.ReplayedHeader) != "true" || decode[adhttp.LinkSession](t, w).ID != created.ID {
		t.Fatalf("replay: %d %s %s", w.Code, w.Header().Get(adhttp.ReplayedHeader), w.Body)
	}
	w = doKey(t, s, "POST", "/v1/link-sessions", strings.Replace(body, "2h", "3h", 1), "signup-42")
	if w.Code != 409 || !strings.Contains(w.Body.String(), "with different parameters") {
		t.Fatalf("reused key: %d %s", w.Code, w.Body)
	}

	w = doKey(t, s, "GET", "/v1/link-sessions/"+created.ID, "", "")
	if got := decode[adhttp.LinkSession](t, w); w.Code != 200 || got.URL != created.URL || got.ID != created.ID {
		t.Fatalf("GET: %d %+v", w.Code, got)
	}
	other := doKey(t, s, "POST", "/v1/link-sessions", `{"customerId":"cus_7","returnUrl":"https://shop.example/"}`, "")
	if other.Code != 201 {
		t.Fatalf("create without wallet: %d %s", other.Code, other.Body)
	}
	other = doKey(t, s, "POST", "/v1/link-sessions", `{"customerId":"cus_7"}`, "")
	if other.Code != 201 {
		t.Fatalf("create without wallet or returnUrl: %d %s", other.Code, other.Body)
	}
	if got := decode[adhttp.LinkSession](t, other); got.Wallet != "" || !got.BuyerChoosesWallet || !got.ExpiresAt.Equal(got.CreatedAt.Add(time.Hour)) ||
		got.ReturnURL != "https://pay.example.net/link/done" {
		t.Fatalf("session for the buyer's choice: %+v", got)
	}
	w = doKey(t, s, "GET", "/v1/link-sessions?customerId=cus_42&status=open", "", "")
	if list := decode[adhttp.List[adhttp.LinkSession]](t, w); list.Total != 1 || list.Data[0].ID != created.ID || list.Data[0].URL != created.URL {
		t.Fatalf("list: %+v", list)
	}
	w = doKey(t, s, "GET", "/v1/link-sessions?status=done", "", "")
	if w.Code != 400 || !strings.Contains(w.Body.String(), "not a link session status") {
		t.Fatalf("bad status filter: %d %s", w.Code, w.Body)
	}
	w = doKey(t, s, "GET", "/v1/link-sessions/"+created.ID+"/timeline", "", "")
	if list := decode[adhttp.List[adhttp.TimelineEntry]](t, w); w.Code != 200 || list.Total != 1 || !strings.Contains(string(list.Data[0].Response), "OPEN for cus_42") ||
		strings.Contains(w.Body.String(), secret) {
		t.Fatalf("timeline: %d %+v", w.Code, list)
	}

	w = doKey(t, s, "POST", "/v1/link-sessions/"+created.ID+"/cancel", "", "")
	if got := decode[adhttp.LinkSession](t, w); w.Code != 200 || got.Status != "cancelled" || got.CancelledAt == nil {
		t.Fatalf("cancel: %d %+v", w.Code, got)
	}
	for _, path := range []string{"/v1/link-sessions/ls_nope", "/v1/link-sessions/ls_nope/timeline"} {
		if w := doKey(t, s, "GET", path, "", ""); w.Code != 404 {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	if w := doKey(t, s, "POST", "/v1/link-sessions/ls_nope/cancel", "", ""); w.Code != 404 {
		t.Errorf("cancel of an unknown session: %d %s", w.Code, w.Body)
	}
}

// TestLinkSessions_BadInput sends requests that must be refused with a
// 400 naming what is wrong, and checks that none of them stored a session
// or queued a job.
func TestLinkSessions_BadInput(t *testing.T) {
	s, store, jobs := newLinkServer(t)
	ok := map[string]string{"customerId": `"cus_1"`, "wallet": `"GCASH"`, "returnUrl": `"https://shop.example/linked"`}
	with := func(field, value string) string {
		fields := map[string]string{}
		for k, v := range ok {
			fields[k] = v
		}
		if value == "" {
			delete(fields, field)
		} else {
			fields[field] = value
		}
		var parts []string
		for _, k := range []string{"customerId", "wallet", "returnUrl", "cancelUrl", "locale", "lifetime", "extra"} {
			if v, ok := fields[k]; ok {
				parts = append(parts, `"`+k+`":`+v)
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	for _, c := range []struct {
		name, body, want string
	}{
		// Bad URLs.
		{"RelativeReturnURL", with("returnUrl", `"/linked"`), `"returnUrl" must be an absolute http:// or https:// URL`},
		{"JavascriptReturnURL", with("returnUrl", `"javascript:alert(document.cookie)"`), `"returnUrl" must be an absolute`},
		{"DataReturnURL", with("returnUrl", `"data:text/html,hi"`), `"returnUrl" must be an absolute`},
		{"NoHost", with("returnUrl", `"https:///linked"`), `"returnUrl" must name a host`},
		{"UserInfo", with("returnUrl", `"https://shop.example@evil.example/"`), "must not hold a user name or password"},
		{"OtherHost", with("returnUrl", `"https://evil.example/linked"`), `names host "evil.example", which is not one of the allowed hosts (shop.example)`},
		{"SpaceInURL", with("returnUrl", `"https://shop.example/a b"`), "is not a valid URL"},
		{"RelativeCancelURL", with("cancelUrl", `"cart"`), `"cancelUrl" must be an absolute`},
		{"OtherCancelHost", with("cancelUrl", `"http://10.0.0.1/cart"`), `"cancelUrl" names host "10.0.0.1"`},
		{"NumberURL", with("returnUrl", `42`), `Field "returnUrl" must be a string, not a number`},
		// Unknown wallet.
		{"UnknownWallet", with("wallet", `"PAYPAL"`), `Wallet "PAYPAL" is not a Scan to Link wallet`},
		{"LowercaseWallet", with("wallet", `"gcash"`), `Wallet "gcash" is not a Scan to Link wallet`},
		// Wrong customer.
		{"NoCustomer", with("customerId", ""), `Field "customerId" is required`},
		{"LongCustomer", with("customerId", `"`+strings.Repeat("c", 65)+`"`), "Customer ID must be 1 to 64 characters"},
		{"ControlCustomer", with("customerId", `"cus\u00071"`), "without control characters"},
		{"InvisibleCustomer", with("customerId", `"cus\u200b1"`), "invisible or direction-changing characters (U+200B)"},
		{"NumberCustomer", with("customerId", `42`), `Field "customerId" must be a string, not a number`},
		// Bad lifetime.
		{"WordLifetime", with("lifetime", `"forever"`), `Field "lifetime" must be a duration such as "2h"`},
		{"ShortLifetime", with("lifetime", `"30s"`), "from 1m to 24h"},
		{"LongLifetime", with("lifetime", `"25h"`), "from 1m to 24h"},
		{"NegativeLifetime", with("lifetime", `"-1h"`), `Field "lifetime" must be a duration`},
		{"NumberLifetime", with("lifetime", `3600`), `Field "lifetime" must be a string, not a number`},
		// Others.
		{"BadLocale", with("locale", `"fr"`), `Locale "fr" is not one of en, zh, id, ko, th, ms, tl`},
		{"UnknownField", with("extra", `true`), `Unknown field "extra"`},
		{"NotJSON", `{"customerId":`, "not valid JSON"},
	} {
		w := doKey(t, s, "POST", "/v1/link-sessions", c.body, "")
		if e := decode[apiError](t, w); w.Code != 400 || e.Error.Code != "invalid" || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s: %d %+v, want 400 with %q", c.name, w.Code, e, c.want)
		}
	}
	if _, n, err := store.FindLinkSessions(context.Background(), autodebit.LinkSessionFilter{}); err != nil || n != 0 {
		t.Fatalf("bad requests stored %d sessions (%v)", n, err)
	}
	if got := jobs(); len(got) != 0 {
		t.Fatalf("bad requests queued jobs %v", got)
	}
	// The same request, fixed, is accepted: the table above tested what it
	// meant to.
	if w := doKey(t, s, "POST", "/v1/link-sessions", with("lifetime", `"24h"`), ""); w.Code != 201 {
		t.Fatalf("good request: %d %s", w.Code, w.Body)
	}
}
