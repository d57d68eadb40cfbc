package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

// startMain runs the whole engine in-process (simulator included) on a free
// port with a temporary SQLite database; logs are JSON into the returned
// buffer.
func startMain(tb testing.TB) (*Main, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	m := &Main{
		Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(tb.TempDir(), "autodebit.db"), LogFormat: "json", LogLevel: "debug"},
		Stderr: logs,
	}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m, logs
}

// runCLI runs `autodebit ARGS --server URL --api-key KEY` with stdin and
// returns what it printed and its error, formatted as main prints it.
func runCLI(tb testing.TB, m *Main, stdin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	return runCLIKey(tb, m, m.APIKey, stdin, args...)
}

func runCLIKey(tb testing.TB, m *Main, key, stdin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut syncBuffer
	root := newRootCommand()
	root.SetArgs(append(args, "--server", m.URL, "--api-key", key))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// mustRun runs a command that must succeed.
func mustRun(tb testing.TB, m *Main, args ...string) string {
	tb.Helper()
	out, errOut, err := runCLI(tb, m, "", args...)
	if err != nil {
		tb.Fatalf("autodebit %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// mustFail runs a command that must fail with a message matching want.
func mustFail(tb testing.TB, m *Main, stdin, want string, args ...string) {
	tb.Helper()
	out, _, err := runCLI(tb, m, stdin, args...)
	if err == nil {
		tb.Fatalf("autodebit %s: no error; stdout:\n%s", strings.Join(args, " "), out)
	}
	if msg := "autodebit: " + err.Error(); !strings.Contains(msg, want) {
		tb.Fatalf("autodebit %s: error %q, want it to contain %q", strings.Join(args, " "), msg, want)
	}
}

// approveWhenShown approves the customer's pending authorization in the
// simulator as soon as it exists.
func approveWhenShown(tb testing.TB, m *Main, customer string) {
	tb.Helper()
	c := client.New(m.URL, m.APIKey)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		list, err := c.Authorizations(context.Background(), client.ListParams{CustomerID: customer, Status: "PENDING"})
		if err == nil && len(list.Data) > 0 && list.Data[0].QR != nil {
			if _, err := m.Sim.Approve(list.Data[0].QR.Text, ""); err != nil {
				tb.Errorf("approve: %v", err)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Errorf("no pending authorization for %s", customer)
}

// link links a wallet with `autodebit link` and returns the token ID.
func link(tb testing.TB, m *Main, customer string) string {
	tb.Helper()
	done := make(chan struct{})
	go func() { defer close(done); approveWhenShown(tb, m, customer) }()
	out := mustRun(tb, m, "link", "--customer", customer, "--wallet", "GCASH", "--poll-interval", "20ms")
	<-done
	tok := regexp.MustCompile(`Linked: token (tok_\S+)`).FindStringSubmatch(out)
	if tok == nil {
		tb.Fatalf("link printed no token:\n%s", out)
	}
	return tok[1]
}

func countCharges(tb testing.TB, m *Main) int {
	tb.Helper()
	list, err := client.New(m.URL, m.APIKey).Charges(context.Background(), client.ListParams{})
	if err != nil {
		tb.Fatal(err)
	}
	return list.Total
}

func chargeID(tb testing.TB, out string) string {
	tb.Helper()
	return printedID(tb, out, "Charge", "chg_")
}

// printedID returns the ID a command printed on its "Label: prefix…" line.
func printedID(tb testing.TB, out, label, prefix string) string {
	tb.Helper()
	id := regexp.MustCompile(regexp.QuoteMeta(label) + `:\s+(` + regexp.QuoteMeta(prefix) + `\S+)`).FindStringSubmatch(out)
	if id == nil {
		tb.Fatalf("no %s ID in:\n%s", strings.ToLower(label), out)
	}
	return id[1]
}

// TestCLI runs every operator command against a real engine: the happy path
// of each, and bad input that must fail with a clear message and change
// nothing.
func TestCLI(t *testing.T) {
	m, logs := startMain(t)
	ctx := context.Background()
	api := client.New(m.URL, m.APIKey)

	var tokenID, chgID string
	t.Run("Link", func(t *testing.T) {
		tokenID = link(t, m, "cus_cli")
		if tk, err := api.Token(ctx, tokenID); err != nil || tk.Status != "ACTIVE" {
			t.Fatalf("token %s: %+v, %v", tokenID, tk, err)
		}
	})
	t.Run("LinkNoWaitJSON", func(t *testing.T) {
		out := mustRun(t, m, "link", "--customer", "cus_nowait", "--wallet", "gcash", "--no-wait", "--json")
		var a adhttp.Authorization
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		if a.Status != "PENDING" || a.QR == nil || !strings.HasPrefix(a.ID, "auth_") {
			t.Fatalf("authorization %+v", a)
		}
	})
	t.Run("LinkShowsQR", func(t *testing.T) {
		out := mustRun(t, m, "link", "--customer", "cus_qr", "--wallet", "GCASH", "--no-wait")
		if !strings.Contains(out, "█") || !strings.Contains(out, "Scan with GCASH, or open: http") {
			t.Fatalf("no QR code in:\n%s", out)
		}
	})
	t.Run("LinkBadInput", func(t *testing.T) {
		mustFail(t, m, "", "autodebit: link: --customer is required", "link", "--wallet", "GCASH")
		mustFail(t, m, "", "autodebit: link: --wallet is required", "link", "--customer", "c")
		mustFail(t, m, "", "autodebit: link: ", "link", "--customer", "c", "--wallet", "NOPE")
	})

	t.Run("Charge", func(t *testing.T) {
		out := mustRun(t, m, "charge", "--token", tokenID, "--amount", "15.00", "--currency", "PHP", "--description", "May plan")
		chgID = chargeID(t, out)
		for _, want := range []string{"Status:", "SUCCESS", "PHP 15.00", "Idempotency-Key:  cli_"} {
			if !strings.Contains(out, want) {
				t.Fatalf("charge output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("ChargeJSONIdempotent", func(t *testing.T) {
		args := []string{"charge", "--token", tokenID, "--amount", "2", "--currency", "php", "--json", "--idempotency-key", "order-77"}
		var first, again struct {
			IdempotencyKey string        `json:"idempotencyKey"`
			Charge         adhttp.Charge `json:"charge"`
		}
		json.Unmarshal([]byte(mustRun(t, m, args...)), &first)
		json.Unmarshal([]byte(mustRun(t, m, args...)), &again)
		if first.IdempotencyKey != "order-77" || first.Charge.Amount.Value != "200" || first.Charge.ID == "" {
			t.Fatalf("first %+v", first)
		}
		if again.Charge.ID != first.Charge.ID {
			t.Fatalf("same key charged twice: %s, %s", first.Charge.ID, again.Charge.ID)
		}
	})
	t.Run("ChargeBadInput", func(t *testing.T) {
		before := countCharges(t, m)
		for _, tc := range []struct {
			want string
			args []string
		}{
			{"autodebit: charge: --amount \"15.123\" has more decimals than PHP allows (2)", []string{"--token", tokenID, "--amount", "15.123", "--currency", "PHP"}},
			{"autodebit: charge: --amount \"abc\" is not an amount", []string{"--token", tokenID, "--amount", "abc", "--currency", "PHP"}},
			{"autodebit: charge: --amount \"0.00\" must be more than zero", []string{"--token", tokenID, "--amount", "0.00", "--currency", "PHP"}},
			{"autodebit: charge: --amount \"-1\" is not an amount", []string{"--token", tokenID, "--amount", "-1", "--currency", "PHP"}},
			{"autodebit: charge: --currency \"XXY\" is not a supported", []string{"--token", tokenID, "--amount", "1", "--currency", "XXY"}},
			{"autodebit: charge: --token " + chgID + " is a charge ID, not a token ID (tok_…)", []string{"--token", chgID, "--amount", "1"}},
			{"autodebit: charge: --amount is required", []string{"--token", tokenID}},
			{"autodebit: charge: --token is required", []string{"--amount", "1", "--currency", "PHP"}},
			{"autodebit: charge: ", []string{"--token", "tok_doesnotexist", "--amount", "1", "--currency", "PHP"}},
		} {
			mustFail(t, m, "", tc.want, append([]string{"charge"}, tc.args...)...)
		}
		_, _, err := runCLIKey(t, m, "wrong-key-0123456789", "", "charge", "--token", tokenID, "--amount", "1", "--currency", "PHP")
		if err == nil || !strings.Contains(err.Error(), "refused the API key") {
			t.Fatalf("wrong key: %v", err)
		}
		if after := countCharges(t, m); after != before {
			t.Fatalf("bad input made charges: %d → %d", before, after)
		}
	})

	t.Run("Charges", func(t *testing.T) {
		out := mustRun(t, m, "charges", "--customer", "cus_cli")
		if !strings.Contains(out, chgID) || !strings.Contains(out, "PHP 15.00") || !strings.Contains(out, "2 of 2 charges") {
			t.Fatalf("charges:\n%s", out)
		}
		var list adhttp.List[adhttp.Charge]
		json.Unmarshal([]byte(mustRun(t, m, "charges", "--status", "fail", "--json")), &list)
		if list.Total != 0 {
			t.Fatalf("FAIL charges: %+v", list)
		}
		mustFail(t, m, "", "autodebit: charges: --status \"PAID\" is not a charge status; use one of INIT, SUCCESS, FAIL, CANCELLED", "charges", "--status", "PAID")
	})
	t.Run("Tokens", func(t *testing.T) {
		out := mustRun(t, m, "tokens", "--customer", "cus_cli")
		if !strings.Contains(out, tokenID) || !strings.Contains(out, "ACTIVE") || !strings.Contains(out, "GCASH") {
			t.Fatalf("tokens:\n%s", out)
		}
		mustFail(t, m, "", "autodebit: tokens: --status \"GONE\" is not a token status; use one of ACTIVE, REVOKED, EXPIRED", "tokens", "--status", "GONE")
	})

	var refundID string
	t.Run("Refund", func(t *testing.T) {
		out := mustRun(t, m, "refund", chgID, "--amount", "5.00", "--reason", "damaged")
		if !strings.Contains(out, "PHP 5.00") || !strings.Contains(out, "SUCCESS") {
			t.Fatalf("refund:\n%s", out)
		}
		refundID = regexp.MustCompile(`Refund:\s+(rfd_\S+)`).FindStringSubmatch(out)[1]
		mustFail(t, m, "", "autodebit: refund: --amount \"1.001\" has more decimals than PHP allows (2)", "refund", chgID, "--amount", "1.001")
		mustFail(t, m, "", "autodebit: refund: --amount is required", "refund", chgID)
		mustFail(t, m, "", "autodebit: refund: ", "refund", chgID, "--amount", "100.00")
		mustFail(t, m, "", "autodebit: refund: ", "refund", "chg_nope", "--amount", "1.00")
		c, _ := api.Charge(ctx, chgID)
		if c.RefundedAmount.Value != "500" {
			t.Fatalf("refunded %+v, want 500 after bad refunds", c.RefundedAmount)
		}
	})
	t.Run("Status", func(t *testing.T) {
		out := mustRun(t, m, "status", chgID)
		for _, want := range []string{chgID, "antom.pay", "SUCCESS", "PHP 5.00"} {
			if !strings.Contains(out, want) {
				t.Fatalf("status lacks %q:\n%s", want, out)
			}
		}
		for _, id := range []string{tokenID, refundID} {
			if out := mustRun(t, m, "status", id); !strings.Contains(out, id) {
				t.Fatalf("status %s:\n%s", id, out)
			}
		}
		var got struct {
			Object   adhttp.Authorization
			Timeline []json.RawMessage
		}
		tk, _ := api.Token(ctx, tokenID)
		json.Unmarshal([]byte(mustRun(t, m, "status", tk.AuthorizationID, "--json")), &got)
		if got.Object.Status != "ACTIVE" || len(got.Timeline) == 0 {
			t.Fatalf("status --json: %+v", got)
		}
		mustFail(t, m, "", `autodebit: status: "xyz" is not an ID`, "status", "xyz")
		mustFail(t, m, "", "autodebit: status: ", "status", "chg_nope")
		mustFail(t, m, "", "autodebit: status: missing ID", "status")
	})
	t.Run("Cancel", func(t *testing.T) {
		mustFail(t, m, "", "cannot be cancelled; refund it instead", "cancel", chgID)
		if c, _ := api.Charge(ctx, chgID); c.Status != "SUCCESS" {
			t.Fatalf("status %s after refused cancel", c.Status)
		}
		// A charge Antom has not finished yet can be cancelled.
		if err := m.Sim.SetSettings(antomsim.Settings{PayMode: antomsim.PayModeStuck}); err != nil {
			t.Fatal(err)
		}
		defer m.Sim.SetSettings(antomsim.Settings{})
		id := chargeID(t, mustRun(t, m, "charge", "--token", tokenID, "--amount", "1.00", "--currency", "PHP"))
		out := mustRun(t, m, "cancel", id)
		if !strings.Contains(out, id) {
			t.Fatalf("cancel:\n%s", out)
		}
	})
	t.Run("Revoke", func(t *testing.T) {
		mustFail(t, m, "n\n", "autodebit: revoke: not confirmed; token "+tokenID+" is unchanged", "revoke", tokenID)
		if tk, _ := api.Token(ctx, tokenID); tk.Status != "ACTIVE" {
			t.Fatalf("status %s after a refused confirmation", tk.Status)
		}
		mustFail(t, m, "", "autodebit: revoke: ", "revoke", "tok_nope", "--yes")
		out, _, err := runCLI(t, m, "y\n", "revoke", tokenID)
		if err != nil || !strings.Contains(out, "REVOKED") {
			t.Fatalf("revoke: %v\n%s", err, out)
		}
		mustFail(t, m, "", "autodebit: revoke: token "+tokenID+" is already REVOKED", "revoke", tokenID, "--yes")
		before := countCharges(t, m)
		mustFail(t, m, "", "autodebit: charge: Token "+tokenID+" is REVOKED", "charge", "--token", tokenID, "--amount", "1", "--currency", "PHP")
		if after := countCharges(t, m); after != before {
			t.Fatalf("charge on a revoked token made a charge")
		}
	})
	t.Run("NoAPIKey", func(t *testing.T) {
		_, _, err := runCLIKey(t, m, "", "", "charges")
		if err == nil || !strings.Contains(err.Error(), "no API key") {
			t.Fatalf("no key: %v", err)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		checkMetrics(t, m)
	})
	t.Run("Logs", func(t *testing.T) {
		checkLogs(t, m, logs.String())
	})
}

// scrape returns the samples of /metrics as "name{labels}" → value.
func scrape(tb testing.TB, url, apiKey string) map[string]float64 {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("/metrics: %s\n%s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func checkMetrics(t *testing.T, m *Main) {
	got := scrape(t, m.URL, m.APIKey)
	sum := func(prefix string, labels ...string) float64 {
		var s float64
	next:
		for k, v := range got {
			if !strings.HasPrefix(k, prefix+"{") && k != prefix {
				continue
			}
			for _, l := range labels {
				if !strings.Contains(k, l) {
					continue next
				}
			}
			s += v
		}
		return s
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"autodebit_antom_call_duration_seconds_count", []string{`api="pay"`, `result_status="S"`}},
		{"autodebit_antom_call_duration_seconds_count", []string{`api="consult"`}},
		{"autodebit_antom_call_duration_seconds_count", []string{`api="applyToken"`}},
		{"autodebit_antom_call_duration_seconds_bucket", []string{`le="+Inf"`}},
		{"autodebit_charges_settled_total", []string{`status="SUCCESS"`}},
		{"autodebit_authcode_to_token_seconds_count", nil},
		{"autodebit_notifications_received_total", []string{`kind="authorization"`, `result="accepted"`}},
		{"autodebit_jobs", []string{`state=`}},
	} {
		if v := sum(c.name, c.labels...); v <= 0 {
			t.Errorf("%s%v = %v, want > 0", c.name, c.labels, v)
		}
	}
	for _, name := range []string{"autodebit_charges_open", "autodebit_charges_oldest_open_age_seconds", "autodebit_refunds_processing"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for k := range got {
		if strings.Contains(k, `"chg_`) || strings.Contains(k, `"tok_`) || strings.Contains(k, `"auth_`) {
			t.Errorf("an ID in a label: %s", k)
		}
	}
}

func checkLogs(t *testing.T, m *Main, logs string) {
	toks := m.Sim.Tokens()
	if len(toks) == 0 {
		t.Fatal("the simulator issued no token")
	}
	for _, tk := range toks {
		for _, secret := range []string{tk.AccessToken, tk.RefreshToken} {
			if secret != "" && strings.Contains(logs, secret) {
				t.Errorf("a token issued by Antom appears in the logs")
			}
		}
	}
	// Every engine line about an object names it.
	want := map[string]string{
		"authorization created": "authorization", "authCode received": "authorization", "token stored": "token",
		"charge created": "charge", "charge settled": "charge", "refund created": "refund", "refund settled": "refund",
		"token ended": "token",
	}
	// Amounts are logged in major units after the currency, as everywhere
	// else: the 15.00 charge is "PHP 15.00", never "1500 PHP".
	wantAmount := map[string]string{"charge created": "PHP 15.00", "refund created": "PHP 5.00"}
	amountSeen := map[string]bool{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		msg, _ := line["msg"].(string)
		if key, ok := want[msg]; ok {
			seen[msg] = true
			if id, _ := line[key].(string); id == "" {
				t.Errorf("log %q has no %q: %s", msg, key, sc.Text())
			}
		}
		if amount, ok := line["amount"].(string); ok {
			if !regexp.MustCompile(`^PHP [0-9]+\.[0-9]{2}$`).MatchString(amount) {
				t.Errorf("log %q shows amount %q, want major units like \"PHP 15.00\": %s", msg, amount, sc.Text())
			}
			if amount == wantAmount[msg] {
				amountSeen[msg] = true
			}
		}
	}
	for msg, amount := range wantAmount {
		if !amountSeen[msg] {
			t.Errorf("no %q log line with amount %q", msg, amount)
		}
	}
	for _, msg := range []string{"authorization created", "token stored", "charge created", "charge settled", "refund created"} {
		if !seen[msg] {
			t.Errorf("no %q log line", msg)
		}
	}
}
