package bench

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/autodebit/autodebit/chaos"
	"github.com/autodebit/autodebit/client"
)

// webhookDrainWait bounds the wait, after the webhook phase, for the
// receiver to have every event.
const webhookDrainWait = 2 * time.Minute

// webhookPass registers one webhook endpoint (every event type) on a
// local receiver without faults, runs the charge phase again, waits until
// the receiver has every event made since the endpoint was registered, and
// deletes the endpoint. one is one RSA-2048 signature in CPU seconds.
//
// The events made meanwhile are counted as the growth of GET /v1/events'
// total: the first phase's charges are all final by then, so an engine that
// nothing else uses makes no other event. Every event the receiver gets was
// made while its endpoint existed (deliveries are created with the event),
// so the receiver has them all when it has that many.
func (r *run) webhookPass(ctx context.Context, tokens []string, one float64) (*WebhookPass, error) {
	rc, err := chaos.NewReceiver(chaos.ReceiverFaults{}, 1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	before, err := r.eventCount(ctx)
	if err != nil {
		return nil, err
	}
	ep, err := r.api.CreateWebhookEndpoint(ctx, client.WebhookEndpointParams{URL: rc.URL(), Description: "autodebit bench receiver"})
	if err != nil {
		return nil, fmt.Errorf("bench: register the webhook receiver (an engine that refuses private addresses needs --webhook-allow-private, or run bench with --webhook=false): %w", err)
	}
	defer r.api.DeleteWebhookEndpoint(context.WithoutCancel(ctx), ep.ID)
	rc.SetSecret(ep.Secret)
	fmt.Fprintf(r.out, "bench: charging again with webhook endpoint %s receiving every event\n", ep.ID)

	eng0, sim0, al0 := cpuOf(r.engine), cpuOf(r.sim), r.allocsOf(ctx)
	ids, at, lat, errs, elapsed := r.charge(ctx, tokens)
	end := time.Now()
	made, err := r.drainWebhooks(ctx, rc, before)
	if err != nil {
		return nil, err
	}
	eng1, sim1, al1 := cpuOf(r.engine), cpuOf(r.sim), r.allocsOf(ctx)
	st := rc.Stats()
	p := &WebhookPass{
		Phase:  r.phase(lat, errs, elapsed, eng1-eng0, sim1-sim0, one),
		Events: made, Received: len(st.Received), Duplicates: st.Duplicates(), BadSignatures: st.Refused,
		DrainSeconds: time.Since(end).Seconds(),
	}
	p.Engine.setAllocs(al0, al1, p.Charges)
	p.AllReceived = p.Received == p.Events && p.BadSignatures == 0
	// Delivery latency: from each charge's answer (its event committed
	// with it) to the receiver accepting that charge's event.
	got := map[string]time.Time{}
	for id, ev := range st.Events {
		got[ev.ObjectID] = st.FirstAt[id]
	}
	var dl []float64
	for i, id := range ids {
		if t, ok := got[id]; ok {
			dl = append(dl, ms(t.Sub(at[i])))
		}
	}
	p.DeliveryP50Ms, p.DeliveryP99Ms = pct(dl, 50), pct(dl, 99)
	return p, nil
}

// eventCount returns GET /v1/events' total.
func (r *run) eventCount(ctx context.Context) (int, error) {
	l, err := r.api.Events(ctx, client.EventListParams{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("bench: count the events: %w", err)
	}
	return l.Total, nil
}

// drainWebhooks waits, at most webhookDrainWait, until the receiver has
// accepted as many events as were made since the count was before, and
// returns that number.
func (r *run) drainWebhooks(ctx context.Context, rc *chaos.Receiver, before int) (int, error) {
	deadline := time.Now().Add(webhookDrainWait)
	for {
		n, err := r.eventCount(ctx)
		if err != nil {
			return 0, err
		}
		if made := n - before; rc.Unique() >= made || time.Now().After(deadline) || ctx.Err() != nil {
			return made, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeWebhookTable prints the webhook phase beside the first.
func (r *Report) writeWebhookTable(w io.Writer) {
	wh := r.Webhook
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\twithout webhooks\twith one webhook endpoint\t")
	fmt.Fprintf(tw, "charges\t%d (%d errors)\t%d (%d errors)\t\n", r.Charges, r.Errors, wh.Charges, wh.Errors)
	fmt.Fprintf(tw, "charges/s\t%.1f\t%.1f\t\n", r.ChargesPerSec, wh.ChargesPerSec)
	fmt.Fprintf(tw, "latency p50/p99\t%.1f / %.1f ms\t%.1f / %.1f ms\t\n", r.LatencyP50Ms, r.LatencyP99Ms, wh.LatencyP50Ms, wh.LatencyP99Ms)
	fmt.Fprintf(tw, "engine CPU per charge\t%.2f ms = %.2f signs\t%.2f ms = %.2f signs\t(with delivering its events)\n",
		1000*r.Engine.CPUPerCharge, r.Engine.SignsPerCharge, 1000*wh.Engine.CPUPerCharge, wh.Engine.SignsPerCharge)
	if r.Engine.AllocsPerCharge > 0 && wh.Engine.AllocsPerCharge > 0 {
		fmt.Fprintf(tw, "engine allocations per charge\t%.0f (%.0f KB)\t%.0f (%.0f KB)\t\n", r.Engine.AllocsPerCharge, r.Engine.AllocBytesPerCharge/1024,
			wh.Engine.AllocsPerCharge, wh.Engine.AllocBytesPerCharge/1024)
	}
	fmt.Fprintf(tw, "simulator CPU per charge\t%.2f ms\t%.2f ms\t\n", 1000*r.Sim.CPUPerCharge, 1000*wh.Sim.CPUPerCharge)
	verdict := "all received"
	if !wh.AllReceived {
		verdict = "NOT ALL RECEIVED"
	}
	fmt.Fprintf(tw, "events received\t\t%d of %d, %s\t(%d duplicates, %d bad signatures)\n", wh.Received, wh.Events, verdict, wh.Duplicates, wh.BadSignatures)
	fmt.Fprintf(tw, "event → received p50/p99\t\t%.1f / %.1f ms\tlast %.1f s after the phase\n", wh.DeliveryP50Ms, wh.DeliveryP99Ms, wh.DrainSeconds)
	tw.Flush()
}
