package antom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// exampleKey is the shared test vector's key. For brevity the examples use
// it both as the merchant key and as "Antom's" key; in production they are
// two different pairs.
func exampleKey() (privateBase64, publicBase64 string) {
	var v struct {
		Priv string `json:"testPrivateKeyPkcs8Base64"`
		Pub  string `json:"testPublicKeyX509Base64"`
	}
	b, err := os.ReadFile("testdata/signature-test-vector.json")
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		log.Fatal(err)
	}
	return v.Priv, v.Pub
}

// exampleAntom stands in for Antom: it answers every call with the result
// that next returns, signed as Antom signs.
func exampleAntom(clientID string, next func() string) *httptest.Server {
	priv, _ := exampleKey()
	key, err := antom.ParsePrivateKey("Antom private key", priv)
	if err != nil {
		log.Fatal(err)
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := []byte(next())
		now := time.Now().Format(time.RFC3339)
		sig, _ := antom.Sign(key, r.Method, r.URL.RequestURI(), clientID, now, body)
		w.Header().Set("Client-Id", clientID)
		w.Header().Set("Response-Time", now)
		w.Header().Set("Signature", antom.SignatureHeader("1", sig))
		w.Write(body)
	}))
}

const paidBody = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentRequestId":"pay_42","paymentId":"2019112719074101000700000088"}`

// Create a client, charge an access token, and branch on the outcome class.
func Example() {
	srv := exampleAntom("SANDBOX_5YTEST00000000000", func() string { return paidBody })
	defer srv.Close()

	// Keys come as Antom's dashboard shows them: one-line base64.
	merchantPriv, antomPub := exampleKey()
	priv, err := antom.ParsePrivateKey("merchant private key", merchantPriv)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := antom.ParsePublicKey("Antom public key", antomPub)
	if err != nil {
		log.Fatal(err)
	}
	client, err := antom.NewClient(antom.Config{
		BaseURL:        srv.URL, // antom.URLAsia in production
		ClientID:       "SANDBOX_5YTEST00000000000",
		PrivateKey:     priv,
		AntomPublicKey: pub,
	})
	if err != nil {
		log.Fatal(err)
	}

	resp, err := client.Pay(context.Background(), &antom.PayRequest{
		ProductCode:      antom.ProductCodeAgreementPay,
		PaymentRequestID: "pay_42",                                   // idempotency key: reuse it on every resend
		PaymentAmount:    antom.Amount{Currency: "PHP", Value: 1500}, // PHP 15.00
		PaymentMethod:    antom.PaymentMethod{PaymentMethodType: "GCASH", PaymentMethodID: "<accessToken>"},
		Order: antom.Order{
			ReferenceOrderID: "order_42",
			OrderDescription: "Monthly plan",
			OrderAmount:      antom.Amount{Currency: "PHP", Value: 1500},
		},
		Env: &antom.Env{TerminalType: antom.TerminalTypeWeb},
	})
	var ve *antom.ValidationError
	switch {
	case errors.As(err, &ve):
		fmt.Println("fix the request:", ve.Field, ve.Reason)
	case errors.Is(err, antom.ErrNotSent):
		fmt.Println("never reached Antom; safe to send again or give up")
	case errors.Is(err, antom.ErrMaybeSent):
		fmt.Println("may have reached Antom; resend the same request or inquire")
	case resp.Result.Succeeded():
		fmt.Println("debited:", resp.PaymentID)
	case resp.Result.Failed():
		fmt.Println("declined:", resp.Result.ResultCode)
	default: // U
		fmt.Println("unknown:", resp.Result.ResultCode)
	}
	// Output: debited: 2019112719074101000700000088
}

// Resend the same request on no answer or U until a final result.
func ExampleRetry() {
	var calls atomic.Int32
	srv := exampleAntom("SANDBOX_5YTEST00000000000", func() string {
		if calls.Add(1) < 3 {
			return `{"result":{"resultCode":"UNKNOWN_EXCEPTION","resultStatus":"U","resultMessage":"try again"}}`
		}
		return paidBody
	})
	defer srv.Close()
	client := exampleClient(srv.URL)

	req := &antom.InquiryPaymentRequest{PaymentRequestID: "pay_42"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := antom.Retry(ctx, antom.Backoff{Initial: 10 * time.Millisecond, MaxAttempts: 5},
		func(ctx context.Context) (*antom.InquiryPaymentResponse, error) {
			return client.InquiryPayment(ctx, req) // the same request every time
		})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Result, "after", calls.Load(), "calls")
	// Output: S/SUCCESS after 3 calls
}

// Verify a notification in an HTTP handler and acknowledge it.
func ExampleNotificationVerifier() {
	_, antomPub := exampleKey()
	pub, err := antom.ParsePublicKey("Antom public key", antomPub)
	if err != nil {
		log.Fatal(err)
	}
	// The default freshness window (26h old, 5m ahead) covers Antom's
	// whole resend schedule; set MaxAge or MaxSkew only to change it.
	v := &antom.NotificationVerifier{
		ClientID:       "SANDBOX_5YTEST00000000000",
		AntomPublicKey: pub,
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := v.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest) // Antom will resend
			return
		}
		switch n.Kind {
		case antom.KindPayment:
			fmt.Println("payment", n.Payment.PaymentRequestID, n.Payment.Result)
		case antom.KindRefund:
			fmt.Println("refund", n.Refund.RefundRequestID, n.Refund.RefundStatus)
		case antom.KindAuthorization:
			fmt.Println("authorization", n.Authorization.AuthorizationNotifyType)
		}
		// Store the effect durably first, then acknowledge.
		antom.WriteAck(w)
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	// What Antom sends (simulators use the same function).
	priv, _ := exampleKey()
	antomKey, _ := antom.ParsePrivateKey("Antom private key", priv)
	body := []byte(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S"},"paymentRequestId":"pay_42","paymentId":"2019112719074101000700000088","paymentAmount":{"currency":"PHP","value":"1500"}}`)
	now := fmt.Sprint(time.Now().UnixMilli())
	req, _ := antom.NewNotificationRequest(context.Background(), srv.URL+"/antom/notify", "SANDBOX_5YTEST00000000000", now, antomKey, "1", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	reply := make([]byte, 512)
	n, _ := resp.Body.Read(reply)
	fmt.Println("acknowledged:", antom.IsAck(reply[:n]))
	// Output:
	// payment pay_42 S/SUCCESS
	// acknowledged: true
}

// A bad key says which key and what is wrong.
func ExampleParsePrivateKey() {
	_, err := antom.ParsePrivateKey("merchant private key", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArg+d0ObQqrLZuhv/IwSuEGR1EPTDN+rISd7xywTaPaD2w9Ba988ZhFRNFyFIEut+rkQ8NyU1gfNHYSLF2ZnK0xjR/YO4Y422bNem03V3ML5eILMW/rofdBP2OelsSxfcnSNWQ9jTjfpOXG6pojjJbUCavdDUDkTgNhd55fCDPgb+3LDAiJRWwh6i/CpS57res9Q/MKXG7g6pEw5f8Fiu31EV65pL6VBW65aI7m74etNRVu/ju9FBg2XhIMJvWq6ee6G5g0vP8EBkwY/t5n9jq5LBsmQ6BdwIEOYouIha1jjPcp3UbKKsQqWbZp8K69Wwtl2O4fMSUHZIge8WaUAn2wIDAQAB")
	fmt.Println(err)
	// Output: merchant private key: is a public key, want a private key
}

func exampleClient(baseURL string) *antom.Client {
	merchantPriv, antomPub := exampleKey()
	priv, _ := antom.ParsePrivateKey("merchant private key", merchantPriv)
	pub, _ := antom.ParsePublicKey("Antom public key", antomPub)
	c, err := antom.NewClient(antom.Config{BaseURL: baseURL, ClientID: "SANDBOX_5YTEST00000000000", PrivateKey: priv, AntomPublicKey: pub})
	if err != nil {
		log.Fatal(err)
	}
	return c
}
