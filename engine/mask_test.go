package engine_test

import (
	"strings"
	"testing"

	"github.com/autodebit/autodebit/engine"
)

func TestMaskBody(t *testing.T) {
	for _, tc := range []struct{ in, secret string }{
		{`{"accessToken":"28101003ABCDEFGH12345678"}`, "28101003ABCDEFGH12345678"},
		{`{"paymentMethod":{"paymentMethodType":"GCASH","paymentMethodId":"2810100399998888"}}`, "2810100399998888"},
		{`{"refreshToken" : "REFRESH0000111122223333"}`, "REFRESH0000111122223333"},
		{`{"authCode":"3AB2F588D14B43238637264FCA5AAF35","authState":"s"}`, "3AB2F588D14B43238637264FCA5AAF35"},
		{`{"accessToken":"ABCD\"EFGH\\IJKL1234"}`, `ABCD\"EFGH`},
	} {
		got := engine.MaskBody([]byte(tc.in))
		if strings.Contains(got, tc.secret) || !strings.Contains(got, "****") {
			t.Errorf("MaskBody(%s) = %s: secret not masked", tc.in, got)
		}
	}
	if got := engine.MaskBody([]byte(`{"paymentRequestId":"pr_1"}`)); got != `{"paymentRequestId":"pr_1"}` {
		t.Errorf("a body without secrets changed: %s", got)
	}
}
