package engine_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// Times from Antom are ISO 8601, and +0800 is as valid as +08:00: a
// notification whose body times (and request-time) are written that way is
// accepted and applied.
func TestNotification_ISO8601TimesWithoutColon(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeInit {
			t.Fatalf("charge %s, want INIT", c.Status)
		}
		at := s.sim.Now().Format("2006-01-02T15:04:05-0700")
		body := `{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},` +
			`"paymentRequestId":"` + c.PaymentRequestID + `","paymentId":"` + c.PaymentID + `","paymentAmount":{"currency":"PHP","value":"1500"},` +
			`"paymentCreateTime":"` + at + `","paymentTime":"` + s.sim.Now().Format("2006-01-02T15:04:05.000-07") + `"}`
		if status, reply := postNotification(t, s, "/antom/notify/payment", at, body); status != http.StatusOK || !antom.IsAck(reply) {
			t.Fatalf("HTTP %d %s, want the ack", status, reply)
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess {
			t.Fatalf("charge %s after a SUCCESS notification with +0800 times, want SUCCESS", got.Status)
		}
	})
}

// Antom's answers with +0800 times are read too: linking (applyToken's
// expiry times) and a pay S through a gateway that writes every time without
// the colon end with an ACTIVE token and a SUCCESS charge, not an unknown
// result left to the inquiry.
func TestPay_ISO8601TimesWithoutColon(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		var simURL string
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rewriteTimes(t, w, r, simURL)
		}))
		t.Cleanup(gw.Close)
		s := newStack(t, open, stackOptions{engine: func(c *engine.Config) {
			client, err := antom.NewClient(antom.Config{
				BaseURL: gw.URL, ClientID: c.Antom.ClientID(), PrivateKey: merchantKey, AntomPublicKey: &antomKey.PublicKey,
				Timeout: 5 * time.Second, NowFunc: c.NowFunc, ObserveFunc: engine.Observe,
			})
			if err != nil {
				t.Fatal(err)
			}
			c.Antom = client
		}})
		simURL = s.simSrv.URL
		tok := s.link("cus_1", "GCASH")
		if tok.AccessTokenExpiresAt.IsZero() {
			t.Fatalf("token %+v has no expiry", tok)
		}
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeSuccess || c.PaymentID == "" {
			t.Fatalf("charge %s (code %s), want SUCCESS from pay's answer", c.Status, c.ResultCode)
		}
	})
}

// rewriteTimes forwards a request to the simulator and answers with its
// response, every "+08:00" time written "+0800", signed again with Antom's key.
func rewriteTimes(t *testing.T, w http.ResponseWriter, r *http.Request, simURL string) {
	body, _ := io.ReadAll(r.Body)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, simURL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	out = bytes.ReplaceAll(out, []byte(`+08:00"`), []byte(`+0800"`))
	clientID, respTime := resp.Header.Get("Client-Id"), resp.Header.Get("Response-Time")
	sig, err := antom.Sign(antomKey, http.MethodPost, r.URL.RequestURI(), clientID, respTime, out)
	if err != nil {
		t.Error(err)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Signature", antom.SignatureHeader(antom.DefaultKeyVersion, sig))
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

// A correctly signed notification whose request-time is two days old, a
// year ahead, or unreadable is refused with a 4xx by the default window and
// changes nothing; the same notification sent now is applied.
func TestNotifications_Freshness(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		body := `{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentRequestId":"` + c.PaymentRequestID + `","paymentId":"` + c.PaymentID + `","paymentAmount":{"currency":"PHP","value":"1500"}}`
		before, err := s.store.FindTimeline(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		now := s.sim.Now()
		for name, reqTime := range map[string]string{
			"48h old":        now.Add(-48 * time.Hour).Format(time.RFC3339),
			"27h old":        strconv.FormatInt(now.Add(-27*time.Hour).UnixMilli(), 10),
			"a year ahead":   now.AddDate(1, 0, 0).Format(time.RFC3339),
			"10m ahead":      now.Add(10 * time.Minute).Format("2006-01-02T15:04:05-0700"),
			"unreadable":     "yesterday",
			"no UTC offset":  now.Format("2006-01-02T15:04:05"),
			"epoch zero":     "0",
			"epoch overflow": "99999999999999999999",
		} {
			status, reply := postNotification(t, s, "/antom/notify/payment", reqTime, body)
			if status < 400 || status >= 500 || antom.IsAck(reply) {
				t.Errorf("%s (%s): HTTP %d %s, want a 4xx", name, reqTime, status, reply)
			}
			if !strings.Contains(string(reply), "request-time") {
				t.Errorf("%s: reply %s does not name the request-time", name, reply)
			}
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeInit {
			t.Fatalf("charge changed to %s by a stale notification", got.Status)
		}
		if after, _ := s.store.FindTimeline(ctx, c.ID); len(after) != len(before) {
			t.Fatalf("stale notifications left %d events, want none", len(after)-len(before))
		}
		// A resend that kept the first request-time of a schedule begun a day
		// ago (24h22m: the last resend) is still genuine.
		status, reply := postNotification(t, s, "/antom/notify/payment", now.Add(-(24*time.Hour + 22*time.Minute)).Format(time.RFC3339), body)
		if status != http.StatusOK || !antom.IsAck(reply) {
			t.Fatalf("last resend: HTTP %d %s, want the ack", status, reply)
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess {
			t.Fatalf("charge %s, want SUCCESS", got.Status)
		}
	})
}

// postNotification sends body to path signed with Antom's key and the given
// request-time, and returns the status and reply.
func postNotification(t *testing.T, s *stack, path, reqTime, body string) (int, []byte) {
	t.Helper()
	req, err := antom.NewNotificationRequest(context.Background(), s.srv.URL+path, s.sim.ClientID(), reqTime, antomKey, "1", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, reply
}
