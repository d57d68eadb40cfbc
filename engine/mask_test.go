package engine_test

import (
	"encoding/json"
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
		// encoding/json matches keys case-insensitively, so the antom
		// client would read each of these as the token.
		{`{"ACCESSTOKEN":"28101003ABCDEFGH12345678"}`, "28101003ABCDEFGH"},
		{`{"accesstoken":"28101003ABCDEFGH12345678"}`, "28101003ABCDEFGH"},
		{`{"RefreshToken":"REFRESH0000111122223333"}`, "REFRESH0000111122"},
		{`{"AUTHCODE":"3AB2F588D14B43238637264FCA5AAF35"}`, "3AB2F588D14B4323"},
		{`{"acc\u0065ssToken":"28101003ABCDEFGH12345678"}`, "28101003ABCDEFGH"},                                     // escaped key
		{`{"\u0061uthCode":"3AB2F588D14B43238637264FCA5AAF35"}`, "3AB2F588D14B4323"},                                // escaped key
		{`{"accessToken":"2810\u00310003ABCDEFGH12345678"}`, "ABCDEFGH1234"},                                        // escaped value
		{`{"authCode":"3AB2F588D14B43238637264FCA5AAF35","authCode":"SECONDCODE0000000000000000"}`, "SECONDCODE00"}, // repeated key
		{`{"result":{"resultStatus":"S"},"items":[{"x":[{"accessToken":"DEEPTOKEN000011112222"}]}]}`, "DEEPTOKEN0000"},
		{`{"accessToken":{"value":"OBJECTTOKEN0000111122223333"}}`, "OBJECTTOKEN"}, // not a string: masked whole
		{`{"accessToken":28101003123456789012}`, "28101003123456789012"},
		{`{"accessTo\u212Aen":"KELVINTOKEN000011112222"}`, "KELVINTOKEN0000"}, // U+212A KELVIN SIGN folds to k
	} {
		got := engine.MaskBody([]byte(tc.in))
		if strings.Contains(got, tc.secret) || !strings.Contains(got, "****") {
			t.Errorf("MaskBody(%s) = %s: secret not masked", tc.in, got)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("MaskBody(%s) = %s: not JSON", tc.in, got)
		}
	}
	for in, want := range map[string]string{
		`{"paymentRequestId":"pr_1"}`: `{"paymentRequestId":"pr_1"}`,
		// Keys keep their order, numbers their digits, HTML characters
		// stay readable; spaces go.
		`{ "z": 1.50, "a": [true, null, 12345678901234567890], "q": "<a&b>" }`: `{"z":1.50,"a":[true,null,12345678901234567890],"q":"<a&b>"}`,
		`{"accessToken":"28101003ABCDEFGH12345678","n":1}`:                     `{"accessToken":"****5678","n":1}`,
		`{"accessToken":{"a":[1,2]},"n":1}`:                                    `{"accessToken":"****","n":1}`,
		``:                                                                     ``,
		// Not JSON: nothing of it is kept.
		`<html>accessToken=28101003ABCDEFGH12345678</html>`:  `[not JSON: 49 bytes, not kept]`,
		`{"accessToken":"28101003ABCDEFGH12345678"`:          `[not JSON: 41 bytes, not kept]`,
		`{"a":1} {"accessToken":"28101003ABCDEFGH12345678"}`: `[not JSON: 50 bytes, not kept]`,
	} {
		if got := engine.MaskBody([]byte(in)); got != want {
			t.Errorf("MaskBody(%s) = %s, want %s", in, got, want)
		}
	}
}
