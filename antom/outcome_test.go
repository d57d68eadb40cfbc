package antom_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

func resultBody(status, code string) []byte {
	return []byte(`{"result":{"resultCode":"` + code + `","resultStatus":"` + status + `","resultMessage":"test"}}`)
}

// TestClient_Outcomes runs every API through every outcome class.
func TestClient_Outcomes(t *testing.T) {
	for _, tc := range apiCalls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, st := range []struct{ status, code string }{
				{antom.StatusSuccess, antom.CodeSuccess},
				{antom.StatusFail, antom.CodeParamIllegal},
				{antom.StatusUnknown, antom.CodeUnknownException},
			} {
				t.Run("Result"+st.status, func(t *testing.T) {
					f := newFakeAntom(t, sandboxClientID)
					f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
						f.writeSigned(w, r, http.StatusOK, resultBody(st.status, st.code), antomKey)
					}
					resp, err := tc.call(ctxT(t), f.client(t), false)
					if err != nil {
						t.Fatalf("err=%v, want a verified %s response", err, st.status)
					}
					if r := resp.GetResult(); r.ResultStatus != st.status || r.ResultCode != st.code {
						t.Fatalf("result=%v, want %s/%s", r, st.status, st.code)
					}
				})
			}

			t.Run("NotSent/DialRefused", func(t *testing.T) {
				mustKeys(t)
				c, err := antom.NewClient(antom.Config{BaseURL: closedURL(t), ClientID: sandboxClientID, PrivateKey: merchantKey,
					AntomPublicKey: &antomKey.PublicKey, NowFunc: func() time.Time { return testNow }})
				if err != nil {
					t.Fatal(err)
				}
				_, err = tc.call(ctxT(t), c, false)
				assertNotSent(t, err)
				var te *antom.TransportError
				if !errors.As(err, &te) || te.MaybeSent || te.API != tc.api {
					t.Fatalf("err=%#v, want a not-sent *TransportError for %s", err, tc.api)
				}
			})
			t.Run("NotSent/ContextCancelled", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				ctx, cancel := context.WithCancel(ctxT(t))
				cancel()
				_, err := tc.call(ctx, f.client(t), false)
				assertNotSent(t, err)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err=%v, want context.Canceled", err)
				}
				if n := f.hits.Load(); n != 0 {
					t.Fatalf("server saw %d requests, want 0", n)
				}
			})
			t.Run("NotSent/Validation", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				_, err := tc.call(ctxT(t), f.client(t), true)
				assertNotSent(t, err)
				var ve *antom.ValidationError
				if !errors.As(err, &ve) || ve.API != tc.api || ve.Field == "" {
					t.Fatalf("err=%v, want a *ValidationError naming a field of %s", err, tc.api)
				}
				if n := f.hits.Load(); n != 0 {
					t.Fatalf("server saw %d requests, want 0", n)
				}
			})

			t.Run("MaybeSent/Hijack", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				f.respond = hijackClose(t)
				_, err := tc.call(ctxT(t), f.client(t), false)
				assertMaybeSent(t, err)
				var te *antom.TransportError
				if !errors.As(err, &te) || !te.MaybeSent {
					t.Fatalf("err=%#v, want a maybe-sent *TransportError", err)
				}
				if n := f.hits.Load(); n != 1 {
					t.Fatalf("server saw %d requests, want 1 (no transparent resend)", n)
				}
			})
			t.Run("MaybeSent/Timeout", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
					select {
					case <-r.Context().Done():
					case <-time.After(30 * time.Second):
					}
				}
				// The timeout covers signing and dialing too: long enough
				// that the request is sent on a busy machine, so that it is
				// the wait for the answer that times out.
				c := f.client(t, func(cfg *antom.Config) { cfg.Timeout = time.Second })
				_, err := tc.call(ctxT(t), c, false)
				assertMaybeSent(t, err)
				var te *antom.TransportError
				if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err=%v, want a *TransportError with context.DeadlineExceeded", err)
				}
			})
			t.Run("MaybeSent/HTTP5xx", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
					http.Error(w, "upstream broke", http.StatusBadGateway)
				}
				_, err := tc.call(ctxT(t), f.client(t), false)
				assertMaybeSent(t, err)
				var re *antom.ResponseError
				if !errors.As(err, &re) || re.StatusCode != http.StatusBadGateway || re.Result != nil {
					t.Fatalf("err=%v, want a *ResponseError with status 502", err)
				}
				if errors.Is(err, antom.ErrBadSignature) {
					t.Fatal("a 502 must not be reported as a bad signature")
				}
			})
			t.Run("MaybeSent/BadSignature", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
					f.writeSigned(w, r, http.StatusOK, resultBody("S", "SUCCESS"), otherKey)
				}
				_, err := tc.call(ctxT(t), f.client(t), false)
				assertMaybeSent(t, err)
				var re *antom.ResponseError
				if !errors.As(err, &re) || !errors.Is(err, antom.ErrBadSignature) || errors.Is(err, antom.ErrMissingSignature) {
					t.Fatalf("err=%v, want a *ResponseError matching ErrBadSignature", err)
				}
			})
			t.Run("MaybeSent/UnsignedError", func(t *testing.T) {
				f := newFakeAntom(t, sandboxClientID)
				f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
					w.Header().Set("Content-Type", "application/json; charset=UTF-8")
					w.Write(resultBody("F", antom.CodeInvalidSignature))
				}
				_, err := tc.call(ctxT(t), f.client(t), false)
				assertMaybeSent(t, err)
				var re *antom.ResponseError
				if !errors.As(err, &re) || re.Result == nil || re.Result.ResultCode != antom.CodeInvalidSignature || re.StatusCode != 200 {
					t.Fatalf("err=%v, want a *ResponseError carrying the INVALID_SIGNATURE result", err)
				}
				if !errors.Is(err, antom.ErrMissingSignature) || errors.Is(err, antom.ErrBadSignature) {
					t.Fatalf("err=%v, want ErrMissingSignature and not ErrBadSignature", err)
				}
				if !strings.Contains(err.Error(), antom.CodeInvalidSignature) {
					t.Fatalf("err=%q does not mention the code", err)
				}
			})
		})
	}
}

func assertNotSent(tb testing.TB, err error) {
	tb.Helper()
	if !errors.Is(err, antom.ErrNotSent) || errors.Is(err, antom.ErrMaybeSent) {
		tb.Fatalf("err=%v, want ErrNotSent only", err)
	}
}

func assertMaybeSent(tb testing.TB, err error) {
	tb.Helper()
	if !errors.Is(err, antom.ErrMaybeSent) || errors.Is(err, antom.ErrNotSent) {
		tb.Fatalf("err=%v, want ErrMaybeSent only", err)
	}
}

// TestClient_ResponseChecks covers the ways a 200 answer can fail to be a
// verified Antom result; each is maybe-sent.
func TestClient_ResponseChecks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(f *fakeAntom) func(w http.ResponseWriter, r *http.Request, api string, body []byte)
		want    error
	}{
		{"NoResponseTime", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				w.Header().Set("Signature", "algorithm=RSA256,keyVersion=1,signature=AAAA")
				w.Write(resultBody("S", "SUCCESS"))
			}
		}, antom.ErrMissingSignature},
		{"WrongClientID", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				f.writeSignedAs(w, r, "SANDBOX_SOMEONE_ELSE", http.StatusOK, resultBody("S", "SUCCESS"), antomKey)
			}
		}, antom.ErrWrongClientID},
		{"SignedForOtherPath", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/ams/api/v1/payments/refund"
				f.writeSigned(w, r2, http.StatusOK, resultBody("S", "SUCCESS"), antomKey)
			}
		}, antom.ErrBadSignature},
		{"NotJSON", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				f.writeSigned(w, r, http.StatusOK, []byte("<html>"), antomKey)
			}
		}, antom.ErrMalformedBody},
		{"BadStatus", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				f.writeSigned(w, r, http.StatusOK, resultBody("X", "SUCCESS"), antomKey)
			}
		}, antom.ErrMalformedBody},
		{"NoCode", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				f.writeSigned(w, r, http.StatusOK, resultBody("S", ""), antomKey)
			}
		}, antom.ErrMalformedBody},
		{"TooLarge", func(f *fakeAntom) func(http.ResponseWriter, *http.Request, string, []byte) {
			return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
				w.Write(make([]byte, antom.MaxResponseBytes+10))
			}
		}, antom.ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAntom(t, sandboxClientID)
			f.respond = tc.respond(f)
			_, err := f.client(t).Revoke(ctxT(t), revokeReq())
			assertMaybeSent(t, err)
			var re *antom.ResponseError
			if !errors.As(err, &re) || !errors.Is(err, tc.want) {
				t.Fatalf("err=%v, want a *ResponseError matching %v", err, tc.want)
			}
		})
	}

	// A response without Client-Id is verified against ours.
	t.Run("NoClientIDHeader", func(t *testing.T) {
		f := newFakeAntom(t, sandboxClientID)
		f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
			w.Header()["Client-Id"] = nil
			f.writeSigned(noClientID{w}, r, http.StatusOK, resultBody("S", "SUCCESS"), antomKey)
		}
		if _, err := f.client(t).Revoke(ctxT(t), revokeReq()); err != nil {
			t.Fatal(err)
		}
	})
}

// noClientID drops the Client-Id header before the status is written.
type noClientID struct{ http.ResponseWriter }

func (w noClientID) WriteHeader(code int) {
	w.Header().Del("Client-Id")
	w.ResponseWriter.WriteHeader(code)
}

// TestClient_ReusedConnectionClosed: the server closes an idle keep-alive
// connection; the next call must still reach it (the transport redials
// because nothing was written) or, if it fails, say so truthfully.
func TestClient_ReusedConnectionClosed(t *testing.T) {
	f := newFakeAntom(t, sandboxClientID)
	c := f.client(t)
	if _, err := c.Revoke(ctxT(t), revokeReq()); err != nil {
		t.Fatal(err)
	}
	f.srv.CloseClientConnections()
	time.Sleep(20 * time.Millisecond)
	// Usually the transport has seen the close and redials. If it had not
	// yet (a busy machine), the POST went onto the dead connection: the
	// error must then say it may have been sent, and a retry must work.
	if _, err := c.Revoke(ctxT(t), revokeReq()); err != nil {
		if !errors.Is(err, antom.ErrMaybeSent) {
			t.Fatalf("second call over a closed idle connection: %v, want success or may have been sent", err)
		}
		t.Logf("the write met the closed connection: %v", err)
		if _, err := c.Revoke(ctxT(t), revokeReq()); err != nil {
			t.Fatalf("a retry after the closed connection: %v", err)
		}
	}
	if n := f.hits.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
}

func TestErrors_Messages(t *testing.T) {
	for _, err := range []error{
		&antom.ValidationError{API: "pay", Field: "paymentRequestId", Reason: "is required"},
		&antom.ValidationError{Field: "x", Reason: "is bad"},
		&antom.TransportError{API: "pay", Op: "read", MaybeSent: true, Err: errors.New("reset")},
		&antom.TransportError{API: "pay", Op: "connect", Err: errors.New("refused")},
		&antom.ResponseError{API: "pay", StatusCode: 200, Result: &antom.Result{ResultCode: "X", ResultStatus: "F"}, Err: antom.ErrMissingSignature},
		&antom.NotificationError{Reason: "r", Err: antom.ErrBadSignature},
		&antom.RetryError{Attempts: 2, Last: errors.New("x")},
	} {
		if err.Error() == "" || !strings.Contains(err.Error(), "antom") {
			t.Errorf("%T message %q", err, err)
		}
	}
	if te := (&antom.TransportError{Err: context.Canceled}); errors.Is(te, antom.ErrBadSignature) {
		t.Fatal("TransportError matches an unrelated sentinel")
	}
}
