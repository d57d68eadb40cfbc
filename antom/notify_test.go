package antom_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

const notifyPath = "/antom/notify?merchant=m1&kind=all"

// notifyServer is a merchant endpoint: it verifies each notification with v
// and acknowledges it, or answers 400.
type notifyServer struct {
	srv  *httptest.Server
	got  chan *antom.Notification
	errs chan error
}

func newNotifyServer(t *testing.T, v *antom.NotificationVerifier) *notifyServer {
	t.Helper()
	s := &notifyServer{got: make(chan *antom.Notification, 1), errs: make(chan error, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := v.Verify(r)
		if err != nil {
			s.errs <- err
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.got <- n
		antom.WriteAck(w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// send posts body as Antom would, then lets mod tamper with the request.
func (s *notifyServer) send(t *testing.T, key *rsa.PrivateKey, clientID, reqTime string, body []byte, mod func(*http.Request)) (*antom.Notification, error, []byte) {
	t.Helper()
	req, err := antom.NewNotificationRequest(ctxT(t), s.srv.URL+notifyPath, clientID, reqTime, key, "1", body)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	select {
	case n := <-s.got:
		if resp.StatusCode != 200 {
			t.Fatalf("status=%d", resp.StatusCode)
		}
		return n, nil, reply
	case err := <-s.errs:
		return nil, err, reply
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not run")
		return nil, nil, nil
	}
}

func newVerifier(t *testing.T) *antom.NotificationVerifier {
	mustKeys(t)
	return &antom.NotificationVerifier{ClientID: sandboxClientID, AntomPublicKey: &antomKey.PublicKey, NowFunc: func() time.Time { return testNow }}
}

const epochNow = "1574827201000" // testNow in epoch ms

var tokenCreated = []byte(`{"authorizationNotifyType":"TOKEN_CREATED","accessToken":"281010033AB2F588D14B43238637264FCA5Axxxx","authState":"663A8FA9-D836-48EE-8AA1-1FF682989DC7","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."}}`)

func TestNotificationVerifier_Samples(t *testing.T) {
	s := newNotifyServer(t, newVerifier(t))
	for _, tc := range []struct {
		name  string
		body  []byte
		check func(t *testing.T, n *antom.Notification)
	}{
		{"AUTHCODE_CREATED", readFile(t, "testdata/notifyAuthorization.AUTHCODE_CREATED.json"), func(t *testing.T, n *antom.Notification) {
			a := n.Authorization
			if n.Kind != antom.KindAuthorization || a.AuthorizationNotifyType != antom.AuthCodeCreated || a.AuthCode != "3AB2F588D14B43238637264FCA5AAF35" || a.AuthState != "663A8FA9-D836-48EE-8AA1-1FF682989DC7" {
				t.Fatalf("%+v", a)
			}
		}},
		{"TOKEN_CREATED", tokenCreated, func(t *testing.T, n *antom.Notification) {
			if a := n.Authorization; a.AuthorizationNotifyType != antom.TokenCreated || a.AccessToken == "" {
				t.Fatalf("%+v", a)
			}
		}},
		{"TOKEN_CANCELED", readFile(t, "testdata/notifyAuthorization.TOKEN_CANCELED.json"), func(t *testing.T, n *antom.Notification) {
			if a := n.Authorization; a.AuthorizationNotifyType != antom.TokenCanceled || a.AccessToken != "281010033AB2F588D14B43238637264FCA5Axxxx" || a.Reason == "" {
				t.Fatalf("%+v", a)
			}
		}},
		{"PaymentSuccess", readFile(t, "testdata/notifyPayment.success.json"), func(t *testing.T, n *antom.Notification) {
			p := n.Payment
			if n.Kind != antom.KindPayment || !p.Result.Succeeded() || p.PaymentID != "20181129190741010007000000XXXX" || p.PaymentAmount != (antom.Amount{Currency: "CNY", Value: 100}) || p.PaymentTime.IsZero() {
				t.Fatalf("%+v", p)
			}
		}},
		{"PaymentFail", readFile(t, "testdata/notifyPayment.fail.json"), func(t *testing.T, n *antom.Notification) {
			if p := n.Payment; !p.Result.Failed() || p.Result.ResultCode != antom.CodeOrderIsClosed || !p.PaymentTime.IsZero() {
				t.Fatalf("%+v", p)
			}
		}},
		{"Refund", readFile(t, "testdata/notifyRefund.json"), func(t *testing.T, n *antom.Notification) {
			r := n.Refund
			if n.Kind != antom.KindRefund || r.RefundStatus != antom.RefundStatusSuccess || r.RefundAmount != (antom.Amount{Currency: "HKD", Value: 10000}) {
				t.Fatalf("%+v", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err, reply := s.send(t, antomKey, sandboxClientID, epochNow, tc.body, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(reply, antom.AckBody) || !antom.IsAck(reply) {
				t.Fatalf("reply=%s, want the exact ack", reply)
			}
			if n.Path != notifyPath || n.ClientID != sandboxClientID || n.RequestTime != epochNow || !bytes.Equal(n.Body, tc.body) {
				t.Fatalf("notification %+v", n)
			}
			set := 0
			for _, p := range []bool{n.Authorization != nil, n.Payment != nil, n.Refund != nil} {
				if p {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("%d of Authorization/Payment/Refund set, want 1", set)
			}
			tc.check(t, n)
		})
	}
}

func TestNotificationVerifier_Rejects(t *testing.T) {
	pay := readFile(t, "testdata/notifyPayment.success.json")
	del := func(h string) func(*http.Request) { return func(r *http.Request) { r.Header.Del(h) } }
	for _, tc := range []struct {
		name     string
		key      *rsa.PrivateKey // nil: Antom's
		clientID string          // "": ours
		reqTime  string          // "": epochNow
		body     []byte          // nil: pay
		mod      func(*http.Request)
		want     error
	}{
		{name: "NoClientID", mod: del("Client-Id"), want: antom.ErrMissingHeader},
		{name: "NoRequestTime", mod: del("Request-Time"), want: antom.ErrMissingHeader},
		{name: "NoSignature", mod: del("Signature"), want: antom.ErrMissingSignature},
		{name: "WrongKey", key: otherKey, want: antom.ErrBadSignature},
		{name: "GarbledSignature", mod: func(r *http.Request) { r.Header.Set("Signature", "algorithm=RSA256,signature=@@") }, want: antom.ErrBadSignature},
		{name: "OtherPath", mod: func(r *http.Request) { r.URL.RawQuery = "merchant=m2&kind=all" }, want: antom.ErrBadSignature},
		{name: "TimeChanged", mod: func(r *http.Request) { r.Header.Set("Request-Time", "1574827201001") }, want: antom.ErrBadSignature},
		{name: "WrongClientID", clientID: "SANDBOX_SOMEONE_ELSE", want: antom.ErrWrongClientID},
		{name: "MalformedJSON", body: []byte(`{"notifyType":"PAYMENT_RESULT",`), want: antom.ErrMalformedBody},
		{name: "NotAnObject", body: []byte(`"hello"`), want: antom.ErrMalformedBody},
		{name: "TrailingData", body: append(append([]byte{}, pay...), []byte(` {}`)...), want: antom.ErrMalformedBody},
		{name: "NumericAmount", body: bytes.Replace(pay, []byte(`"value": "100"`), []byte(`"value": 100`), 1), want: antom.ErrMalformedBody},
		{name: "NoPaymentID", body: bytes.Replace(pay, []byte(`"paymentId"`), []byte(`"paymentIdX"`), 1), want: antom.ErrMalformedBody},
		{name: "BadResultStatus", body: bytes.Replace(pay, []byte(`"resultStatus": "S"`), []byte(`"resultStatus": "Q"`), 1), want: antom.ErrMalformedBody},
		{name: "AuthCodeMissing", body: []byte(`{"authorizationNotifyType":"AUTHCODE_CREATED","result":{"resultCode":"SUCCESS","resultStatus":"S"}}`), want: antom.ErrMalformedBody},
		{name: "RefundStatus", body: bytes.Replace(readFile(t, "testdata/notifyRefund.json"), []byte(`"refundStatus": "SUCCESS"`), []byte(`"refundStatus": "MAYBE"`), 1), want: antom.ErrMalformedBody},
		{name: "UnknownNotifyType", body: []byte(`{"notifyType":"DISPUTE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S"}}`), want: antom.ErrUnknownNotify},
		{name: "UnknownAuthorizationType", body: []byte(`{"authorizationNotifyType":"TOKEN_EXPIRED","result":{"resultCode":"SUCCESS","resultStatus":"S"}}`), want: antom.ErrUnknownNotify},
		{name: "NoType", body: []byte(`{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`), want: antom.ErrUnknownNotify},
		{name: "TooLarge", body: append([]byte(`{"notifyType":"PAYMENT_RESULT","x":"`), append(bytes.Repeat([]byte("a"), antom.MaxNotificationBytes), '"', '}')...), want: antom.ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newNotifyServer(t, newVerifier(t))
			key, clientID, reqTime, body := tc.key, tc.clientID, tc.reqTime, tc.body
			if key == nil {
				key = antomKey
			}
			if clientID == "" {
				clientID = sandboxClientID
			}
			if reqTime == "" {
				reqTime = epochNow
			}
			if body == nil {
				body = pay
			}
			_, err, reply := s.send(t, key, clientID, reqTime, body, tc.mod)
			var ne *antom.NotificationError
			if !errors.As(err, &ne) || !errors.Is(err, tc.want) {
				t.Fatalf("err=%v, want a *NotificationError matching %v", err, tc.want)
			}
			if antom.IsAck(reply) {
				t.Fatal("a rejected notification was acknowledged")
			}
		})
	}
}

func TestNotificationVerifier_Freshness(t *testing.T) {
	body := readFile(t, "testdata/notifyRefund.json")
	ms := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).UnixMilli(), 10) }
	iso := func(d time.Duration) string { return testNow.Add(d).Format("2006-01-02T15:04:05.000-07:00") }
	// The whole resend schedule: 2m+10m+10m+1h+2h+6h+15h after the first send.
	lastResend := 24*time.Hour + 22*time.Minute
	for _, tc := range []struct {
		name            string
		maxAge, maxSkew time.Duration // 0: the defaults (26h old, 5m ahead)
		reqTime         string
		ok              bool
	}{
		{name: "EpochNow", reqTime: ms(0), ok: true},
		{name: "EpochRecent", reqTime: ms(-4 * time.Minute), ok: true},
		{name: "LastResendWithFirstTime", reqTime: ms(-lastResend), ok: true},
		{name: "AtMaxAge", reqTime: ms(-antom.DefaultNotificationMaxAge), ok: true},
		{name: "JustPastMaxAge", reqTime: ms(-antom.DefaultNotificationMaxAge - time.Second)},
		{name: "TwoDaysOld", reqTime: ms(-48 * time.Hour)},
		{name: "ClockSkewAhead", reqTime: ms(4 * time.Minute), ok: true},
		{name: "TenMinutesAhead", reqTime: ms(10 * time.Minute)},
		{name: "YearAhead", reqTime: ms(365 * 24 * time.Hour)},
		{name: "ISONow", reqTime: iso(0), ok: true},
		{name: "ISOUTC", reqTime: testNow.UTC().Add(time.Minute).Format(time.RFC3339), ok: true},
		{name: "ISONoColon", reqTime: testNow.Add(time.Minute).Format("2006-01-02T15:04:05-0700"), ok: true},
		{name: "ISOHoursOnly", reqTime: testNow.Add(-time.Hour).Format("2006-01-02T15:04:05-07"), ok: true},
		{name: "ISOTwoDaysOld", reqTime: iso(-48 * time.Hour)},
		{name: "Unparseable", reqTime: "yesterday"},
		{name: "NoOffset", reqTime: testNow.Format("2006-01-02T15:04:05")},
		{name: "EpochZero", reqTime: "0"},
		{name: "ShorterAge", maxAge: 10 * time.Minute, reqTime: ms(-11 * time.Minute)},
		{name: "LongerSkew", maxSkew: time.Hour, reqTime: ms(50 * time.Minute), ok: true},
		{name: "AgeOff", maxAge: -1, reqTime: ms(-365 * 24 * time.Hour), ok: true},
		{name: "AgeOffStillChecksAhead", maxAge: -1, reqTime: ms(10 * time.Minute)},
		{name: "SkewOff", maxSkew: -1, reqTime: ms(365 * 24 * time.Hour), ok: true},
		{name: "SkewOffStillChecksAge", maxSkew: -1, reqTime: ms(-48 * time.Hour)},
		{name: "BothOffStillParses", maxAge: -1, maxSkew: -1, reqTime: "yesterday"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t)
			v.MaxAge, v.MaxSkew = tc.maxAge, tc.maxSkew
			s := newNotifyServer(t, v)
			_, err, reply := s.send(t, antomKey, sandboxClientID, tc.reqTime, body, nil)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && (!errors.Is(err, antom.ErrStaleTimestamp) || antom.IsAck(reply)) {
				t.Fatalf("err=%v reply=%s, want ErrStaleTimestamp and no ack", err, reply)
			}
		})
	}
	// A forged notification with an old time is a bad signature, not stale:
	// time is only judged once the signature holds.
	s := newNotifyServer(t, newVerifier(t))
	_, err, _ := s.send(t, otherKey, sandboxClientID, ms(-48*time.Hour), body, nil)
	if !errors.Is(err, antom.ErrBadSignature) {
		t.Fatalf("err=%v, want ErrBadSignature", err)
	}
}

// The default window is on with no NowFunc too: a notification from 2019 is
// refused by a verifier left at its zero settings.
func TestNotificationVerifier_FreshByDefault(t *testing.T) {
	mustKeys(t)
	v := &antom.NotificationVerifier{ClientID: sandboxClientID, AntomPublicKey: &antomKey.PublicKey}
	body := readFile(t, "testdata/notifyRefund.json")
	for reqTime, ok := range map[string]bool{
		epochNow: false,
		strconv.FormatInt(time.Now().UnixMilli(), 10):                            true,
		time.Now().UTC().Add(-25 * time.Hour).Format("2006-01-02T15:04:05+0000"): true,
	} {
		req, err := antom.NewNotificationRequest(ctxT(t), "https://merchant.example/notify", sandboxClientID, reqTime, antomKey, "1", body)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(req)
		if ok && err != nil || !ok && !errors.Is(err, antom.ErrStaleTimestamp) {
			t.Errorf("request-time %s: err=%v, want ok=%v", reqTime, err, ok)
		}
	}
}

func TestNotificationVerifier_Direct(t *testing.T) {
	v := newVerifier(t)
	body := readFile(t, "testdata/notifyRefund.json")
	// A client-side request (no RequestURI) verifies over its URL's path and query.
	req, err := antom.NewNotificationRequest(context.Background(), "https://merchant.example/antom/notify?x=1", sandboxClientID, epochNow, antomKey, "", body)
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.Verify(req)
	if err != nil {
		t.Fatal(err)
	}
	if n.Path != "/antom/notify?x=1" {
		t.Fatalf("Path=%q", n.Path)
	}
	get := httptest.NewRequest(http.MethodGet, "/antom/notify", nil)
	if _, err := v.Verify(get); !errors.Is(err, antom.ErrMalformedBody) {
		t.Fatalf("GET: err=%v", err)
	}
	nobody := &http.Request{Method: http.MethodPost, URL: req.URL, Header: req.Header}
	if _, err := v.Verify(nobody); err == nil {
		t.Fatal("nil body verified")
	}
	if _, err := (&antom.NotificationVerifier{}).VerifyBody("/", req.Header, body); err == nil || errors.Is(err, antom.ErrBadSignature) {
		t.Fatalf("unconfigured verifier: err=%v, want a configuration error", err)
	}
	if _, err := v.VerifyBody("/", req.Header, make([]byte, antom.MaxNotificationBytes+1)); !errors.Is(err, antom.ErrBodyTooLarge) {
		t.Fatalf("err=%v", err)
	}
	if _, err := antom.NewNotificationRequest(context.Background(), "://bad", "c", "t", antomKey, "1", body); err == nil {
		t.Fatal("bad URL accepted")
	}
}

func TestAck(t *testing.T) {
	rec := httptest.NewRecorder()
	antom.WriteAck(rec)
	if rec.Code != 200 || rec.Body.String() != `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}` || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("ack: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	for body, want := range map[string]bool{
		string(antom.AckBody):                           true,
		string(readFile(t, "testdata/notify.ack.json")): true,
		`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"Success"}}`: false,
		`{"result":{"resultCode":"SUCCESS","resultStatus":"F","resultMessage":"success"}}`: false,
		`{}`: false,
		`ok`: false,
		``:   false,
	} {
		if got := antom.IsAck([]byte(body)); got != want {
			t.Errorf("IsAck(%s)=%v, want %v", body, got, want)
		}
	}
}

func TestParseRequestTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1685599933871":                 1685599933871,
		"2023-06-01T14:12:14.125+08:00": 1685599934125,
		"2019-01-01T01:01:01Z":          1546304461000,
		"2019-01-01T09:01:01+0800":      1546304461000,
		"2019-01-01T09:01:01+08":        1546304461000,
		"2019-01-01T09:01:01,5+08:00":   1546304461500,
	} {
		got, err := antom.ParseRequestTime(in)
		if err != nil || got.UnixMilli() != want {
			t.Errorf("ParseRequestTime(%q)=%v,%v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "99999999999999999999", "2019-01-01", "2019-01-01T09:01:01", "2019-01-01T09:01:01+0800x"} {
		if _, err := antom.ParseRequestTime(in); err == nil {
			t.Errorf("ParseRequestTime(%q) accepted", in)
		}
	}
}

func TestParseNotification_RequiresAmount(t *testing.T) {
	for _, body := range []string{
		`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"0","resultStatus":"F"},"paymentRequestId":"0","paymentId":"0"}`,
		`{"notifyType":"REFUND_RESULT","result":{"resultCode":"0","resultStatus":"S"},"refundId":"r","refundStatus":"SUCCESS"}`,
	} {
		if _, err := antom.ParseNotification([]byte(body)); !errors.Is(err, antom.ErrMalformedBody) {
			t.Errorf("ParseNotification(%s): err=%v, want ErrMalformedBody", body, err)
		}
	}
}
