package antom_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

var fastBackoff = antom.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1}

// tickingClock advances by one millisecond per call, so every send has a new
// Request-Time.
func tickingClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return testNow.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

// scriptedPay answers pay with the given scripted outcomes in turn ("hijack"
// or a result status/code), then repeats the last.
func scriptedPay(t *testing.T, script ...string) *fakeAntom {
	f := newFakeAntom(t, sandboxClientID)
	var i atomic.Int32
	f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
		n := int(i.Add(1)) - 1
		step := script[min(n, len(script)-1)]
		switch step {
		case "hijack":
			hijackClose(t)(w, r, api, body)
		case "S":
			f.writeSigned(w, r, http.StatusOK, readFile(t, "testdata/pay.response.success.json"), antomKey)
		case "F":
			f.writeSigned(w, r, http.StatusOK, readFile(t, "testdata/pay.response.fail.json"), antomKey)
		case "INPROCESS":
			f.writeSigned(w, r, http.StatusOK, readFile(t, "testdata/pay.response.processing.json"), antomKey)
		case "U":
			f.writeSigned(w, r, http.StatusOK, resultBody("U", antom.CodeUnknownException), antomKey)
		default:
			t.Errorf("bad script step %q", step)
		}
	}
	return f
}

func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   []string
		attempts int // MaxAttempts, 0 = unbounded
		want     int // requests the server sees
		status   string
		maybe    bool // final error is maybe-sent
	}{
		{"SFirst", []string{"S"}, 0, 1, "S", false},
		{"FFirst", []string{"F"}, 0, 1, "F", false},
		{"PaymentInProcessStops", []string{"INPROCESS"}, 0, 1, "U", false},
		{"UThenS", []string{"U", "U", "S"}, 0, 3, "S", false},
		{"NoAnswerThenS", []string{"hijack", "S"}, 0, 2, "S", false},
		{"NoAnswerThenF", []string{"hijack", "hijack", "F"}, 0, 3, "F", false},
		{"MaxAttemptsU", []string{"U"}, 3, 3, "U", false},
		{"MaxAttemptsNoAnswer", []string{"hijack"}, 2, 2, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := scriptedPay(t, tc.script...)
			c := f.client(t, func(cfg *antom.Config) { cfg.NowFunc = tickingClock() })
			b := fastBackoff
			b.MaxAttempts = tc.attempts
			req := payReq()
			req.PaymentExpiryTime = antom.Time{}
			resp, err := antom.Retry(ctxT(t), b, func(ctx context.Context) (*antom.PayResponse, error) {
				return c.Pay(ctx, req)
			})
			if tc.maybe {
				assertMaybeSent(t, err)
			} else if err != nil {
				t.Fatal(err)
			} else if resp.Result.ResultStatus != tc.status {
				t.Fatalf("result=%v, want %s", resp.Result, tc.status)
			}
			reqs := f.requests()
			if len(reqs) != tc.want {
				t.Fatalf("server saw %d requests, want %d", len(reqs), tc.want)
			}
			// Every resend is the same request, re-signed at a new time.
			for i, r := range reqs[1:] {
				if !bytes.Equal(r.Body, reqs[0].Body) {
					t.Fatalf("attempt %d body differs:\n%s\n%s", i+2, r.Body, reqs[0].Body)
				}
				if r.Header.Get("Request-Time") == reqs[i].Header.Get("Request-Time") {
					t.Fatalf("attempt %d reused Request-Time %s", i+2, r.Header.Get("Request-Time"))
				}
				if r.Header.Get("Signature") == reqs[i].Header.Get("Signature") {
					t.Fatalf("attempt %d reused the signature", i+2)
				}
			}
		})
	}
}

func TestRetry_Context(t *testing.T) {
	t.Run("EndsWhileWaitingAfterU", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		calls := 0
		u := &antom.PayResponse{Result: antom.Result{ResultStatus: "U", ResultCode: antom.CodeUnknownException}}
		resp, err := antom.Retry(ctx, antom.Backoff{Initial: time.Millisecond, Jitter: -1}, func(context.Context) (*antom.PayResponse, error) {
			if calls++; calls == 2 {
				cancel()
			}
			return u, nil
		})
		// The last outcome is a verified U: that is what the caller gets.
		if err != nil || resp != u || calls != 2 {
			t.Fatalf("resp=%v err=%v calls=%d, want the last U response, nil, 2 calls", resp, err, calls)
		}
	})
	t.Run("DeadlineOverHTTP", func(t *testing.T) {
		f := scriptedPay(t, "U")
		c := f.client(t, func(cfg *antom.Config) { cfg.NowFunc = tickingClock() })
		ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
		defer cancel()
		req := payReq()
		req.PaymentExpiryTime = antom.Time{}
		start := time.Now()
		resp, err := antom.Retry(ctx, antom.Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, Jitter: -1},
			func(ctx context.Context) (*antom.PayResponse, error) { return c.Pay(ctx, req) })
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Retry took %s after the context ended", d)
		}
		// Either the deadline hit while waiting (last outcome U) or during
		// a send (may have reached Antom); never a bare context error. On a
		// busy machine signing and dialing can use up the 50ms before any
		// request is sent: then, and only then, the truth is "not sent".
		switch {
		case err == nil && !resp.Result.Unknown():
			t.Fatalf("resp=%v, want U", resp)
		case err != nil && errors.Is(err, antom.ErrNotSent) && f.hits.Load() != 0:
			t.Fatalf("err=%v says not sent, but Antom got %d requests", err, f.hits.Load())
		case err != nil && !errors.Is(err, antom.ErrMaybeSent) && !errors.Is(err, antom.ErrNotSent):
			t.Fatalf("resp=%v err=%v, want may have been sent", resp, err)
		}
	})
	t.Run("EndsWhileWaitingAfterNoAnswer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		var calls int
		_, err := antom.Retry(ctx, antom.Backoff{Initial: time.Hour, Jitter: -1}, func(context.Context) (*antom.PayResponse, error) {
			calls++
			cancel()
			return nil, &antom.TransportError{API: "pay", Op: "read", MaybeSent: true, Err: errors.New("reset")}
		})
		assertMaybeSent(t, err)
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("err=%v calls=%d, want context.Canceled after 1 call", err, calls)
		}
	})
	t.Run("CancelledBeforeFirstSend", func(t *testing.T) {
		f := scriptedPay(t, "S")
		c := f.client(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		cancel()
		_, err := antom.Retry(ctx, fastBackoff, func(ctx context.Context) (*antom.PayResponse, error) { return c.Pay(ctx, payReq()) })
		assertNotSent(t, err)
		if f.hits.Load() != 0 {
			t.Fatal("server was called")
		}
	})
}

// TestRetry_EarlierAttemptMaySent: once an attempt may have reached Antom, a
// later attempt that certainly did not must not make the whole retry look
// unsent.
func TestRetry_EarlierAttemptMaybeSent(t *testing.T) {
	maybe := &antom.TransportError{API: "pay", Op: "read", MaybeSent: true, Err: errors.New("reset")}
	notSent := &antom.TransportError{API: "pay", Op: "connect", Err: errors.New("connection refused")}
	invalid := &antom.ValidationError{API: "pay", Field: "paymentExpiryTime", Reason: "is not in the future"}
	u := &antom.PayResponse{Result: antom.Result{ResultStatus: "U", ResultCode: antom.CodeUnknownException}}
	for _, tc := range []struct {
		name  string
		first func() (*antom.PayResponse, error)
		last  error
	}{
		{"MaybeSentThenNotSent", func() (*antom.PayResponse, error) { return nil, maybe }, notSent},
		{"UThenNotSent", func() (*antom.PayResponse, error) { return u, nil }, notSent},
		{"UThenValidation", func() (*antom.PayResponse, error) { return u, nil }, invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			_, err := antom.Retry(ctxT(t), antom.Backoff{Initial: time.Millisecond, Jitter: -1, MaxAttempts: 2}, func(context.Context) (*antom.PayResponse, error) {
				n++
				if n == 1 {
					return tc.first()
				}
				return nil, tc.last
			})
			assertMaybeSent(t, err)
			var re *antom.RetryError
			if !errors.As(err, &re) || re.Attempts != 2 || re.Last != tc.last {
				t.Fatalf("err=%#v, want *RetryError wrapping the last error", err)
			}
			var te *antom.TransportError
			var ve *antom.ValidationError
			if !errors.As(err, &te) && !errors.As(err, &ve) {
				t.Fatalf("errors.As cannot reach the last error in %v", err)
			}
		})
	}
	t.Run("NotSentOnly", func(t *testing.T) {
		_, err := antom.Retry(ctxT(t), antom.Backoff{Initial: time.Millisecond, Jitter: -1, MaxAttempts: 3}, func(context.Context) (*antom.PayResponse, error) {
			return nil, notSent
		})
		assertNotSent(t, err)
		if err != notSent {
			t.Fatalf("err=%v, want the last error unchanged", err)
		}
	})
}

func TestRetryable(t *testing.T) {
	u := func(code string) antom.Response {
		return &antom.PayResponse{Result: antom.Result{ResultStatus: "U", ResultCode: code}}
	}
	for _, tc := range []struct {
		name string
		resp antom.Response
		err  error
		want bool
	}{
		{"U", u(antom.CodeUnknownException), nil, true},
		{"PaymentInProcess", u(antom.CodePaymentInProcess), nil, false},
		{"RefundInProcess", u(antom.CodeRefundInProcess), nil, false},
		{"S", &antom.PayResponse{Result: antom.Result{ResultStatus: "S", ResultCode: "SUCCESS"}}, nil, false},
		{"F", &antom.PayResponse{Result: antom.Result{ResultStatus: "F", ResultCode: "X"}}, nil, false},
		{"Validation", nil, &antom.ValidationError{Field: "x"}, false},
		{"NotSent", nil, &antom.TransportError{Op: "connect"}, true},
		{"MaybeSent", nil, &antom.ResponseError{StatusCode: 502}, true},
		{"Other", nil, errors.New("other"), false},
	} {
		if got := antom.Retryable(tc.resp, tc.err); got != tc.want {
			t.Errorf("%s: Retryable=%v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBackoff_Delay(t *testing.T) {
	b := antom.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 3, Jitter: -1}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 300 * time.Millisecond, 3: 900 * time.Millisecond, 4: time.Second, 50: time.Second} {
		if got := b.Delay(attempt); got != want {
			t.Errorf("Delay(%d)=%s, want %s", attempt, got, want)
		}
	}
	var zero antom.Backoff
	for i := 0; i < 100; i++ {
		if d := zero.Delay(1); d < 160*time.Millisecond || d > 240*time.Millisecond {
			t.Fatalf("zero Backoff Delay(1)=%s, want 200ms±20%%", d)
		}
	}
	if d := (antom.Backoff{Jitter: 5}).Delay(30); d < 0 || d > 10*time.Second {
		t.Fatalf("jitter clamped: Delay=%s", d)
	}
}
