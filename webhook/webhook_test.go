package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autodebit/autodebit/webhook"
)

var testNow = time.Unix(1_800_000_000, 0)

const testEvent = `{"id":"evt_42","type":"charge.succeeded","createdAt":"2027-01-15T08:00:00Z","objectId":"chg_7","sequence":3,"data":{"object":{"id":"chg_7","status":"SUCCESS"}}}`

func newSecret(t testing.TB) string {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signed returns the headers of a delivery of body signed with secrets at ts.
func signed(t testing.TB, secrets []string, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	h := http.Header{}
	if err := webhook.SetHeaders(h, secrets, id, ts, body); err != nil {
		t.Fatal(err)
	}
	return h
}

func verifier(secrets ...string) *webhook.Verifier {
	return &webhook.Verifier{Secrets: secrets, NowFunc: func() time.Time { return testNow }}
}

// TestSpecVector signs the Standard Webhooks test vector (kept in testdata
// as the specification's Go library publishes it) and verifies it back.
func TestSpecVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/standard-webhooks-vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var vec struct {
		Secret, ID, Payload, Signature string
		Timestamp                      int64
	}
	if err := json.Unmarshal(raw, &vec); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(vec.Timestamp, 0)
	got, err := webhook.Sign(vec.Secret, vec.ID, ts, []byte(vec.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if got != vec.Signature {
		t.Fatalf("Sign = %s, the specification's vector says %s", got, vec.Signature)
	}
	// The vector's payload is no event, so verification stops at the body:
	// everything before it, the signature included, passed.
	h := http.Header{}
	h.Set(webhook.HeaderID, vec.ID)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(vec.Timestamp, 10))
	h.Set(webhook.HeaderSignature, vec.Signature)
	v := &webhook.Verifier{Secrets: []string{vec.Secret}, NowFunc: func() time.Time { return ts }}
	if _, err := v.VerifyBody(h, []byte(vec.Payload)); !errors.Is(err, webhook.ErrBadBody) {
		t.Fatalf("VerifyBody(vector) = %v, want ErrBadBody (signature accepted, no event id)", err)
	}
}

// TestUpstreamAcceptsOurs checks our signatures with the specification's own
// Go library, an implementation we did not write.
func TestUpstreamAcceptsOurs(t *testing.T) {
	secret, old := newSecret(t), newSecret(t)
	body := []byte(testEvent)
	now := time.Now()
	for _, secrets := range [][]string{{secret}, {secret, old}} {
		h := signed(t, secrets, "evt_42", now, body)
		for _, s := range secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Errorf("upstream Verify with secret %d of %d: %v", 1, len(secrets), err)
			}
		}
	}
	// And upstream refuses what we would refuse.
	h := signed(t, []string{secret}, "evt_42", now, body)
	wh, _ := standardwebhooks.NewWebhook(old)
	if err := wh.Verify(body, h); err == nil {
		t.Error("upstream accepted our signature under another secret")
	}
}

// TestWeAcceptUpstream verifies what the specification's library signs.
func TestWeAcceptUpstream(t *testing.T) {
	secret := newSecret(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(testEvent)
	sig, err := wh.Sign("evt_42", testNow, body)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := webhook.Sign(secret, "evt_42", testNow, body)
	if err != nil {
		t.Fatal(err)
	}
	if sig != ours {
		t.Errorf("upstream signs %s, we sign %s", sig, ours)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "evt_42")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(testNow.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	e, err := verifier(secret).VerifyBody(h, body)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt_42" || e.Type != "charge.succeeded" || e.ObjectID != "chg_7" || e.Sequence != 3 ||
		!e.CreatedAt.Equal(time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)) || string(e.Data.Object) != `{"id":"chg_7","status":"SUCCESS"}` {
		t.Errorf("decoded event = %+v", e)
	}
}

func TestSetHeaders(t *testing.T) {
	a, b := newSecret(t), newSecret(t)
	h := signed(t, []string{a, b}, "evt_42", testNow, []byte(testEvent))
	sa, _ := webhook.Sign(a, "evt_42", testNow, []byte(testEvent))
	sb, _ := webhook.Sign(b, "evt_42", testNow, []byte(testEvent))
	want := map[string]string{
		"Content-Type":          "application/json",
		webhook.HeaderID:        "evt_42",
		webhook.HeaderTimestamp: "1800000000",
		webhook.HeaderSignature: sa + " " + sb,
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if sa == sb {
		t.Error("two secrets gave one signature")
	}
}

func TestSignRefuses(t *testing.T) {
	secret := newSecret(t)
	for _, c := range []struct{ name, secret, id, want string }{
		{"empty id", secret, "", "message ID is empty"},
		{"id with a dot", secret, "evt_1.2", "contains a '.'"},
		{"bad secret", "sk_live_123", "evt_1", "does not start with whsec_"},
	} {
		if _, err := webhook.Sign(c.secret, c.id, testNow, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Sign error = %v, want one saying %q", c.name, err, c.want)
		}
	}
	if _, err := webhook.SignatureHeader(nil, "evt_1", testNow, nil); err == nil {
		t.Error("SignatureHeader with no secret: no error")
	}
	if _, err := webhook.SignatureHeader([]string{secret, "whsec_"}, "evt_1", testNow, nil); err == nil || !strings.Contains(err.Error(), "secret 2 of 2") {
		t.Errorf("SignatureHeader with a bad second secret: %v, want it named", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, b := newSecret(t), newSecret(t)
	if a == b {
		t.Fatal("two secrets are equal")
	}
	enc, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks whsec_", a)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret decodes to %d bytes, %v; want 32", len(raw), err)
	}
	key, err := webhook.ParseSecret(a)
	if err != nil || !bytes.Equal(key, raw) {
		t.Fatalf("ParseSecret = %x, %v; want %x", key, err, raw)
	}
}

func TestParseSecretRefuses(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	for _, c := range []struct{ name, secret, want string }{
		{"empty", "", "does not start with whsec_"},
		{"no prefix", b64(32), "does not start with whsec_"},
		{"other prefix", "whsk_" + b64(32), "does not start with whsec_"},
		{"not base64", "whsec_not*base64!", "not padded standard base64"},
		{"unpadded", "whsec_" + strings.TrimRight(b64(32), "="), "not padded standard base64"},
		{"url alphabet", "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 16))), "not padded standard base64"},
		{"too short", "whsec_" + b64(23), "decodes to 23 bytes"},
		{"too long", "whsec_" + b64(65), "decodes to 65 bytes"},
		{"empty key", "whsec_", "decodes to 0 bytes"},
	} {
		_, err := webhook.ParseSecret(c.secret)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ParseSecret error = %v, want one saying %q", c.name, err, c.want)
			continue
		}
		if len(c.secret) > 8 && strings.Contains(err.Error(), c.secret[6:]) {
			t.Errorf("%s: the error repeats the secret: %v", c.name, err)
		}
	}
	for _, n := range []int{24, 64} {
		if _, err := webhook.ParseSecret("whsec_" + b64(n)); err != nil {
			t.Errorf("a %d-byte secret refused: %v", n, err)
		}
	}
}

// TestVerifyRefuses covers every refusal with the sentinel it must wrap.
func TestVerifyRefuses(t *testing.T) {
	secret, other := newSecret(t), newSecret(t)
	body := []byte(testEvent)
	good := func() http.Header { return signed(t, []string{secret}, "evt_42", testNow, body) }
	sig := good().Get(webhook.HeaderSignature)
	cases := []struct {
		name   string
		header func() http.Header
		body   []byte
		want   error
		says   string
	}{
		{"tampered body", good, []byte(strings.Replace(testEvent, "SUCCESS", "FAILED!", 1)), webhook.ErrBadSignature, "matches the body"},
		{"body with a byte added", good, append([]byte(testEvent), ' '), webhook.ErrBadSignature, ""},
		{"wrong secret", func() http.Header { return signed(t, []string{other}, "evt_42", testNow, body) }, body, webhook.ErrBadSignature, ""},
		{"stale", func() http.Header {
			return signed(t, []string{secret}, "evt_42", testNow.Add(-5*time.Minute-time.Second), body)
		}, body, webhook.ErrStaleTimestamp, "5m1s old"},
		{"future", func() http.Header {
			return signed(t, []string{secret}, "evt_42", testNow.Add(5*time.Minute+time.Second), body)
		}, body, webhook.ErrStaleTimestamp, "ahead of our clock"},
		{"timestamp changed", func() http.Header {
			h := good()
			h.Set(webhook.HeaderTimestamp, strconv.FormatInt(testNow.Unix()+1, 10))
			return h
		}, body, webhook.ErrBadSignature, ""},
		{"id changed", func() http.Header { h := good(); h.Set(webhook.HeaderID, "evt_43"); return h }, body, webhook.ErrBadSignature, ""},
		{"missing id", func() http.Header { h := good(); h.Del(webhook.HeaderID); return h }, body, webhook.ErrMissingHeaders, "webhook-id header is missing"},
		{"missing timestamp", func() http.Header { h := good(); h.Del(webhook.HeaderTimestamp); return h }, body, webhook.ErrMissingHeaders, "webhook-timestamp header is missing"},
		{"missing signature", func() http.Header { h := good(); h.Del(webhook.HeaderSignature); return h }, body, webhook.ErrMissingHeaders, "webhook-signature header is missing"},
		{"no headers", func() http.Header { return http.Header{} }, body, webhook.ErrMissingHeaders, "webhook-id and webhook-timestamp and webhook-signature headers are missing"},
		{"timestamp in ms", func() http.Header { h := good(); h.Set(webhook.HeaderTimestamp, "1800000000000.5"); return h }, body, webhook.ErrBadTimestamp, "not a time in Unix seconds"},
		{"timestamp as a date", func() http.Header { h := good(); h.Set(webhook.HeaderTimestamp, "2027-01-15T08:00:00Z"); return h }, body, webhook.ErrBadTimestamp, ""},
		{"no v1 entry", func() http.Header {
			h := good()
			h.Set(webhook.HeaderSignature, strings.Replace(sig, "v1,", "v2,", 1))
			return h
		}, body, webhook.ErrBadSignature, "has no v1 signature"},
		{"no comma", func() http.Header {
			h := good()
			h.Set(webhook.HeaderSignature, strings.TrimPrefix(sig, "v1,"))
			return h
		}, body, webhook.ErrBadSignature, "no v1 signature"},
		{"signature not base64", func() http.Header { h := good(); h.Set(webhook.HeaderSignature, "v1,@@@@"); return h }, body, webhook.ErrBadSignature, ""},
		{"truncated signature", func() http.Header { h := good(); h.Set(webhook.HeaderSignature, sig[:len(sig)-4]); return h }, body, webhook.ErrBadSignature, ""},
		{"signature joined by comma", func() http.Header { h := good(); h.Set(webhook.HeaderSignature, "v1,AAAA,"+sig); return h }, body, webhook.ErrBadSignature, ""},
		// A forged, stale delivery is called forged, never stale.
		{"stale and forged", func() http.Header {
			h := signed(t, []string{other}, "evt_42", testNow.Add(-time.Hour), body)
			return h
		}, body, webhook.ErrBadSignature, ""},
	}
	for _, c := range cases {
		_, err := verifier(secret).VerifyBody(c.header(), c.body)
		var we *webhook.Error
		if !errors.Is(err, c.want) || !errors.As(err, &we) {
			t.Errorf("%s: error = %v, want a *webhook.Error wrapping %v", c.name, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.says)
		}
		if strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%s: the error shows the secret", c.name)
		}
	}
}

// TestVerifyBody checks the body only after the signature, and then that it
// is the event the headers name.
func TestVerifyBody(t *testing.T) {
	secret := newSecret(t)
	for _, c := range []struct{ name, body, id, says string }{
		{"not JSON", `charge succeeded`, "evt_42", "not an event"},
		{"no id", `{"type":"charge.succeeded"}`, "evt_42", "has no id"},
		{"no type", `{"id":"evt_42"}`, "evt_42", "has no type"},
		{"other id", testEvent, "evt_99", `"evt_42" is not the webhook-id "evt_99"`},
		{"bad createdAt", `{"id":"evt_42","type":"charge.succeeded","createdAt":"yesterday"}`, "evt_42", "not an event"},
	} {
		h := signed(t, []string{secret}, c.id, testNow, []byte(c.body))
		_, err := verifier(secret).VerifyBody(h, []byte(c.body))
		if !errors.Is(err, webhook.ErrBadBody) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error = %v, want ErrBadBody saying %q", c.name, err, c.says)
		}
		// Unsigned, the same body is refused for its signature, unparsed.
		h.Set(webhook.HeaderSignature, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
		if _, err := verifier(secret).VerifyBody(h, []byte(c.body)); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("%s unsigned: error = %v, want ErrBadSignature", c.name, err)
		}
	}
}

func TestTolerance(t *testing.T) {
	secret := newSecret(t)
	body := []byte(testEvent)
	for _, c := range []struct {
		tolerance time.Duration
		offset    time.Duration
		ok        bool
	}{
		{0, 5 * time.Minute, true},
		{0, -5 * time.Minute, true},
		{0, 5*time.Minute + time.Second, false},
		{-time.Second, 5 * time.Minute, true}, // negative means the default, never off
		{-time.Second, time.Hour, false},
		{time.Hour, -time.Hour, true},
		{time.Hour, time.Hour + time.Second, false},
		{10 * time.Second, 11 * time.Second, false},
	} {
		v := verifier(secret)
		v.Tolerance = c.tolerance
		_, err := v.VerifyBody(signed(t, []string{secret}, "evt_42", testNow.Add(-c.offset), body), body)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, webhook.ErrStaleTimestamp)) {
			t.Errorf("tolerance %s, sent %s ago: error = %v, want ok=%v", c.tolerance, c.offset, err, c.ok)
		}
	}
}

// TestRotation: during a rotation the sender signs with both secrets and a
// receiver may hold either or both.
func TestRotation(t *testing.T) {
	oldS, newS := newSecret(t), newSecret(t)
	body := []byte(testEvent)
	both := signed(t, []string{newS, oldS}, "evt_42", testNow, body)
	onlyOld := signed(t, []string{oldS}, "evt_42", testNow, body)
	onlyNew := signed(t, []string{newS}, "evt_42", testNow, body)
	for _, c := range []struct {
		name    string
		secrets []string
		h       http.Header
		ok      bool
	}{
		{"receiver still on the old secret, both sent", []string{oldS}, both, true},
		{"receiver already on the new secret, both sent", []string{newS}, both, true},
		{"receiver holding both, old sent", []string{newS, oldS}, onlyOld, true},
		{"receiver holding both, new sent", []string{newS, oldS}, onlyNew, true},
		{"old secret dropped, old sent", []string{newS}, onlyOld, false},
	} {
		_, err := verifier(c.secrets...).VerifyBody(c.h, body)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, webhook.ErrBadSignature)) {
			t.Errorf("%s: error = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestVerifierConfig(t *testing.T) {
	h := signed(t, []string{newSecret(t)}, "evt_42", testNow, []byte(testEvent))
	for _, c := range []struct {
		secrets []string
		says    string
	}{
		{nil, "has no Secrets"},
		{[]string{newSecret(t), "secret"}, "Verifier.Secrets[1]: webhook: the secret does not start with whsec_"},
	} {
		_, err := verifier(c.secrets...).VerifyBody(h, []byte(testEvent))
		var we *webhook.Error
		if err == nil || errors.As(err, &we) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("secrets %q: error = %v, want a configuration error saying %q", c.secrets, err, c.says)
		}
	}
}

// TestVerifyRequest reads the body from the request and gives it back.
func TestVerifyRequest(t *testing.T) {
	secret := newSecret(t)
	body := []byte(testEvent)
	r := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
	r.Header = signed(t, []string{secret}, "evt_42", testNow, body)
	e, err := verifier(secret).Verify(r)
	if err != nil || e.ID != "evt_42" {
		t.Fatalf("Verify = %+v, %v", e, err)
	}
	again, _ := io.ReadAll(r.Body)
	if !bytes.Equal(again, body) {
		t.Fatalf("body after Verify = %q, want it whole", again)
	}

	// Over the limit: refused, and the body is still whole.
	v := verifier(secret)
	v.MaxBodyBytes = 10
	r = httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
	r.Header = signed(t, []string{secret}, "evt_42", testNow, body)
	if _, err := v.Verify(r); !errors.Is(err, webhook.ErrBodyTooLarge) || !strings.Contains(err.Error(), "over 10 bytes") {
		t.Fatalf("Verify of a body over the limit = %v, want ErrBodyTooLarge", err)
	}
	if again, _ := io.ReadAll(r.Body); !bytes.Equal(again, body) {
		t.Fatalf("body after a refusal = %q, want it whole", again)
	}
	if _, err := v.VerifyBody(r.Header, body); !errors.Is(err, webhook.ErrBodyTooLarge) {
		t.Fatalf("VerifyBody over the limit = %v, want ErrBodyTooLarge", err)
	}

	// No body at all.
	r = httptest.NewRequest(http.MethodPost, "/webhooks", nil)
	r.Header = signed(t, []string{secret}, "evt_42", testNow, nil)
	if _, err := verifier(secret).Verify(r); !errors.Is(err, webhook.ErrBadBody) {
		t.Fatalf("Verify of an empty signed body = %v, want ErrBadBody", err)
	}
}
