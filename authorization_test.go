package autodebit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func TestCheckVisible(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string // code point in the error; empty for no error
	}{
		{"cust_1", ""},
		{"Juan dela Cruz", ""},
		{"顧客-42", ""},
		{"cust\u200B1", "U+200B"}, // zero-width space
		{"cust\u200D1", "U+200D"}, // zero-width joiner
		{"cust\u202Egpj.exe", "U+202E"},
		{"\u2066cust\u2069", "U+2066"},
		{"cust\u200E", "U+200E"},
		{"\uFEFFcust", "U+FEFF"},
		{"cu\u00ADst", "U+00AD"}, // soft hyphen
		{"cust\u061C", "U+061C"},
		{"cust\u2060", "U+2060"},      // word joiner
		{"cust\U000E0041", "U+E0041"}, // tag character
	} {
		err := autodebit.CheckVisible("Customer ID", tc.s)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckVisible(%q) = %v, want nil", tc.s, err)
			}
			continue
		}
		if autodebit.ErrorCode(err) != autodebit.EINVALID || !strings.Contains(err.Error(), "Customer ID must not contain invisible or direction-changing characters ("+tc.want+")") {
			t.Errorf("CheckVisible(%q) = %v, want EINVALID naming Customer ID and %s", tc.s, err, tc.want)
		}
	}
}

func TestAuthorization_Validate_CustomerID(t *testing.T) {
	newAuth := func(customerID string) *autodebit.Authorization {
		return &autodebit.Authorization{CustomerID: customerID, Wallet: "GCASH", Status: autodebit.AuthorizationPending,
			AuthState: "state_1", ExpiresAt: time.Now()}
	}
	if err := newAuth("cust_1").Validate(); err != nil {
		t.Fatal(err)
	}
	err := newAuth("cust\u202E1").Validate()
	if autodebit.ErrorCode(err) != autodebit.EINVALID || !strings.Contains(err.Error(), "U+202E") {
		t.Errorf("new authorization with U+202E: err = %v, want EINVALID naming U+202E", err)
	}
	// A row stored before the rule keeps validating, so its lifecycle can
	// finish.
	old := newAuth("cust\u200B1")
	old.Version = 3
	if err := old.Validate(); err != nil {
		t.Errorf("stored authorization with U+200B: %v", err)
	}
}

func TestIsPrintable(t *testing.T) {
	for s, want := range map[string]bool{
		"Monthly plan":           true,
		"family 👨\u200D👩\u200D👧": true, // ZWJ inside an emoji is fine in free text
		"a\u0007b":               false,
		"a\x00b":                 false,
		"\xff":                   false,
		"refund \u202Edegnahc":   false, // bidi override
		"a\u2067b\u2069":         false,
		"a\u200Fb":               false,
		"a\u061Cb":               false,
	} {
		if got := autodebit.IsPrintable(s); got != want {
			t.Errorf("IsPrintable(%q) = %v, want %v", s, got, want)
		}
	}
}
