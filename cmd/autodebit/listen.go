package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/webhook"
)

func init() { commands = append(commands, newListenCommand) }

// eventsPageSize is the limit asked of GET /v1/events, its largest.
const eventsPageSize = 100

// defaultMaxSeen bounds the event IDs listen remembers to drop the repeats
// its overlap window brings back.
const defaultMaxSeen = 10000

// forwardTimeout is how long a forward may take, as a real delivery.
const forwardTimeout = 15 * time.Second

// defaultForwardRetries are the waits before a failed forward's retries.
var defaultForwardRetries = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

func newListenCommand() *cobra.Command {
	var forwardTo, secret string
	var since, interval, overlap time.Duration
	cmd := &cobra.Command{
		Use:   "listen [--forward-to URL]",
		Short: "Print events as they happen and forward them, signed, to a local URL (for development)",
		Long: `listen polls GET /v1/events and prints one line per new event (time, type,
object, event ID), or one JSON event per line with --json, until Ctrl-C.

With --forward-to it POSTs each event to URL as a webhook endpoint would
receive it: the event's JSON as body, Standard Webhooks headers (webhook-id,
webhook-timestamp, webhook-signature), signed with a secret made for this run
and printed at start, or with --secret. A forward that fails (no answer or not
2xx) is tried again after 1s, 2s and 4s, then given up; the status of each
try is printed.

It starts from now (or --since ago). Each poll asks again for the last
--overlap of events, so one committed late with an earlier time is not
missed; the repeats are dropped by event ID.`,
		Example: "  autodebit listen\n  autodebit listen --forward-to http://localhost:3000/webhooks\n  autodebit listen --since 1h --json",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&forwardTo, "forward-to", "", "POST each event, signed, to this http(s) URL")
	f.StringVar(&secret, "secret", "", "sign forwards with this secret (whsec_…) instead of a new one per run")
	f.DurationVar(&since, "since", 0, "also show the events of this long before now, e.g. 10m")
	f.DurationVar(&interval, "interval", time.Second, "how often to poll")
	f.DurationVar(&overlap, "overlap", 10*time.Second, "how far back each poll looks again for events committed late")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			l, err := newListener(api, forwardTo, secret, since, interval, overlap)
			if err != nil {
				return err
			}
			l.out, l.log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			l.banner(secret != "")
			return l.run(cmd.Context())
		}(); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		return nil
	}
	return cmd
}

// listener is one run of `autodebit listen`.
type listener struct {
	api       *client.Client
	server    string
	forwardTo string
	secret    string
	json      bool
	out, log  io.Writer

	interval, overlap time.Duration
	start             time.Time // events at or before it are not shown
	forwards          *http.Client
	retries           []time.Duration
	sleep             func(ctx context.Context, d time.Duration) error

	// seen maps the IDs already shown to their createdAt, so that a
	// repeat from the overlap window is dropped; high is the newest
	// createdAt shown. Entries older than the window are forgotten.
	seen    map[string]time.Time
	high    time.Time
	maxSeen int
}

// listedEvent is an event as the server sent it, compacted: the bytes
// forwarded are the server's own.
type listedEvent struct {
	webhook.Event
	raw []byte
}

func newListener(api *apiOptions, forwardTo, secret string, since, interval, overlap time.Duration) (*listener, error) {
	switch {
	case since < 0:
		return nil, fmt.Errorf("--since %s is negative; give how long before now to start, e.g. --since 10m", since)
	case interval <= 0:
		return nil, fmt.Errorf("--interval %s must be more than zero, e.g. --interval 1s", interval)
	case overlap < 0:
		return nil, fmt.Errorf("--overlap %s is negative; 0 looks back not at all, 10s is the default", overlap)
	case secret != "" && forwardTo == "":
		return nil, errors.New("--secret signs forwards; give --forward-to URL too")
	}
	c, err := api.client()
	if err != nil {
		return nil, err
	}
	l := &listener{
		api: c, server: c.BaseURL, json: api.json,
		interval: interval, overlap: overlap,
		start:    time.Now().Add(-since),
		forwards: &http.Client{Timeout: forwardTimeout, CheckRedirect: noRedirects},
		retries:  defaultForwardRetries,
		sleep:    sleepCtx,
		seen:     map[string]time.Time{},
		maxSeen:  defaultMaxSeen,
	}
	if forwardTo != "" {
		if l.forwardTo, err = checkForwardURL(forwardTo); err != nil {
			return nil, err
		}
		if secret == "" {
			if secret, err = webhook.NewSecret(); err != nil {
				return nil, err
			}
		} else if _, err := webhook.ParseSecret(secret); err != nil {
			return nil, fmt.Errorf("--secret: %w", err)
		}
		l.secret = secret
	}
	return l, nil
}

// noRedirects makes a forward's 3xx its answer, as a webhook sender treats
// it: a receiver that redirects is misconfigured, and following would send
// the event where nobody asked.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkForwardURL accepts an absolute http(s) URL.
func checkForwardURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--forward-to %q is not an http(s) URL; give the whole URL, e.g. --forward-to http://localhost:3000/webhooks", s)
	}
	return u.String(), nil
}

// banner says on stderr what the run does. The secret is printed only when
// this run made it: one given with --secret is already known, and repeating
// it would put it in terminal scrollback and logs for nothing.
func (l *listener) banner(secretGiven bool) {
	fmt.Fprintf(l.log, "Listening for events on %s since %s (Ctrl-C to stop).\n", l.server, fmtTime(l.start))
	switch {
	case l.forwardTo == "":
	case secretGiven:
		fmt.Fprintf(l.log, "Forwarding to %s, signed with the secret from --secret.\n", l.forwardTo)
	default:
		fmt.Fprintf(l.log, "Forwarding to %s, signed with this run's secret (give it to your receiver's webhook.Verifier; --secret keeps one across runs):\n%s\n", l.forwardTo, l.secret)
	}
}

// run polls until ctx ends (Ctrl-C), which is no error. The first poll's
// error ends the run, as does a refused API key: they will not heal. Later
// errors (the server restarting) are printed and the next poll tries again.
func (l *listener) run(ctx context.Context) error {
	for first := true; ; first = false {
		err := l.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if first || client.ErrorCode(err) == autodebit.EUNAUTHORIZED {
				return err
			}
			fmt.Fprintf(l.log, "%v (trying again in %s)\n", err, l.interval)
		}
		if l.sleep(ctx, l.interval) != nil {
			return nil
		}
	}
}

// poll fetches the events new since the last poll, prints them oldest
// first and forwards each.
func (l *listener) poll(ctx context.Context) error {
	events, err := l.fetch(ctx)
	if err != nil {
		return err
	}
	for _, e := range events {
		if err := l.show(e); err != nil {
			return err
		}
		if l.forwardTo != "" {
			l.forward(ctx, e)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// since is where the next poll starts: the overlap window before the newest
// event shown, never before the run's start, down to the second. The API
// shows times to the second and reads createdAfter as "at or after", so an
// event of the start's own second is shown, and repeats at the boundary are
// dropped by ID like the overlap's.
func (l *listener) since() time.Time {
	w := l.start
	if o := l.high.Add(-l.overlap); !l.high.IsZero() && o.After(w) {
		w = o
	}
	return w.UTC().Truncate(time.Second)
}

// fetch pages through GET /v1/events?createdAfter=since (newest first) and
// returns the events not seen before, oldest first. An event inserted while
// it pages pushes the rest one place down, so a page may repeat the last one
// of the page before: the repeat is dropped by ID, and nothing is skipped.
// Only a poll that read every page marks its events seen, so a failed one
// loses nothing.
func (l *listener) fetch(ctx context.Context) ([]listedEvent, error) {
	since := l.since()
	var fresh []listedEvent
	inPoll := map[string]bool{}
	for offset := 0; ; {
		q := url.Values{
			"createdAfter": {since.Format(time.RFC3339)},
			"limit":        {strconv.Itoa(eventsPageSize)},
			"offset":       {strconv.Itoa(offset)},
		}
		var page struct {
			Data  []json.RawMessage `json:"data"`
			Total int               `json:"total"`
		}
		if err := l.api.Get(ctx, "/v1/events", q, &page); err != nil {
			return nil, eventsError(err)
		}
		past := false
		for _, raw := range page.Data {
			e, err := readEvent(raw)
			if err != nil {
				return nil, err
			}
			if e.CreatedAt.Before(since) {
				past = true // the server gave more than asked: stop there
				continue
			}
			if _, dup := l.seen[e.ID]; dup || inPoll[e.ID] {
				continue
			}
			inPoll[e.ID] = true
			fresh = append(fresh, e)
		}
		offset += len(page.Data)
		if past || len(page.Data) < eventsPageSize || offset >= page.Total {
			break
		}
	}
	slices.Reverse(fresh)
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].CreatedAt.Before(fresh[j].CreatedAt) })
	for _, e := range fresh {
		l.seen[e.ID] = e.CreatedAt
		if e.CreatedAt.After(l.high) {
			l.high = e.CreatedAt
		}
	}
	l.forget()
	return fresh, nil
}

// forget drops the IDs that no poll can return again (older than the next
// window), then, past maxSeen, the oldest: memory stays bounded however
// long the run.
func (l *listener) forget() {
	cutoff := l.since()
	for id, t := range l.seen {
		if t.Before(cutoff) {
			delete(l.seen, id)
		}
	}
	if len(l.seen) <= l.maxSeen {
		return
	}
	type entry struct {
		id string
		t  time.Time
	}
	all := make([]entry, 0, len(l.seen))
	for id, t := range l.seen {
		all = append(all, entry{id, t})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	for _, e := range all[:len(all)-l.maxSeen] {
		delete(l.seen, e.id)
	}
}

func readEvent(raw json.RawMessage) (listedEvent, error) {
	var e listedEvent
	if err := json.Unmarshal(raw, &e.Event); err != nil || e.ID == "" || e.Type == "" {
		return e, fmt.Errorf("GET /v1/events answered an entry that is not an event (want id, type, createdAt, objectId, sequence, data): %.200s", raw)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return e, err
	}
	e.raw = b.Bytes()
	return e, nil
}

// eventsError explains a 404: a server without the events API is older
// than this command.
func eventsError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return fmt.Errorf("the server has no GET /v1/events (%s); it is older than this autodebit: upgrade it", ce.Message)
	}
	return apiError(err)
}

// show prints one event: a line of text, or its JSON.
func (l *listener) show(e listedEvent) error {
	var err error
	if l.json {
		_, err = fmt.Fprintf(l.out, "%s\n", e.raw)
	} else {
		_, err = fmt.Fprintf(l.out, "%s  %-24s %-26s %s\n", fmtTime(e.CreatedAt), e.Type, dash(e.ObjectID), e.ID)
	}
	return err
}

// status is where the outcome of each forward try goes: under the event
// line in text mode, on stderr with --json so that stdout stays events.
func (l *listener) status() io.Writer {
	if l.json {
		return l.log
	}
	return l.out
}

// forward POSTs the event to --forward-to, signed anew for each try (a
// retry carries its own webhook-timestamp, as a real delivery's does), and
// retries a failure after each of l.retries. A forward given up on is
// printed and the run goes on: the receiver can be fixed and the event
// seen again with `autodebit listen --since`.
func (l *listener) forward(ctx context.Context, e listedEvent) {
	tries := len(l.retries) + 1
	for i := 0; ; i++ {
		code, err := l.post(ctx, e)
		if ctx.Err() != nil {
			return
		}
		if err == nil && code/100 == 2 {
			fmt.Fprintf(l.status(), "  -> POST %s [%d]\n", l.forwardTo, code)
			return
		}
		what := fmt.Sprintf("[%d]", code)
		if err != nil {
			what = "failed: " + err.Error()
		}
		if i+1 >= tries {
			fmt.Fprintf(l.status(), "  -> POST %s %s; gave up on %s after %d tries\n", l.forwardTo, what, e.ID, tries)
			return
		}
		fmt.Fprintf(l.status(), "  -> POST %s %s; try %d of %d again in %s\n", l.forwardTo, what, i+2, tries, l.retries[i])
		if l.sleep(ctx, l.retries[i]) != nil {
			return
		}
	}
}

func (l *listener) post(ctx context.Context, e listedEvent) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forwardTo, bytes.NewReader(e.raw))
	if err != nil {
		return 0, err
	}
	if err := webhook.SetHeaders(req.Header, []string{l.secret}, e.ID, time.Now(), e.raw); err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "autodebit-listen")
	resp, err := l.forwards.Do(req)
	if err != nil {
		return 0, unwrapURL(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
