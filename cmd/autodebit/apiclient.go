package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

// defaultAPIKeyFile is where `autodebit serve` keeps a generated API key
// with its default database; operator commands read it when no key is given.
const defaultAPIKeyFile = "autodebit.db.api-key"

// apiOptions are the flags every operator command shares.
type apiOptions struct {
	server string
	apiKey string
	json   bool
}

// addAPIFlags registers --server, --api-key and --json on cmd.
func addAPIFlags(cmd *cobra.Command) *apiOptions {
	o := &apiOptions{server: "http://127.0.0.1:8080"}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", o.server, "autodebit server URL (env AUTODEBIT_SERVER)")
	f.StringVar(&o.apiKey, "api-key", "", "operator API key (env AUTODEBIT_API_KEY; default: ./"+defaultAPIKeyFile+" if present)")
	f.BoolVar(&o.json, "json", false, "print JSON instead of a table, for scripts")
	return o
}

// client returns a REST API client, failing with a clear message when no
// API key is known.
func (o *apiOptions) client() (*client.Client, error) {
	key := strings.TrimSpace(o.apiKey)
	if key == "" {
		if b, err := os.ReadFile(defaultAPIKeyFile); err == nil {
			key = strings.TrimSpace(string(b))
		}
	}
	if key == "" {
		return nil, errors.New("no API key: pass --api-key or set AUTODEBIT_API_KEY (`autodebit serve` prints it when it generates it, and keeps it in autodebit.db.api-key)")
	}
	server, err := serverURL(o.server)
	if err != nil {
		return nil, err
	}
	return client.New(server, key), nil
}

// serverURL returns --server as a base URL. A bare host:port, as `serve`
// prints its --addr, means plain HTTP on it.
func serverURL(s string) (string, error) {
	u := strings.TrimRight(strings.TrimSpace(s), "/")
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", fmt.Errorf("--server %q is not a server address; give host:port or a URL, e.g. --server 127.0.0.1:8080 or https://autodebit.example.com", s)
	}
	return u, nil
}

// apiError turns a client error into the message the operator sees.
func apiError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == autodebit.EUNAUTHORIZED {
		return &client.Error{Status: ce.Status, Code: ce.Code,
			Message: "the server refused the API key; pass the key `autodebit serve` printed with --api-key or AUTODEBIT_API_KEY"}
	}
	return err
}

// apiErrorID is apiError for a call about the object id: the server's "not
// found" does not say which ID it looked for, and with several in one
// command the operator needs to know.
func apiErrorID(err error, id string) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == autodebit.ENOTFOUND {
		noun := idKind(id)
		if noun == "" {
			noun = "object"
		}
		return &client.Error{Status: ce.Status, Code: ce.Code,
			Message: fmt.Sprintf("%s%s %s not found", strings.ToUpper(noun[:1]), noun[1:], id)}
	}
	return apiError(err)
}

// idPrefixes names the object each ID prefix stands for.
var idPrefixes = []struct{ prefix, noun string }{
	{autodebit.AuthorizationIDPrefix, "authorization"},
	{autodebit.TokenIDPrefix, "token"},
	{autodebit.ChargeIDPrefix, "charge"},
	{autodebit.RefundIDPrefix, "refund"},
	{autodebit.SubscriptionIDPrefix, "subscription"},
	{autodebit.LinkSessionIDPrefix, "link session"},
}

// idKind returns the kind of object id names by its prefix, or "".
func idKind(id string) string {
	for _, p := range idPrefixes {
		if strings.HasPrefix(id, p.prefix) {
			return p.noun
		}
	}
	return ""
}

// checkID refuses, before any call, an ID that cannot be of the kind prefix
// stands for, naming what it is instead: a charge ID pasted as a token is an
// easy slip, and the server's "not found" would not say why. what names
// where the ID was given ("--token"), or is "" for an argument.
func checkID(what, id, prefix string) error {
	if strings.HasPrefix(id, prefix) && len(id) > len(prefix) {
		return nil
	}
	want := idKind(prefix)
	label := strings.TrimSpace(what + " " + id)
	if got := idKind(id); got != "" {
		return fmt.Errorf("%s is %s ID, not %s ID (%s…)", label, article(got), article(want), prefix)
	}
	return fmt.Errorf("%s is not %s ID: %s IDs start with %s", strings.TrimSpace(what+" "+strconv.Quote(id)), article(want), want, prefix)
}

func article(noun string) string {
	if strings.ContainsAny(noun[:1], "aeiou") {
		return "an " + noun
	}
	return "a " + noun
}

// checkChoice refuses a value outside valid, listing the valid ones: a
// filter the server does not know would otherwise match nothing, or fail
// without saying what would work. An empty value does not filter.
func checkChoice(flag, value, what string, valid []string) error {
	if value == "" || slices.Contains(valid, value) {
		return nil
	}
	return fmt.Errorf("%s %q is not %s; use one of %s", flag, value, what, strings.Join(valid, ", "))
}

// walletCodes returns the codes of the Scan to Link wallets.
func walletCodes() []string {
	var codes []string
	for _, w := range antom.Wallets() {
		codes = append(codes, w.Code)
	}
	return codes
}

func chargeStatuses() []string {
	var s []string
	for _, st := range autodebit.ChargeStatuses() {
		s = append(s, string(st))
	}
	return s
}

func tokenStatuses() []string {
	var s []string
	for _, st := range autodebit.TokenStatuses() {
		s = append(s, string(st))
	}
	return s
}

// oneArg accepts exactly one argument and names it when it is missing, as
// "refund: missing CHARGE_ID", with the command's usage.
func oneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s: missing %s (usage: autodebit %s)", cmd.Name(), name, cmd.Use)
		case len(args) > 1:
			return fmt.Errorf("%s: one %s expected, got %d arguments: %s", cmd.Name(), name, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// parseAmount reads an amount in major units ("15.00", "15") of currency and
// returns it in minor units as the API wants it.
func parseAmount(s, currency string) (adhttp.Amount, error) {
	currency = strings.ToUpper(strings.TrimSpace(currency))
	if currency == "" {
		return adhttp.Amount{}, errors.New("--currency is required, e.g. --currency PHP")
	}
	exp, ok := antom.CurrencyExponent(currency)
	if !ok {
		return adhttp.Amount{}, fmt.Errorf("--currency %q is not a supported ISO 4217 currency code", currency)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return adhttp.Amount{}, errors.New("--amount is required, in major units, e.g. --amount 15.00")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	digits := func(x string) bool {
		for _, c := range x {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if whole == "" || !digits(whole) || !digits(frac) || (hasDot && frac == "") {
		return adhttp.Amount{}, fmt.Errorf("--amount %q is not an amount in major units such as 15.00", s)
	}
	if len(frac) > exp {
		if exp == 0 {
			return adhttp.Amount{}, fmt.Errorf("--amount %q: %s has no minor units; give a whole number", s, currency)
		}
		return adhttp.Amount{}, fmt.Errorf("--amount %q has more decimals than %s allows (%d)", s, currency, exp)
	}
	minor := strings.TrimLeft(whole+frac+strings.Repeat("0", exp-len(frac)), "0")
	if minor == "" {
		return adhttp.Amount{}, fmt.Errorf("--amount %q must be more than zero", s)
	}
	if len(minor) > 18 {
		return adhttp.Amount{}, fmt.Errorf("--amount %q is too large", s)
	}
	return adhttp.Amount{Currency: currency, Value: minor}, nil
}

// formatAmount shows an API amount in major units after its currency,
// "PHP 15.00", as logs and the console do (autodebit.Amount.String).
func formatAmount(a adhttp.Amount) string {
	_, known := antom.CurrencyExponent(a.Currency)
	v, err := strconv.ParseInt(a.Value, 10, 64)
	if !known || err != nil {
		return strings.TrimSpace(a.Currency + " " + a.Value + " (minor units)")
	}
	return autodebit.Amount{Currency: a.Currency, Value: v}.String()
}

// newIdempotencyKey returns a random key for one invocation.
func newIdempotencyKey() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "cli_" + hex.EncodeToString(b)
}

// fmtTime shows a time in the viewer's zone, with the zone's offset so
// that output pasted elsewhere or read on a server in UTC is not misread;
// "-" when unset.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 -07:00")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cols ...string) { fmt.Fprintln(t.tw, strings.Join(cols, "\t")) }
func (t *table) flush() error       { return t.tw.Flush() }

// fields writes "Label:  value" lines.
func fields(w io.Writer, kv ...string) error {
	t := newTable(w)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		t.row(kv[i]+":", kv[i+1])
	}
	return t.flush()
}

func printCharge(w io.Writer, c *adhttp.Charge) error {
	result := c.ResultCode
	if c.ResultMessage != "" && c.ResultMessage != c.ResultCode {
		result = strings.TrimSpace(result + " (" + c.ResultMessage + ")")
	}
	refunded := ""
	if c.RefundedAmount.Value != "" && c.RefundedAmount.Value != "0" {
		refunded = formatAmount(c.RefundedAmount)
	}
	subscription := ""
	if c.SubscriptionID != "" && c.Period != nil {
		subscription = fmt.Sprintf("%s, period %d (%s to %s)", c.SubscriptionID, c.Period.Number, fmtTime(c.Period.Start), fmtTime(c.Period.End))
	}
	return fields(w,
		"Charge", c.ID,
		"Status", c.Status,
		"Subscription", subscription,
		"Amount", formatAmount(c.Amount),
		"Refunded", refunded,
		"Result", result,
		"Settled by", c.SettledBy,
		"Token", c.TokenID,
		"Customer", c.CustomerID,
		"Wallet", c.Wallet,
		"Description", c.Description,
		"Payment request", c.PaymentRequestID,
		"Antom payment", c.PaymentID,
		"Created", fmtTime(c.CreatedAt),
		"Settled", fmtTimePtr(c.SettledAt),
		"Next inquiry", fmtTimePtr(c.NextInquiryAt),
	)
}

func printToken(w io.Writer, t *adhttp.Token) error {
	status := t.Status
	if t.RevokePending {
		status += " (revoke pending)"
	}
	return fields(w,
		"Token", t.ID,
		"Status", status,
		"Customer", t.CustomerID,
		"Wallet", t.Wallet,
		"Login", t.UserLoginID,
		"Expires", fmtTimePtr(t.AccessTokenExpiresAt),
		"Revoked", fmtTimePtr(t.RevokedAt),
		"Revoked by", t.RevokedBy,
		"Revoke reason", t.RevokeReason,
		"Authorization", t.AuthorizationID,
		"Created", fmtTime(t.CreatedAt),
	)
}

func printRefund(w io.Writer, r *adhttp.Refund) error {
	result := r.ResultCode
	if r.ResultMessage != "" && r.ResultMessage != r.ResultCode {
		result = strings.TrimSpace(result + " (" + r.ResultMessage + ")")
	}
	return fields(w,
		"Refund", r.ID,
		"Status", r.Status,
		"Amount", formatAmount(r.Amount),
		"Charge", r.ChargeID,
		"Reason", r.Reason,
		"Result", result,
		"Refund request", r.RefundRequestID,
		"Created", fmtTime(r.CreatedAt),
		"Settled", fmtTimePtr(r.SettledAt),
	)
}

func printAuthorization(w io.Writer, a *adhttp.Authorization) error {
	qr := ""
	if a.QR != nil {
		qr = a.QR.Text
	}
	failure := a.FailureCode
	if a.FailureMessage != "" {
		failure = strings.TrimSpace(failure + " (" + a.FailureMessage + ")")
	}
	return fields(w,
		"Authorization", a.ID,
		"Status", a.Status,
		"Customer", a.CustomerID,
		"Wallet", a.Wallet,
		"Token", a.TokenID,
		"Failure", failure,
		"QR URL", qr,
		"Expires", fmtTime(a.ExpiresAt),
		"Created", fmtTime(a.CreatedAt),
	)
}
