package main

import (
	"context"
	"encoding/json"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/client"
)

// TestVersion: --version and the version command print the same line, and
// the line carries the module version and the VCS revision.
func TestVersion(t *testing.T) {
	var outs []string
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out strings.Builder
		root := newRootCommand()
		root.SetArgs(args)
		root.SetOut(&out)
		if err := root.Execute(); err != nil {
			t.Fatalf("autodebit %s: %v", args[0], err)
		}
		outs = append(outs, out.String())
	}
	if want := "autodebit " + version() + "\n"; outs[0] != want || outs[1] != want {
		t.Fatalf("--version printed %q and version %q, want %q", outs[0], outs[1], want)
	}
	got := formatVersion(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2025-06-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}})
	if want := "v1.2.3 (revision 0123456789ab with uncommitted changes, 2025-06-01T10:00:00Z, go1.26.8)"; got != want {
		t.Fatalf("formatVersion = %q, want %q", got, want)
	}
	if got := formatVersion(&debug.BuildInfo{}); got != "(devel)" {
		t.Fatalf("formatVersion without build settings = %q, want (devel)", got)
	}
}

// TestFmtTime: a time shows the offset of its zone, so that it cannot be
// misread in another zone.
func TestFmtTime(t *testing.T) {
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	got := fmtTime(at)
	if want := at.Local().Format("-07:00"); !strings.HasSuffix(got, " "+want) {
		t.Fatalf("fmtTime = %q, want it to end with the zone offset %s", got, want)
	}
	if fmtTime(time.Time{}) != "-" {
		t.Fatalf("fmtTime(zero) = %q, want -", fmtTime(time.Time{}))
	}
}

// runCLIAt runs `autodebit ARGS --server SERVER --api-key KEY` through
// execute, as main does, and returns stdout, stderr and the exit code.
func runCLIAt(tb testing.TB, server, key string, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	var out, errOut syncBuffer
	root := newRootCommand()
	root.SetArgs(append(args, "--server", server, "--api-key", key))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = execute(ctx, root, &errOut)
	return out.String(), errOut.String(), code
}

// TestCLI_Usability covers what a first-time operator trips on: a server
// given as host:port, a missing argument, an ID of the wrong kind, an
// unknown filter, a "not found" that does not say what, errors for scripts,
// the currency a token can only be charged in, and times without a zone.
func TestCLI_Usability(t *testing.T) {
	m, logs := startMain(t)
	ctx := context.Background()
	api := client.New(m.URL, m.APIKey)
	tokenID := link(t, m, "cus_usable")

	t.Run("ServerWithoutScheme", func(t *testing.T) {
		hostPort := strings.TrimPrefix(m.URL, "http://")
		out, errOut, code := runCLIAt(t, hostPort, m.APIKey, "tokens", "--customer", "cus_usable")
		if code != 0 || !strings.Contains(out, tokenID) {
			t.Fatalf("--server %s: exit %d\nstdout:\n%s\nstderr:\n%s", hostPort, code, out, errOut)
		}
		_, errOut, code = runCLIAt(t, "ftp://"+hostPort, m.APIKey, "tokens")
		if code == 0 || !strings.Contains(errOut, `autodebit: tokens: --server "ftp://`+hostPort+`" is not a server address`) {
			t.Fatalf("--server ftp://…: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("MissingArgumentIsNamed", func(t *testing.T) {
		for cmd, want := range map[string]string{
			"refund": "autodebit: refund: missing CHARGE_ID (usage: autodebit refund CHARGE_ID --amount AMOUNT)",
			"cancel": "autodebit: cancel: missing CHARGE_ID",
			"revoke": "autodebit: revoke: missing TOKEN_ID",
			"status": "autodebit: status: missing ID",
		} {
			mustFail(t, m, "", want, cmd)
		}
		mustFail(t, m, "", "autodebit: refund: one CHARGE_ID expected, got 2 arguments: chg_a chg_b", "refund", "chg_a", "chg_b", "--amount", "1")
	})

	t.Run("IDOfTheWrongKind", func(t *testing.T) {
		before := countCharges(t, m)
		mustFail(t, m, "", "autodebit: charge: --token chg_abc is a charge ID, not a token ID (tok_…)", "charge", "--token", "chg_abc", "--amount", "1")
		mustFail(t, m, "", `autodebit: charge: --token "abc" is not a token ID: token IDs start with tok_`, "charge", "--token", "abc", "--amount", "1")
		mustFail(t, m, "", "autodebit: refund: "+tokenID+" is a token ID, not a charge ID (chg_…)", "refund", tokenID, "--amount", "1")
		mustFail(t, m, "", "autodebit: cancel: "+tokenID+" is a token ID, not a charge ID (chg_…)", "cancel", tokenID)
		mustFail(t, m, "", "autodebit: revoke: chg_abc is a charge ID, not a token ID (tok_…)", "revoke", "chg_abc", "--yes")
		mustFail(t, m, "", "autodebit: charges: --token rfd_abc is a refund ID, not a token ID (tok_…)", "charges", "--token", "rfd_abc")
		if after := countCharges(t, m); after != before {
			t.Fatalf("an ID of the wrong kind made charges: %d → %d", before, after)
		}
		if tk, _ := api.Token(ctx, tokenID); tk.Status != "ACTIVE" {
			t.Fatalf("token %s is %s after refused commands", tokenID, tk.Status)
		}
	})

	t.Run("NotFoundEchoesID", func(t *testing.T) {
		mustFail(t, m, "", "autodebit: refund: Charge chg_nope not found", "refund", "chg_nope", "--amount", "1.00")
		mustFail(t, m, "", "autodebit: cancel: Charge chg_nope not found", "cancel", "chg_nope")
		mustFail(t, m, "", "autodebit: revoke: Token tok_nope not found", "revoke", "tok_nope", "--yes")
		mustFail(t, m, "", "autodebit: status: Refund rfd_nope not found", "status", "rfd_nope")
		mustFail(t, m, "", "autodebit: charge: Token tok_nope not found", "charge", "--token", "tok_nope", "--amount", "1", "--currency", "PHP")
		mustFail(t, m, "", "autodebit: charge: Token tok_nope not found", "charge", "--token", "tok_nope", "--amount", "1")
	})

	t.Run("UnknownFilterListsValidValues", func(t *testing.T) {
		wallets := "ALIPAY_CN, ALIPAY_HK, DANA, GCASH, KAKAOPAY, TNG, TRUEMONEY"
		mustFail(t, m, "", `autodebit: charges: --status "PAID" is not a charge status; use one of INIT, SUCCESS, FAIL, CANCELLED`, "charges", "--status", "paid")
		mustFail(t, m, "", `autodebit: charges: --wallet "PAYPAL" is not a Scan to Link wallet; use one of `+wallets, "charges", "--wallet", "paypal")
		mustFail(t, m, "", `autodebit: tokens: --status "GONE" is not a token status; use one of ACTIVE, REVOKED, EXPIRED`, "tokens", "--status", "GONE")
		mustFail(t, m, "", `autodebit: tokens: --wallet "PAYPAL" is not a Scan to Link wallet; use one of `+wallets, "tokens", "--wallet", "PAYPAL")
		list, _ := api.Authorizations(ctx, client.ListParams{CustomerID: "cus_nowallet"})
		mustFail(t, m, "", `autodebit: link: --wallet "PAYPAL" is not a Scan to Link wallet; use one of `+wallets, "link", "--customer", "cus_nowallet", "--wallet", "PAYPAL")
		if after, _ := api.Authorizations(ctx, client.ListParams{CustomerID: "cus_nowallet"}); after.Total != list.Total {
			t.Fatalf("an unknown wallet made an authorization")
		}
		// Known values still filter.
		mustRun(t, m, "charges", "--status", "success", "--wallet", "gcash")
		mustRun(t, m, "tokens", "--status", "active", "--wallet", "GCASH")
	})

	var chgID string
	t.Run("ChargeCurrencyFromWallet", func(t *testing.T) {
		out := mustRun(t, m, "charge", "--token", tokenID, "--amount", "3")
		chgID = chargeID(t, out)
		if !strings.Contains(out, "PHP 3.00") || !strings.Contains(out, "SUCCESS") {
			t.Fatalf("charge without --currency on a GCASH token:\n%s", out)
		}
		mustFail(t, m, "", `autodebit: charge: --amount "3.123" has more decimals than PHP allows (2)`, "charge", "--token", tokenID, "--amount", "3.123")
	})

	t.Run("TimesShowTheirZone", func(t *testing.T) {
		out := mustRun(t, m, "status", chgID)
		zoned := regexp.MustCompile(`(?m)^Created:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d$`)
		if !zoned.MatchString(out) {
			t.Fatalf("no time with its zone offset in:\n%s", out)
		}
	})

	t.Run("JSONErrors", func(t *testing.T) {
		for _, tc := range []struct {
			args       []string
			code, want string
		}{
			{[]string{"refund", "chg_nope", "--amount", "1", "--json"}, "not_found", "refund: Charge chg_nope not found"},
			{[]string{"charge", "--json", "--amount", "1"}, "", "charge: --token is required"},
			{[]string{"charges", "--json", "--status", "PAID"}, "", `charges: --status "PAID" is not a charge status`},
			{[]string{"status", "--json"}, "", "status: missing ID"},
		} {
			out, errOut, code := runCLIAt(t, m.URL, m.APIKey, tc.args...)
			var got struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(errOut), &got); err != nil {
				t.Fatalf("%v: stderr is not JSON (%v): %q", tc.args, err, errOut)
			}
			if code != 1 || out != "" || got.Error.Code != tc.code || !strings.HasPrefix(got.Error.Message, tc.want) {
				t.Fatalf("%v: exit %d, stdout %q, error %+v; want exit 1, no stdout, code %q and a message starting %q",
					tc.args, code, out, got.Error, tc.code, tc.want)
			}
		}
		// Without --json the error stays one line of text.
		_, errOut, code := runCLIAt(t, m.URL, m.APIKey, "refund", "chg_nope", "--amount", "1")
		if code != 1 || errOut != "autodebit: refund: Charge chg_nope not found\n" {
			t.Fatalf("text error: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("RiverLogsAtDebug", func(t *testing.T) {
		var sawRiver bool
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var rec struct{ Level, Msg string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if rec.Msg == "River client started" {
				sawRiver = true
				if rec.Level != "DEBUG" {
					t.Fatalf("River's start logged at %s, want DEBUG: %s", rec.Level, line)
				}
			}
		}
		if !sawRiver {
			t.Fatal("no River start line in the debug log: River's logger is not wired")
		}
	})
}
