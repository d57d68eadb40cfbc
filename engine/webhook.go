// Webhook deliveries: each event goes to each subscribed endpoint as a
// signed POST (Standard Webhooks), at least once, retried on a schedule.

package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/api"
	"github.com/autodebit/autodebit/webhook"
)

// DefaultWebhookRetryDelays is the wait after each failed attempt of a
// delivery (Svix's schedule): 8 attempts over a little more than a day,
// so that a receiver down for a day still gets every event.
var DefaultWebhookRetryDelays = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// defaultWebhookTimeout bounds one delivery attempt, connection to last
// byte read.
const defaultWebhookTimeout = 15 * time.Second

// defaultWebhookDisableAfter is how long an endpoint may fail every
// delivery before it is disabled (Svix's 5 days).
const defaultWebhookDisableAfter = 5 * 24 * time.Hour

// webhookJitter is the largest fraction added to a retry delay, so that
// deliveries failed together do not retry together. Upward only: the
// schedule's total stays at least a day.
const webhookJitter = 0.2

// interruptedAttempt is the error recorded for an attempt whose process
// stopped between claiming it and recording its outcome.
const interruptedAttempt = "Interrupted: the process stopped before recording this attempt's outcome."

// Lock order. Delivery work locks rows in one order, so that two replicas,
// or a delete racing a delivery, never deadlock on PostgreSQL (each waiting
// for a row the other holds): the delivery first (several: by ascending
// ID), then its attempts, then its endpoint or its event.
//   - claimAttempt, and closeInterrupted within it, write the attempts only
//     under the delivery's lock (FindDeliveryForUpdate);
//   - recordAttempt locks the delivery before finishing its attempt, and
//     before trackEndpointHealth locks the endpoint;
//   - Redeliver locks the event's existing deliveries by ID before it
//     creates any (whose inserts lock the event and endpoint for the
//     foreign key);
//   - the store's deletes of an endpoint or of events, which cascade to
//     their deliveries and attempts, lock those deliveries before the
//     endpoint or events (sqldb's lockDeliveriesOf, which also covers a
//     delivery created meanwhile).

// deliver runs one delivery job: claim the next attempt (tx 1), POST the
// event, record the outcome (tx 2). It returns a *RetryError while the
// delivery stays pending, nil once it is delivered or failed (or gone: its
// event or endpoint was deleted).
func (e *Engine) deliver(ctx context.Context, id string) error {
	c, err := e.claimAttempt(ctx, id)
	if err != nil || c == nil {
		return err
	}
	out := e.post(ctx, c)
	return e.recordAttempt(ctx, c, out)
}

// claim is what tx 1 hands the POST: the attempt claimed and what to send.
type claim struct {
	attempt  *autodebit.DeliveryAttempt
	url      string
	eventID  string
	body     []byte
	secrets  []string
	endpoint string
}

// claimAttempt locks delivery id and, if it is pending and due, claims its
// next attempt. It returns nil (and nothing to send) when there is nothing
// to do, and a *RetryError when the delivery is not due yet. An attempt
// left open by a process that stopped is recorded as failed first.
func (e *Engine) claimAttempt(ctx context.Context, id string) (*claim, error) {
	var c *claim
	var retry error
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		d, err := tx.FindDeliveryForUpdate(ctx, id)
		if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
			return nil // its event (retention) or endpoint was deleted
		} else if err != nil {
			return err
		}
		if d.Status != autodebit.DeliveryPending {
			return nil // a duplicate job: the delivery is settled
		}
		now := e.now()
		if wait := d.NextAttemptAt.Sub(now); wait > 0 {
			retry = &RetryError{Delay: wait, Err: fmt.Errorf("delivery %s is due at %s", d.ID, d.NextAttemptAt.Format(time.RFC3339))}
			return nil
		}
		if d.Attempts > 0 {
			done, wait, err := e.closeInterrupted(ctx, tx, d, now)
			if err != nil || done {
				return err
			} else if wait > 0 {
				retry = &RetryError{Delay: wait, Err: fmt.Errorf("attempt %d of delivery %s may still be running, or was interrupted and its retry is not due", d.Attempts, d.ID)}
				return nil
			}
		}
		w, err := tx.FindWebhookEndpointByID(ctx, d.EndpointID)
		if err != nil {
			return fmt.Errorf("read webhook endpoint %s of delivery %s: %w", d.EndpointID, d.ID, err)
		}
		if !w.Enabled {
			d.Status, d.NextAttemptAt, d.LastError = autodebit.DeliveryFailed, time.Time{},
				"The webhook endpoint is disabled; redeliver the event once it is enabled again."
			return tx.UpdateDelivery(ctx, d)
		}
		ev, err := tx.FindEventByID(ctx, d.EventID)
		if err != nil {
			return fmt.Errorf("read event %s of delivery %s: %w", d.EventID, d.ID, err)
		}
		body, err := json.Marshal(api.ToEvent(ev))
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		d.Attempts++
		a := &autodebit.DeliveryAttempt{DeliveryID: d.ID, Attempt: d.Attempts, StartedAt: now}
		if err := tx.CreateDeliveryAttempt(ctx, a); err != nil {
			return err
		}
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		c = &claim{attempt: a, url: w.URL, eventID: ev.ID, body: body, secrets: w.SigningSecrets(now), endpoint: w.ID}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim an attempt of delivery %s: %w", id, err)
	}
	return c, retry
}

// closeInterrupted handles the latest attempt of d, which the caller has
// locked (FindDeliveryForUpdate: the lock order), if it is still open. An
// attempt younger than the attempt timeout may still be running in another
// worker: wait is how long until it cannot be. An older one was cut off by
// a stopped process: it is recorded as failed, and done reports whether
// that was d's last attempt (d is then failed); otherwise wait is how long
// until the next attempt is due on the retry schedule.
func (e *Engine) closeInterrupted(ctx context.Context, tx autodebit.Tx, d *autodebit.Delivery, now time.Time) (done bool, wait time.Duration, err error) {
	attempts, err := tx.FindDeliveryAttempts(ctx, d.ID)
	if err != nil {
		return false, 0, err
	}
	if len(attempts) == 0 || !attempts[len(attempts)-1].Open() {
		return false, 0, nil
	}
	a := attempts[len(attempts)-1]
	if wait := a.StartedAt.Add(e.realSpan(e.cfg.WebhookTimeout + 5*time.Second)).Sub(now); wait > 0 {
		return false, wait, nil
	}
	a.FinishedAt, a.Error = now, interruptedAttempt
	if err := tx.FinishDeliveryAttempt(ctx, a); err != nil {
		return false, 0, err
	}
	d.LastStatusCode, d.LastError = 0, interruptedAttempt
	if a.Attempt > len(e.cfg.WebhookRetryDelays) {
		d.Status, d.NextAttemptAt = autodebit.DeliveryFailed, time.Time{}
		e.log.Warn("webhook delivery failed: no attempt left", "delivery", d.ID, "event", d.EventID, "endpoint", d.EndpointID, "attempts", d.Attempts)
		return true, 0, tx.UpdateDelivery(ctx, d)
	}
	// The interrupted attempt spends its slot of the schedule, not the
	// wait after it: the next one comes when it would have after a
	// failure, so a kill never shortens the 24 hours of retries.
	if next := a.StartedAt.Add(jitter(e.cfg.WebhookRetryDelays[a.Attempt-1])); next.After(now) {
		d.NextAttemptAt = next
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return false, 0, err
		}
		return false, next.Sub(now), nil
	}
	return false, 0, nil
}

// outcome is what one POST got.
type outcome struct {
	status   int
	err      string
	response string
	duration time.Duration
}

func (o outcome) ok() bool { return o.status >= 200 && o.status < 300 }

// post sends the claimed attempt: the event as JSON, signed with every
// secret the endpoint honours, webhook-timestamp on the wall clock (the
// receiver compares it with its own, even when the engine runs on the
// simulator's clock).
func (e *Engine) post(ctx context.Context, c *claim) outcome {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, e.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return outcome{err: "Cannot build the request: " + err.Error()}
	}
	if err := webhook.SetHeaders(req.Header, c.secrets, c.eventID, start, c.body); err != nil {
		return outcome{err: "Cannot sign the request: " + err.Error()}
	}
	req.Header.Set("User-Agent", "autodebit-webhooks/1")
	resp, err := e.webhookClient.Do(req)
	if err != nil {
		o := outcome{err: err.Error(), duration: time.Since(start)}
		var ne net.Error
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			o.err = fmt.Sprintf("Timed out after %s without a complete answer.", e.cfg.WebhookTimeout)
		}
		return o
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, autodebit.MaxDeliveryResponseBytes))
	o := outcome{status: resp.StatusCode, response: autodebit.ClipText(string(snippet), autodebit.MaxDeliveryResponseBytes), duration: time.Since(start)}
	if !o.ok() {
		o.err = "HTTP " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			o.err += " (redirects are not followed; point the endpoint at " + autodebit.ClipText(loc, 200) + ")"
		}
	}
	return o
}

// recordAttempt records the outcome of the claimed attempt (tx 2) and
// settles the delivery: delivered on a 2xx, otherwise pending again after
// the next retry delay, or failed after the last attempt.
//
// It records even when ctx was cancelled (the job runner stopping): the
// attempt's outcome is known, and leaving it open would make the next run
// wait out the timeout and call it interrupted.
func (e *Engine) recordAttempt(ctx context.Context, c *claim, o outcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var retry error
	var result string // for metrics, once the attempt is recorded
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		now := e.now()
		a := c.attempt
		// The delivery first, then its attempt, then the endpoint: the
		// lock order (see "Lock order" at the top of this file).
		d, err := tx.FindDeliveryForUpdate(ctx, a.DeliveryID)
		if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
			return nil // deleted with its endpoint (or event) meanwhile
		} else if err != nil {
			return err
		}
		a.FinishedAt, a.Duration, a.StatusCode = now, o.duration, o.status
		a.Error, a.Response = autodebit.ClipText(o.err, 1024), o.response
		if err := tx.FinishDeliveryAttempt(ctx, a); err != nil {
			return err
		}
		if d.Status != autodebit.DeliveryPending || d.Attempts != a.Attempt {
			return nil // a redelivery moved it on meanwhile; the attempt is kept
		}
		d.LastStatusCode, d.LastError = o.status, a.Error
		disabled, err := e.trackEndpointHealth(ctx, tx, d.EndpointID, o.ok(), now)
		if err != nil {
			return err
		}
		switch {
		case o.ok():
			d.Status, d.NextAttemptAt, d.DeliveredAt = autodebit.DeliveryDelivered, time.Time{}, now
		case disabled:
			d.Status, d.NextAttemptAt = autodebit.DeliveryFailed, time.Time{}
			d.LastError = autodebit.ClipText(d.LastError+" The endpoint was disabled after failing too long; redeliver once it is enabled again.", 1024)
		case a.Attempt > len(e.cfg.WebhookRetryDelays):
			d.Status, d.NextAttemptAt = autodebit.DeliveryFailed, time.Time{}
			e.log.Warn("webhook delivery failed: no attempt left", "delivery", d.ID, "event", d.EventID,
				"endpoint", d.EndpointID, "attempts", d.Attempts, "lastError", d.LastError)
		default:
			delay := jitter(e.cfg.WebhookRetryDelays[a.Attempt-1])
			d.NextAttemptAt = now.Add(delay)
			retry = &RetryError{Delay: delay, Err: fmt.Errorf("attempt %d of delivery %s: %s", a.Attempt, d.ID, a.Error)}
		}
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		result = map[autodebit.DeliveryStatus]string{autodebit.DeliveryPending: "retrying", autodebit.DeliveryDelivered: "delivered",
			autodebit.DeliveryFailed: "failed"}[d.Status]
		return nil
	})
	if err == nil && result != "" {
		e.m.WebhookAttempt(result, o.duration)
	}
	if err != nil {
		return fmt.Errorf("record attempt %d of delivery %s: %w", c.attempt.Attempt, c.attempt.DeliveryID, err)
	}
	return retry
}

// DisabledForFailing is the DisabledReason of an endpoint the engine
// disabled because its deliveries failed for Config.WebhookDisableAfter.
const DisabledForFailing = "Disabled by autodebit: every delivery failed for %s. Fix the receiver, enable the endpoint, and redeliver the events it missed."

// trackEndpointHealth keeps endpoint id's FailingSince: set at its first
// failed attempt after a success, cleared by a success. An endpoint still
// failing WebhookDisableAfter after FailingSince is disabled (its pending
// deliveries fail at their next attempt); disabled reports that this call
// did it. The endpoint's row is locked and written only when one of these
// changes, so that a healthy endpoint's deliveries do not queue on it.
func (e *Engine) trackEndpointHealth(ctx context.Context, tx autodebit.Tx, id string, ok bool, now time.Time) (disabled bool, err error) {
	w, err := tx.FindWebhookEndpointByID(ctx, id)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !healthChange(w, ok, now, e.cfg.WebhookDisableAfter) {
		return false, nil
	}
	if w, err = tx.FindWebhookEndpointForUpdate(ctx, id); err != nil {
		return false, err
	}
	if !healthChange(w, ok, now, e.cfg.WebhookDisableAfter) {
		return false, nil // another attempt changed it first
	}
	var note string
	switch {
	case ok:
		note = "HEALTHY again: a delivery succeeded after failures since " + w.FailingSince.UTC().Format(time.RFC3339)
		w.FailingSince = time.Time{}
	case w.FailingSince.IsZero():
		w.FailingSince = now
		note = "FAILING: a delivery attempt failed"
	default:
		w.Enabled = false
		w.DisabledReason = fmt.Sprintf(DisabledForFailing, e.cfg.WebhookDisableAfter)
		note = "DISABLED: deliveries failed since " + w.FailingSince.UTC().Format(time.RFC3339)
		disabled = true
	}
	if err := tx.UpdateWebhookEndpoint(ctx, w); err != nil {
		return false, err
	}
	if disabled {
		e.log.Warn("webhook endpoint disabled: its deliveries failed too long", "endpoint", w, "failingSince", w.FailingSince)
	}
	return disabled, appendTimeline(ctx, tx, stateEntry(w.ID, note, now))
}

// healthChange reports whether an attempt's outcome changes endpoint w's
// health: a success clears FailingSince, a first failure sets it, and a
// failure after disableAfter of them disables an enabled endpoint.
func healthChange(w *autodebit.WebhookEndpoint, ok bool, now time.Time, disableAfter time.Duration) bool {
	switch {
	case ok:
		return !w.FailingSince.IsZero()
	case w.FailingSince.IsZero():
		return true
	default:
		return w.Enabled && now.Sub(w.FailingSince) >= disableAfter
	}
}

// jitter adds up to webhookJitter of d to d.
func jitter(d time.Duration) time.Duration {
	if n := int64(float64(d) * webhookJitter); n > 0 {
		// In whole microseconds, the databases' precision: the delivery's
		// nextAttemptAt (stored truncated) and its job's scheduled_at (the
		// job runner's now, truncated, plus this delay) are then the same
		// instant, so a clock advanced to the one runs the other.
		return d + time.Duration(rand.Int64N(n+1)).Truncate(time.Microsecond)
	}
	return d
}

// newWebhookClient is the HTTP client of deliveries: no proxy from the
// environment (it would hide the address dialed), no redirects followed (a
// 3xx is a failed attempt), and every address dialed checked against the
// WebhookURLPolicy, so a host that resolved to a public address when the
// endpoint was made cannot later point it at a private one (DNS rebinding).
func (e *Engine) newWebhookClient() *http.Client {
	t := &http.Transport{
		DialContext:         e.dialWebhook,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialWebhook resolves addr's host with the engine's resolver and dials its
// addresses in turn through a dialer whose Control checks each one.
func (e *Engine) dialWebhook(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips := []netip.Addr{}
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = append(ips, ip)
	} else if ips, err = e.lookupHost(ctx, host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	} else if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	d := net.Dialer{Timeout: e.cfg.WebhookTimeout, Control: e.webhookDialControl}
	var first error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// webhookDialControl refuses, under WebhookURLsPublic, to connect to an
// address the policy does not allow, just before the connection is made.
func (e *Engine) webhookDialControl(network, address string, _ syscall.RawConn) error {
	if e.cfg.WebhookURLPolicy != WebhookURLsPublic {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook delivery to %s refused: not an IP address and port", address)
	}
	if !webhookAddrAllowed(ap.Addr()) {
		return fmt.Errorf("webhook delivery to %s refused: the address is private, loopback, link-local or otherwise not public", ap.Addr())
	}
	return nil
}

// Redeliver sends event eventID again: to endpointID, or, when it is
// empty, to every enabled endpoint subscribed to the event's type
// (endpoints created since the event included: the merchant asked). Each
// target's delivery is created, or reset from delivered or failed to
// pending and due now, and its job enqueued, in one transaction. A
// redelivery is one more attempt: if it fails, the delivery retries for
// what is left of its schedule.
//
// Returns ENOTFOUND for an unknown event or endpoint; EINVALID for an
// endpoint that is disabled or not subscribed to the event's type;
// ECONFLICT when a target's delivery is still pending (its job will make
// the next attempt; the answer says when), or when no enabled endpoint is
// subscribed.
func (e *Engine) Redeliver(ctx context.Context, eventID, endpointID string) ([]*autodebit.Delivery, error) {
	var out []*autodebit.Delivery
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		ev, err := tx.FindEventByID(ctx, eventID)
		if err != nil {
			return err
		}
		targets, err := redeliveryTargets(ctx, tx, ev, endpointID)
		if err != nil {
			return err
		}
		existing, err := lockDeliveries(ctx, tx, ev, targets)
		if err != nil {
			return err
		}
		now := e.now()
		var jobs []autodebit.Job
		for _, w := range targets {
			d, err := resetDelivery(ctx, tx, ev, w, existing[w.ID], now)
			if err != nil {
				return err
			}
			out = append(out, d)
			jobs = append(jobs, autodebit.Job{Args: DeliverWebhookArgs{DeliveryID: d.ID}})
		}
		return tx.Enqueue(ctx, jobs...)
	})
	if err != nil {
		return nil, err
	}
	for _, d := range out {
		e.log.Info("webhook delivery queued again", "delivery", d.ID, "event", d.EventID, "endpoint", d.EndpointID)
	}
	return out, nil
}

// redeliveryTargets returns the endpoints a redelivery of ev goes to.
func redeliveryTargets(ctx context.Context, tx autodebit.Tx, ev *autodebit.Event, endpointID string) ([]*autodebit.WebhookEndpoint, error) {
	if endpointID != "" {
		w, err := tx.FindWebhookEndpointByID(ctx, endpointID)
		if err != nil {
			return nil, err
		}
		if !w.Enabled {
			return nil, autodebit.Errorf(autodebit.EINVALID, "Webhook endpoint %s is disabled; enable it before redelivering to it.", w.ID)
		} else if !w.Subscribes(string(ev.Type)) {
			return nil, autodebit.Errorf(autodebit.EINVALID, "Webhook endpoint %s is not subscribed to %s events; add the type to its eventTypes first.", w.ID, ev.Type)
		}
		return []*autodebit.WebhookEndpoint{w}, nil
	}
	enabled := true
	all, _, err := tx.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{Enabled: &enabled})
	if err != nil {
		return nil, err
	}
	var out []*autodebit.WebhookEndpoint
	for _, w := range all {
		if w.Subscribes(string(ev.Type)) {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return nil, autodebit.Errorf(autodebit.ECONFLICT, "No enabled webhook endpoint is subscribed to %s events; there is nowhere to redeliver event %s.", ev.Type, ev.ID)
	}
	return out, nil
}

// lockDeliveries locks ev's existing deliveries to targets by ascending
// ID (the lock order), before any is created, and returns them by endpoint
// ID. It returns ECONFLICT if one is still pending: its job will make the
// next attempt.
func lockDeliveries(ctx context.Context, tx autodebit.Tx, ev *autodebit.Event, targets []*autodebit.WebhookEndpoint) (map[string]*autodebit.Delivery, error) {
	ds, _, err := tx.FindDeliveries(ctx, autodebit.DeliveryFilter{EventID: ev.ID})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ds, func(a, b *autodebit.Delivery) int { return strings.Compare(a.ID, b.ID) })
	out := map[string]*autodebit.Delivery{}
	for _, d := range ds {
		if !slices.ContainsFunc(targets, func(w *autodebit.WebhookEndpoint) bool { return w.ID == d.EndpointID }) {
			continue
		}
		d, err := tx.FindDeliveryForUpdate(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		if d.Status == autodebit.DeliveryPending {
			return nil, autodebit.Errorf(autodebit.ECONFLICT, "Delivery %s of event %s to %s is still pending; its next attempt is at %s.",
				d.ID, ev.ID, d.EndpointID, d.NextAttemptAt.UTC().Format(time.RFC3339))
		}
		out[d.EndpointID] = d
	}
	return out, nil
}

// resetDelivery creates ev's delivery to w, pending and due now, or moves
// d, its existing delivered or failed one (locked), back to pending.
func resetDelivery(ctx context.Context, tx autodebit.Tx, ev *autodebit.Event, w *autodebit.WebhookEndpoint, d *autodebit.Delivery, now time.Time) (*autodebit.Delivery, error) {
	if d == nil {
		d := &autodebit.Delivery{EventID: ev.ID, EndpointID: w.ID, NextAttemptAt: now, CreatedAt: now}
		return d, tx.CreateDelivery(ctx, d)
	}
	d.Status, d.NextAttemptAt, d.DeliveredAt = autodebit.DeliveryPending, now, time.Time{}
	return d, tx.UpdateDelivery(ctx, d)
}
