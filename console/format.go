package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// money renders an amount in major units with its currency and thousands
// separators, for reading: "PHP 1,500.00". parseMajor reads it back.
func money(a autodebit.Amount) string {
	cur, s, _ := strings.Cut(antom.FormatAmount(antom.Amount{Currency: a.Currency, Value: a.Value}), " ")
	return cur + " " + groupThousands(s)
}

// groupThousands puts a comma between each group of three digits of the
// whole part of a decimal number: "1234567.50" → "1,234,567.50". A number
// already grouped is returned as is.
func groupThousands(s string) string {
	if strings.Contains(s, ",") {
		return s
	}
	sign, rest := "", s
	if strings.HasPrefix(rest, "-") {
		sign, rest = "-", rest[1:]
	}
	whole, frac, hasDot := strings.Cut(rest, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasDot {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

// ungroupThousands removes the commas of a whole part grouped by threes
// ("1,500" → "1500"), so that an amount copied from a page is accepted; a
// comma anywhere else ("1,50", a decimal comma) is not a grouping, and the
// text is returned unchanged for the caller to refuse.
func ungroupThousands(whole string) string {
	if !strings.Contains(whole, ",") {
		return whole
	}
	groups := strings.Split(whole, ",")
	if len(groups[0]) < 1 || len(groups[0]) > 3 {
		return whole
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return whole
		}
	}
	return strings.Join(groups, "")
}

// majorUnits renders v minor units of currency as a number a form accepts
// back: "15.00".
func majorUnits(currency string, v int64) string {
	_, s, _ := strings.Cut(money(autodebit.Amount{Currency: currency, Value: v}), " ")
	return s
}

// parseMajor reads an amount typed in major units ("15", "15.5", "15.50",
// "1,500.00" with thousands separators as money shows them) and returns it in minor units of currency, or EINVALID with a sentence
// saying what is wrong.
func parseMajor(currency, s string) (int64, error) {
	exp, ok := antom.CurrencyExponent(currency)
	if !ok {
		return 0, autodebit.Errorf(autodebit.EINVALID, "Currency %s is not supported.", currency)
	}
	example := "1500"
	if exp > 0 {
		example = "15." + strings.Repeat("0", exp)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, autodebit.Errorf(autodebit.EINVALID, "Enter an amount in %s, e.g. %s.", currency, example)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	whole = ungroupThousands(whole)
	digits := func(x string) bool {
		for _, c := range x {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if whole == "" || !digits(whole) || !digits(frac) || (hasDot && frac == "") {
		return 0, autodebit.Errorf(autodebit.EINVALID, "%q is not an amount: use digits and at most one dot, e.g. %s.", s, example)
	}
	if len(frac) > exp {
		if exp == 0 {
			return 0, autodebit.Errorf(autodebit.EINVALID, "%s has no minor unit: enter a whole number, e.g. %s.", currency, example)
		}
		return 0, autodebit.Errorf(autodebit.EINVALID, "%s has %d decimal places; %q has %d.", currency, exp, s, len(frac))
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole)+exp > 15 {
		return 0, autodebit.Errorf(autodebit.EINVALID, "%s %s is too large.", currency, s)
	}
	var v int64
	for _, c := range whole + frac + strings.Repeat("0", exp-len(frac)) {
		v = v*10 + int64(c-'0')
	}
	if v <= 0 {
		return 0, autodebit.Errorf(autodebit.EINVALID, "The amount must be more than zero.")
	}
	return v, nil
}

// timeTag renders t as a <time> element in UTC; console.js shows it in the
// viewer's zone.
func timeTag(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
		t.Format(time.RFC3339), template.HTMLEscapeString(t.Format("2006-01-02 15:04:05 UTC"))))
}

// since renders how long from then to now, roughly: "3m 10s", "2h 5m".
func since(now, then time.Time) string {
	if then.IsZero() {
		return "—"
	}
	d := now.Sub(then).Round(time.Second)
	if d < 0 {
		return "in " + duration(-d)
	}
	return duration(d)
}

// relative renders when t is from now: "in 4s" ahead, "3m 10s ago"
// behind.
func relative(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return "in " + duration(d)
	}
	return duration(-d) + " ago"
}

// duration renders a non-negative duration in its two largest units.
func duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// resultNote is the result code worth showing beside a charge's status: a
// failure's code. A CANCELLED charge's SUCCESS is the cancel call's result,
// and beside the status it reads as if the payment had succeeded.
func resultNote(c *autodebit.Charge) string {
	if c.ResultCode == "SUCCESS" {
		return ""
	}
	return c.ResultCode
}

func walletName(code string) string {
	if w, ok := antom.LookupWallet(code); ok {
		return w.Name
	}
	return code
}

// prettyJSON indents a JSON body for reading; other text is returned as is.
func prettyJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

// took renders how long a finished call took, kept in milliseconds: "<1
// ms" for less than one, "2.5 s" from ten seconds on.
func took(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1 ms"
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// lag renders a short duration such as a notification lag: "—" for none,
// milliseconds below a second.
func lag(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return duration(d.Round(time.Second))
}
