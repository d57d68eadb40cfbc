package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// holdAntom returns a stackOptions.antom wrapper that, for the next call to
// the Antom API whose path ends in api, lets the simulator answer and then
// runs *hold before passing the answer on: what happens while a slow call
// is in flight.
func holdAntom(api string, hold *atomic.Pointer[func()]) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/"+api) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if f := hold.Swap(nil); f != nil {
				(*f)()
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
}

// An inquiry started after the close grace is answered late; meanwhile the
// genuine SUCCESS notification settles the charge. The inquiry's PROCESSING
// answer must not lead to a cancel: Antom would refund the buyer in full
// while the engine keeps the charge SUCCESS.
func TestCancel_NotSentAfterNotificationSettledDuringInquiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		var ahead atomic.Int64 // how far the engine's clock is ahead of Antom's
		var hold atomic.Pointer[func()]
		s := newStack(t, open, stackOptions{
			engine: func(c *engine.Config) {
				now := c.NowFunc
				c.NowFunc = func() time.Time { return now().Add(time.Duration(ahead.Load())) }
				c.InquiryDelays = []time.Duration{time.Hour} // no inquiry job falls due by itself
			},
			antom: holdAntom(antom.APIInquiryPayment, &hold),
		})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeProcessing)
		delay := antomsim.Duration(30 * time.Second)
		if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{ProcessingDelay: &delay}); err != nil {
			t.Fatal(err)
		}
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeInit {
			t.Fatalf("charge = %s, want INIT", c.Status)
		}
		// To the engine the order closed long ago; at Antom the payment is
		// still processing. While the inquiry's answer is on its way, the
		// payment succeeds and its notification is applied.
		ahead.Store(int64(2 * time.Minute))
		settle := func() { s.advance(31 * time.Second) }
		hold.Store(&settle)
		if err := s.eng.Work(ctx, engine.InquireChargeArgs{ChargeID: c.ID}); err != nil {
			t.Fatalf("inquiry job: %v", err)
		}
		if hold.Load() != nil {
			t.Fatal("the inquiry was never sent")
		}
		got := s.charge(c.ID)
		if got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByNotification {
			t.Fatalf("charge = %s by %s, want SUCCESS by notification", got.Status, got.SettledBy)
		}
		p, err := s.sim.Payment(c.PaymentRequestID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != antom.PaymentStatusSuccess {
			t.Fatalf("Antom's payment is %s, want SUCCESS: a cancel was sent for a settled charge", p.Status)
		}
		evs, err := s.store.FindTimeline(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == "antom."+antom.APICancel {
				t.Fatalf("cancel sent at %s for a charge already SUCCESS", e.CreatedAt)
			}
		}
		s.checkTruth()
	})
}

// A merchant's cancel that arrives while an inquiry is in flight is sent by
// the cancel flow; the inquiry that returns afterwards does not resend pay or
// settle the charge itself.
func TestCancel_AskedDuringInquiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		var hold atomic.Pointer[func()]
		s := newStack(t, open, stackOptions{
			engine: func(c *engine.Config) { c.InquiryDelays = []time.Duration{time.Hour} },
			antom:  holdAntom(antom.APIInquiryPayment, &hold),
		})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		var cancelled *autodebit.Charge
		cancel := func() {
			var err error
			if cancelled, err = s.eng.CancelCharge(ctx, c.ID); err != nil {
				t.Errorf("cancel: %v", err)
			}
		}
		hold.Store(&cancel)
		if err := s.eng.Work(ctx, engine.InquireChargeArgs{ChargeID: c.ID}); err != nil {
			t.Fatalf("inquiry job: %v", err)
		}
		if cancelled == nil || cancelled.Status != autodebit.ChargeCancelled {
			t.Fatalf("cancel returned %+v, want CANCELLED", cancelled)
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeCancelled || got.SettledBy != autodebit.SettledByCancel {
			t.Fatalf("charge = %s by %s, want CANCELLED by cancel", got.Status, got.SettledBy)
		}
		s.checkTruth()
	})
}

// Cancelling a final charge names an action that works for its status.
func TestCancel_FinalChargeSaysWhatToDo(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		ok := s.mustCharge(tok.ID, 1500, "PHP")
		refunded := s.mustCharge(tok.ID, 1500, "PHP")
		if _, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: refunded.ID, Amount: refunded.Amount}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{Balance: ptr(int64(100))}); err != nil {
			t.Fatal(err)
		}
		failed := s.mustCharge(tok.ID, 1500, "PHP")
		for _, tc := range []struct {
			c    *autodebit.Charge
			want string
		}{{ok, "refund it instead"}, {refunded, "nothing left to cancel or refund"}, {failed, "nothing to cancel"}} {
			_, err := s.eng.CancelCharge(ctx, tc.c.ID)
			if autodebit.ErrorCode(err) != autodebit.ECONFLICT || !strings.Contains(autodebit.ErrorMessage(err), tc.want) {
				t.Errorf("cancel %s charge: %v, want ECONFLICT saying %q", tc.c.Status, err, tc.want)
			}
		}
	})
}

// atomicFunc holds the function a holdAntom wrapper runs once.
type atomicFunc struct{ p atomic.Pointer[func()] }
