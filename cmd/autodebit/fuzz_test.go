package main

import (
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antom"
)

// FuzzParseAmount feeds arbitrary text to the CLI's major-unit amount
// parser: it must never panic, and an accepted amount must be a valid
// string of minor units in the given currency.
func FuzzParseAmount(f *testing.F) {
	for _, s := range [][2]string{{"15.00", "PHP"}, {"15", "JPY"}, {"0.5", "USD"}, {"1.234", "KWD"}, {"-1", "PHP"}, {"1e3", "PHP"}, {"99999999999999999999", "PHP"}, {" 1.", "php"}, {"", "XXX"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, currency string) {
		a, err := parseAmount(s, currency)
		if err != nil {
			return
		}
		if a.Currency != strings.ToUpper(strings.TrimSpace(currency)) {
			t.Fatalf("parseAmount(%q, %q) currency %q", s, currency, a.Currency)
		}
		if v, err := antom.ParseMinorUnits(a.Value); err != nil || v < 0 {
			t.Fatalf("parseAmount(%q, %q) = %q, not minor units: %v", s, currency, a.Value, err)
		}
	})
}
