package antom_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

func FuzzParseSignatureHeader(f *testing.F) {
	for _, v := range loadVectors(f).Vectors {
		f.Add(v.SignatureHeader)
		f.Add(strings.ReplaceAll(v.SignatureHeader, ",", ", "))
		f.Add(strings.TrimPrefix(v.SignatureHeader, "algorithm=RSA256,"))
	}
	f.Add("signature=")
	f.Add("algorithm=RSA512,signature=AA%3D%3D")
	f.Add("keyVersion,signature=%")
	f.Fuzz(func(t *testing.T, h string) {
		p, err := antom.ParseSignatureHeader(h)
		if err != nil {
			if !errors.Is(err, antom.ErrBadSignature) {
				t.Fatalf("error %v does not match ErrBadSignature", err)
			}
			return
		}
		if len(p.Signature) == 0 || (p.Algorithm != "" && p.Algorithm != antom.Algorithm) {
			t.Fatalf("accepted %q as %+v", h, p)
		}
		// Round trip: formatting the parsed signature and parsing it again
		// gives the same bytes.
		again, err := antom.ParseSignatureHeader(antom.SignatureHeader("1", url.QueryEscape(base64.StdEncoding.EncodeToString(p.Signature))))
		if err != nil || !bytes.Equal(again.Signature, p.Signature) {
			t.Fatalf("round trip of %q: %v", h, err)
		}
	})
}

func notifySeeds(f *testing.F) [][]byte {
	names, _ := filepath.Glob("testdata/notify*.json")
	var seeds [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds, tokenCreated, []byte(`{"notifyType":5}`), []byte(`{"authorizationNotifyType":"AUTHCODE_CREATED"}`))
}

func FuzzParseNotification(f *testing.F) {
	for _, s := range notifySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := antom.ParseNotification(body)
		if err != nil {
			var ne *antom.NotificationError
			if !errors.As(err, &ne) || !(errors.Is(err, antom.ErrMalformedBody) || errors.Is(err, antom.ErrUnknownNotify)) {
				t.Fatalf("error %v is not a malformed/unknown *NotificationError", err)
			}
			return
		}
		switch {
		case n.Kind == antom.KindAuthorization && n.Authorization != nil && n.Payment == nil && n.Refund == nil:
		case n.Kind == antom.KindPayment && n.Payment != nil && n.Authorization == nil && n.Refund == nil:
			if n.Payment.PaymentAmount.Currency == "" || n.Payment.PaymentAmount.Value < 0 {
				t.Fatalf("payment notification without a valid amount accepted: %s", body)
			}
		case n.Kind == antom.KindRefund && n.Refund != nil && n.Authorization == nil && n.Payment == nil:
		default:
			t.Fatalf("inconsistent notification %+v", n)
		}
	})
}

// FuzzVerifyNotification fuzzes the verifier path: headers, URI and body of
// a request carrying a genuine signature of the first seed. Only the
// untouched seed may verify.
func FuzzVerifyNotification(f *testing.F) {
	mustKeys(f)
	v := &antom.NotificationVerifier{ClientID: sandboxClientID, AntomPublicKey: &antomKey.PublicKey, NowFunc: func() time.Time { return testNow }}
	seed := readFile(f, "testdata/notifyPayment.success.json")
	sig, err := antom.Sign(antomKey, "POST", "/notify?a=1", sandboxClientID, epochNow, seed)
	if err != nil {
		f.Fatal(err)
	}
	header := antom.SignatureHeader("1", sig)
	f.Add("/notify?a=1", sandboxClientID, epochNow, header, seed)
	f.Add("/notify", sandboxClientID, "2019-11-27T12:00:01+08:00", header, seed)
	f.Add("/notify?a=1", "", epochNow, "", []byte("{}"))
	f.Fuzz(func(t *testing.T, uri, clientID, reqTime, sigHeader string, body []byte) {
		h := http.Header{}
		h.Set("Client-Id", clientID)
		h.Set("Request-Time", reqTime)
		h.Set("Signature", sigHeader)
		n, err := v.VerifyBody(uri, h, body)
		if err != nil {
			var ne *antom.NotificationError
			if !errors.As(err, &ne) {
				t.Fatalf("error %v is not a *NotificationError", err)
			}
			return
		}
		if uri != "/notify?a=1" || h.Get("Client-Id") != sandboxClientID || h.Get("Request-Time") != epochNow || !bytes.Equal(body, seed) || n.Payment == nil {
			t.Fatalf("forged notification verified: %q %q %q %q", uri, clientID, reqTime, body)
		}
	})
}

func FuzzAmountUnmarshal(f *testing.F) {
	for _, s := range []string{`{"currency":"CNY","value":"100"}`, `{"value":"0","currency":"KRW"}`, `{"currency":"IDR","value":"999999999999999999"}`,
		`{"currency":"USD","value":100}`, `{"currency":"USD","value":"-1"}`, `{"currency":null,"value":null}`, `{}`, `null`, `{"currency":"\u00e9","value":"01"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a antom.Amount
		if err := json.Unmarshal(b, &a); err != nil {
			return
		}
		if a.Value < 0 {
			t.Fatalf("negative value from %s", b)
		}
		out := mustMarshal(t, a)
		var w struct{ Currency, Value any }
		if err := json.Unmarshal(out, &w); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.Value.(string); !ok {
			t.Fatalf("value marshalled as %T", w.Value)
		}
		var back antom.Amount
		if err := json.Unmarshal(out, &back); err != nil || back != a {
			t.Fatalf("round trip %s -> %s -> %+v, %v", b, out, back, err)
		}
	})
}

// FuzzParseTime checks that ParseTime never panics, that what it accepts
// survives Time's marshal/unmarshal to the second, and that the request-time
// parser reads ISO 8601 the same way.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2019-11-27T12:01:01+08:00", "2019-11-27T12:01:01+0800", "2019-11-27T12:01:01+08",
		"2019-11-27T12:01:01Z", "2019-11-27T12:01:01.125-05:30", "2019-11-27T12:01:01,5+08:00", "2019-11-27T12:01:01",
		"2019-02-29T00:00:00Z", "2019-11-27T12:01:01+19:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := antom.ParseTime(s)
		if err != nil {
			if !strings.Contains(err.Error(), "want ISO 8601") {
				t.Fatalf("error %q does not say what is wanted", err)
			}
			return
		}
		b := mustMarshal(t, antom.NewTime(got))
		var back antom.Time
		if err := json.Unmarshal(b, &back); err != nil || back.Unix() != got.Unix() {
			t.Fatalf("%q -> %v -> %s -> %v, %v", s, got, b, back.Time, err)
		}
		if rt, err := antom.ParseRequestTime(s); err != nil || !rt.Equal(got) {
			t.Fatalf("ParseRequestTime(%q)=%v,%v, ParseTime gave %v", s, rt, err, got)
		}
	})
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func FuzzParsePrivateKey(f *testing.F) {
	vf := loadVectors(f)
	f.Add(vf.PrivateKey)
	f.Add(vf.PublicKey)
	f.Add(vf.PrivateKey[:200])
	der, _ := base64.StdEncoding.DecodeString(vf.PrivateKey)
	f.Add(pemOf("PRIVATE KEY", der))
	f.Add("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := antom.ParsePrivateKey("fuzz key", s)
		if err != nil {
			var ke *antom.KeyError
			if !errors.As(err, &ke) || ke.Which != "fuzz key" {
				t.Fatalf("error %v is not a *KeyError naming the key", err)
			}
			return
		}
		if k.N.BitLen() < antom.MinKeyBits {
			t.Fatalf("accepted a %d-bit key", k.N.BitLen())
		}
		enc, err := antom.EncodePrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := antom.ParsePrivateKey("again", enc)
		if err != nil || !back.Equal(k) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	vf := loadVectors(f)
	f.Add(vf.PublicKey)
	f.Add(vf.PrivateKey)
	der, _ := base64.StdEncoding.DecodeString(vf.PublicKey)
	f.Add(pemOf("PUBLIC KEY", der))
	f.Add(base64.StdEncoding.EncodeToString(der[:len(der)-1]))
	f.Add(pemOf("RSA PUBLIC KEY", der))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := antom.ParsePublicKey("fuzz key", s)
		if err != nil {
			var ke *antom.KeyError
			if !errors.As(err, &ke) || ke.Which != "fuzz key" {
				t.Fatalf("error %v is not a *KeyError naming the key", err)
			}
			return
		}
		if k.N.BitLen() < antom.MinKeyBits {
			t.Fatalf("accepted a %d-bit key", k.N.BitLen())
		}
		enc, err := antom.EncodePublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := antom.ParsePublicKey("again", enc)
		if err != nil || !back.Equal(k) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
