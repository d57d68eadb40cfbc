package http

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
)

// FuzzDecodeRequestBodies feeds arbitrary bytes to the decoding of every
// REST request body that takes outside input (createAuthorization,
// createCharge, createRefund, and the amount inside them). Decoding must
// never panic, and every refusal must be an EINVALID domain error whose
// message is safe to show.
func FuzzDecodeRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"customerId":"cus_1","wallet":"GCASH"}`,
		`{"tokenId":"tok_1","amount":{"currency":"PHP","value":"1500"},"description":"x"}`,
		`{"amount":{"currency":"PHP","value":"500"},"reason":"r"}`,
		`{"amount":{"currency":"PHP","value":1500}}`,
		`{"amount":{"currency":1,"value":"-1"}}`,
		`{"amount":null}`, `{"amount":[]}`, `{"tokenId":"a","extra":1}`, `[]`, `{`, ``, `null`,
		`{"amount":{"currency":"PHP","value":"99999999999999999999"}}`,
	} {
		f.Add([]byte(s))
	}
	check := func(t *testing.T, what string, err error) {
		if err == nil {
			return
		}
		var ae *autodebit.Error
		if !errors.As(err, &ae) || ae.Code != autodebit.EINVALID {
			t.Fatalf("%s: error %T %v, want an EINVALID domain error", what, err, err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var a createAuthorizationRequest
		check(t, "createAuthorization", decodeBody(httptest.NewRequest("POST", "/v1/authorizations", strings.NewReader(string(body))), &a))

		var c createChargeRequest
		if err := decodeBody(httptest.NewRequest("POST", "/v1/charges", strings.NewReader(string(body))), &c); err != nil {
			check(t, "createCharge", err)
		} else if v, err := c.Amount.Domain("amount"); err != nil {
			check(t, "createCharge amount", err)
		} else if v.Value < 0 || v.Currency == "" {
			t.Fatalf("createCharge amount %+v accepted", v)
		}

		var r createRefundRequest
		if err := decodeBody(httptest.NewRequest("POST", "/v1/charges/chg_1/refunds", strings.NewReader(string(body))), &r); err != nil {
			check(t, "createRefund", err)
		} else if _, err := r.Amount.Domain("amount"); err != nil {
			check(t, "createRefund amount", err)
		}
	})
}
