package antomsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/clock"
)

// Every attempt of the resend schedule, the last one a day after the first,
// passes a verifier left at its default freshness window, whatever format
// the simulator writes request-time in: the simulator signs each attempt
// with the time it is sent, in a form the verifier reads.
func TestNotify_ResendsPassDefaultFreshness(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"", "epochms", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07", "2006-01-02T15:04:05.000000Z07:00"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *antomsim.Config) { c.TimeHeaderFormat = format })
			tok := e.link(t, "GCASH", "")
			e.notify.setAnswer(func(*antom.Notification) (int, []byte) { return 500, []byte("down") })
			if _, err := e.client.Pay(context.Background(), payReq("p1", tok.AccessToken, "GCASH", php(100))); err != nil {
				t.Fatal(err)
			}
			e.advance(t, 48*time.Hour)
			n := e.sim.Notifications(antomsim.NotificationFilter{Subject: "p1"})[0]
			e.notify.mu.Lock()
			rejected := e.notify.rejected
			e.notify.mu.Unlock()
			if len(n.Attempts) != 8 || rejected != 0 || len(e.notify.ofType(antom.NotifyTypePaymentResult)) != 8 {
				t.Fatalf("%d attempts, %d refused by the verifier, %d verified; want 8, 0, 8", len(n.Attempts), rejected, len(e.notify.ofType(antom.NotifyTypePaymentResult)))
			}
		})
	}
}

// A simulator on a clock of its own (here a month ahead after an advance)
// stamps each notification, and each answer, with the wall clock at the
// moment it is sent: a merchant on real time accepts them with its default
// freshness window. Stamped on the simulator's clock they would be a month
// in the receiver's future.
func TestNotify_OwnClockStampsWallTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.link(t, "GCASH", "")
	e.advance(t, 30*24*time.Hour)
	e.notify.setAnswer(func(*antom.Notification) (int, []byte) { return 500, []byte("down") })
	before := time.Now()
	if _, err := e.client.Pay(context.Background(), payReq("p1", tok.AccessToken, "GCASH", php(100))); err != nil {
		t.Fatal(err)
	}
	e.settle(t)
	e.advance(t, 2*time.Minute) // the first resend
	after := time.Now()
	got := e.notify.ofType(antom.NotifyTypePaymentResult)
	e.notify.mu.Lock()
	rejected := e.notify.rejected
	e.notify.mu.Unlock()
	if len(got) != 2 || rejected != 0 {
		t.Fatalf("%d notifications verified, %d refused; want 2 and 0", len(got), rejected)
	}
	for _, n := range got {
		sent, err := antom.ParseRequestTime(n.RequestTime)
		if err != nil {
			t.Fatal(err)
		}
		if sent.Before(before.Truncate(time.Millisecond)) || sent.After(after) {
			t.Errorf("request-time %s is not the wall clock at sending (between %s and %s)", n.RequestTime, before, after)
		}
	}
	// What it reports stays on the simulator's clock.
	p := e.sim.Notifications(antomsim.NotificationFilter{Subject: "p1"})[0]
	if p.Attempts[1].SentTime.Sub(t0) < 30*24*time.Hour {
		t.Errorf("the resend's SentTime %s is not on the simulator's clock", p.Attempts[1].SentTime)
	}
}

// A simulator on a clock it shares with its merchant (Config.Clock, as in
// autodebit serve) stamps notifications on that clock, which the merchant's
// verifier reads too: a month's advance leaves them fresh for it.
func TestNotify_SharedClockStampsSharedTime(t *testing.T) {
	t.Parallel()
	shared := clock.NewManual(t0)
	e := newEnv(t, func(c *antomsim.Config) { c.Clock = shared })
	e.notify.mu.Lock()
	e.notify.verifier.NowFunc = shared.Now
	e.notify.mu.Unlock()
	tok := e.link(t, "GCASH", "")
	e.advance(t, 30*24*time.Hour)
	if _, err := e.client.Pay(context.Background(), payReq("p1", tok.AccessToken, "GCASH", php(100))); err != nil {
		t.Fatal(err)
	}
	e.settle(t)
	got := e.notify.ofType(antom.NotifyTypePaymentResult)
	if len(got) != 1 {
		t.Fatalf("%d payment notifications verified, want 1", len(got))
	}
	sent, err := antom.ParseRequestTime(got[0].RequestTime)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(30 * 24 * time.Hour); !sent.Equal(want) {
		t.Fatalf("request-time %s, want the shared clock's %s", sent, want)
	}
}
