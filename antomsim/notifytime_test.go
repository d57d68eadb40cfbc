package antomsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
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
