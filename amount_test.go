package autodebit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

func TestAmount_String(t *testing.T) {
	for a, want := range map[autodebit.Amount]string{
		{"PHP", 1500}: "PHP 15.00",
		{"PHP", 5}:    "PHP 0.05",
		{"PHP", 0}:    "PHP 0.00",
		{"KRW", 50}:   "KRW 50",
		{"KWD", 1234}: "KWD 1.234",
		{"PHP", -150}: "PHP -1.50",
	} {
		if got := a.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", a, got, want)
		}
	}
}

// TestCurrencyExponents_MatchAntom checks the root package's copy of the
// currency table against antom's, over every three-letter code, and that
// both packages print amounts the same way.
func TestCurrencyExponents_MatchAntom(t *testing.T) {
	known := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				cur := string([]rune{a, b, c})
				got, gotOK := autodebit.CurrencyExponent(cur)
				want, wantOK := antom.CurrencyExponent(cur)
				if got != want || gotOK != wantOK {
					t.Errorf("CurrencyExponent(%s) = %d, %v; antom has %d, %v", cur, got, gotOK, want, wantOK)
				}
				if gotOK {
					known++
					for _, v := range []int64{1, 1500, 123456789} {
						if s, w := (autodebit.Amount{Currency: cur, Value: v}).String(), antom.FormatAmount(antom.Amount{Currency: cur, Value: v}); s != w {
							t.Errorf("Amount{%s %d}.String() = %q, antom.FormatAmount = %q", cur, v, s, w)
						}
					}
				}
			}
		}
	}
	if known < 30 {
		t.Fatalf("only %d known currencies", known)
	}
}

func TestAmount_Validate(t *testing.T) {
	for _, tt := range []struct {
		a  autodebit.Amount
		ok bool
	}{
		{autodebit.Amount{"PHP", 1}, true},
		{autodebit.Amount{"PHP", 0}, false},
		{autodebit.Amount{"PHP", -5}, false},
		{autodebit.Amount{"php", 5}, false},
		{autodebit.Amount{"PH", 5}, false},
		{autodebit.Amount{}, false},
	} {
		if err := tt.a.Validate(); (err == nil) != tt.ok {
			t.Errorf("%v.Validate()=%v, want ok=%v", tt.a, err, tt.ok)
		} else if err != nil && autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Errorf("%v.Validate() code=%q", tt.a, autodebit.ErrorCode(err))
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
