package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/storetest"
	"github.com/autodebit/autodebit/webhook"
)

// TestWebhookDelivery_ReplicaKilledMidDelivery runs two `serve` processes
// on one PostgreSQL database against one simulator, with one webhook
// endpoint. The receiver holds the first attempt of the first
// charge.succeeded event; meanwhile a second job for the same delivery
// (what a River rescue or the sweep makes) must send nothing and wait; then
// the process sending the held attempt is killed with SIGKILL. The survivor
// must retry it (the attempt recorded as interrupted, the next one sent
// only once the first cannot still be running), the receiver must get
// every event, no event may ever be in flight twice at once, and every
// delivery's attempts must tell a consistent story.
func TestWebhookDelivery_ReplicaKilledMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two serve processes and waits out an attempt's timeout (about 25s)")
	}
	dsn := storetest.PostgresSchemaURL(t)
	// The held attempt must still be running when its process is killed:
	// its job times out at 14s, the POST at 15s (the attempt timeout), so
	// the steps from the hold to the kill have up to 14s on a busy machine.
	sim, started, apiKey := startReplicas(t, dsn, 11, "--job-timeout", "14s", "--job-rescue-after", "15s",
		"--webhook-allow-private") // the receiver is on 127.0.0.1
	replicas := map[int]*child{}
	for _, c := range started {
		replicas[c.cmd.Process.Pid] = c
	}
	ctx := context.Background()
	var first *client.Client
	for _, c := range replicas {
		first = client.New(c.url, apiKey)
	}

	rc := newReplicaReceiver("charge.succeeded")
	recv := httptest.NewServer(rc)
	t.Cleanup(recv.Close)
	ep, err := first.CreateWebhookEndpoint(ctx, client.WebhookEndpointParams{URL: recv.URL + "/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	rc.verifier = &webhook.Verifier{Secrets: []string{ep.Secret}}

	// Link a token: its events reach the receiver through either replica.
	tokenID := linkOn(t, sim, first, first, "cus_replicas")

	// The first charge's charge.succeeded is held by the receiver: find the
	// process whose connection it came on, and kill it.
	charge := func(c *client.Client, i int) {
		t.Helper()
		if _, err := c.CreateCharge(ctx, client.ChargeParams{TokenID: tokenID, Amount: adhttp.Amount{Currency: "PHP", Value: fmt.Sprint(100 + i)},
			IdempotencyKey: fmt.Sprintf("replicas-%d", i)}); err != nil {
			t.Fatalf("charge %d: %v", i, err)
		}
	}
	charge(first, 0)
	var held heldAttempt
	select {
	case held = <-rc.holding:
	case <-time.After(20 * time.Second):
		t.Fatal("no charge.succeeded delivery reached the receiver")
	}
	heldAt := time.Now()
	t.Logf("%s held at the receiver", held.eventID)
	pid, err := socketOwner(held.remoteAddr, held.localAddr, replicas)
	if err != nil {
		t.Fatal(err)
	}
	// A second job for the same delivery (a River rescue or the sweep can
	// make one) runs while the attempt is in flight: it must send nothing
	// and wait (snooze) until the attempt cannot still be running.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ds, err := first.EventDeliveries(ctx, held.eventID)
	if err != nil || len(ds.Data) != 1 {
		t.Fatalf("deliveries of %s: %v, %v", held.eventID, ds, err)
	}
	inserter, err := river.NewClient(riverdatabasesql.New(db), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dup, err := inserter.Insert(ctx, engine.DeliverWebhookArgs{DeliveryID: ds.Data[0].ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var state, errs string
		var attempted bool
		err := db.QueryRow("SELECT state, attempted_at IS NOT NULL, coalesce(array_to_string(errors, ' '), '') FROM river_job WHERE id = $1",
			dup.Job.ID).Scan(&state, &attempted, &errs)
		if err == nil && state == "scheduled" && attempted {
			break
		}
		if time.Since(heldAt) > 12*time.Second {
			t.Fatalf("the second job did not run and snooze within 12s of the hold: state %q, attempted %v, errors %q, query error %v",
				state, attempted, errs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	victim := replicas[pid]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.cmd.Wait()
	close(rc.release) // the held request's connection is gone with its process
	killedAt := time.Now()
	delete(replicas, pid)
	var survivor *client.Client
	for _, c := range replicas {
		survivor = client.New(c.url, apiKey)
	}
	t.Logf("killed pid %d holding the first attempt of %s, %s after the hold", pid, held.eventID, killedAt.Sub(heldAt).Round(time.Millisecond))

	// More events, all through the survivor, while the held one waits.
	for i := 1; i <= 4; i++ {
		charge(survivor, i)
	}

	// Every event delivered, the held one included.
	var events []adhttp.Event
	waitUntil(t, 50*time.Second, "every event delivered", func() bool {
		list, err := survivor.Events(ctx, client.EventListParams{Limit: 100})
		if err != nil {
			return false
		}
		events = list.Data
		if list.Total != len(events) {
			t.Fatalf("%d events, more than a page", list.Total)
		}
		for _, ev := range events {
			if rc.count(ev.ID) == 0 {
				return false
			}
			ds, err := survivor.EventDeliveries(ctx, ev.ID)
			if err != nil || len(ds.Data) != 1 || ds.Data[0].Status != "delivered" {
				return false
			}
		}
		return len(events) > 0
	})
	t.Logf("every event delivered %s after the kill", time.Since(killedAt).Round(time.Second))

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.refused) > 0 {
		t.Errorf("the receiver refused deliveries: %v", rc.refused)
	}
	for id, n := range rc.maxInFlight {
		if n > 1 {
			t.Errorf("event %s was in flight %d times at once", id, n)
		}
	}
	seen := map[string]bool{}
	var charges int
	for _, ev := range events {
		seen[ev.ID] = true
		if ev.Type == "charge.succeeded" {
			charges++
		}
	}
	if charges != 5 {
		t.Errorf("%d charge.succeeded events, want 5", charges)
	}
	for id := range rc.got {
		if !seen[id] {
			t.Errorf("the receiver got %s, which GET /v1/events does not list", id)
		}
	}
	for _, ev := range events {
		ds, err := survivor.EventDeliveries(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		d := ds.Data[0]
		if err := consistentAttempts(d, rc.got[ev.ID]); err != nil {
			t.Errorf("event %s (%s): %v", ev.ID, ev.Type, err)
		}
		if d.EndpointID != ep.ID {
			t.Errorf("event %s delivered to %s, want %s", ev.ID, d.EndpointID, ep.ID)
		}
		if ev.ID != held.eventID {
			continue
		}
		// The held attempt: recorded as interrupted by the survivor, and
		// the retry sent only once the first could no longer be running
		// (an attempt's 15s timeout).
		if len(d.Attempts) != 2 || !strings.HasPrefix(d.Attempts[0].Error, "Interrupted") || d.Attempts[0].StatusCode != 0 || d.Attempts[1].StatusCode != 204 {
			t.Errorf("held event %s: attempts %+v, want one interrupted, then one delivered", ev.ID, d.Attempts)
		} else if gap := d.Attempts[1].StartedAt.Sub(d.Attempts[0].StartedAt); gap < 15*time.Second {
			t.Errorf("held event %s: the retry started %s after the interrupted attempt, before that one's timeout", ev.ID, gap)
		}
		if rc.got[ev.ID] != 2 {
			t.Errorf("held event %s reached the receiver %d times, want 2", ev.ID, rc.got[ev.ID])
		}
	}

	var discarded int
	if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE state = 'discarded'`).Scan(&discarded); err != nil {
		t.Fatal(err)
	}
	if discarded != 0 {
		t.Errorf("%d jobs were given up", discarded)
	}
}

// consistentAttempts checks one delivered delivery's history: attempts
// numbered from 1, each finished, each started no earlier than the one
// before it finished, every one but the last failed and the last a 2xx;
// and the receiver got between as many requests as attempts that have an
// HTTP answer and as many as attempts.
func consistentAttempts(d adhttp.Delivery, received int) error {
	if d.AttemptCount != len(d.Attempts) || len(d.Attempts) == 0 {
		return fmt.Errorf("attemptCount %d, %d attempts", d.AttemptCount, len(d.Attempts))
	}
	answered := 0
	for i, a := range d.Attempts {
		last := i == len(d.Attempts)-1
		switch {
		case a.Attempt != i+1:
			return fmt.Errorf("attempt %d numbered %d", i+1, a.Attempt)
		case a.FinishedAt == nil:
			return fmt.Errorf("attempt %d never finished", a.Attempt)
		case a.FinishedAt.Before(a.StartedAt):
			return fmt.Errorf("attempt %d finished before it started", a.Attempt)
		case i > 0 && a.StartedAt.Before(*d.Attempts[i-1].FinishedAt):
			return fmt.Errorf("attempt %d started before attempt %d finished", a.Attempt, i)
		case last && (a.StatusCode < 200 || a.StatusCode > 299 || a.Error != ""):
			return fmt.Errorf("last attempt %d: status %d, error %q; want a 2xx", a.Attempt, a.StatusCode, a.Error)
		case !last && a.Error == "":
			return fmt.Errorf("attempt %d before the last has no error", a.Attempt)
		}
		if a.StatusCode != 0 {
			answered++
		}
	}
	if d.DeliveredAt == nil || d.LastStatusCode != d.Attempts[len(d.Attempts)-1].StatusCode {
		return fmt.Errorf("delivered %v, lastStatusCode %d, want the last attempt's", d.DeliveredAt, d.LastStatusCode)
	}
	if received < answered || received > len(d.Attempts) {
		return fmt.Errorf("the receiver got %d requests for %d attempts (%d answered)", received, len(d.Attempts), answered)
	}
	return nil
}

// heldAttempt is the request replicaReceiver holds.
type heldAttempt struct{ eventID, remoteAddr, localAddr string }

// replicaReceiver is a merchant's endpoint that verifies every delivery,
// counts requests and concurrent requests per webhook-id, and holds the
// first attempt of the first event of type hold until release is closed or
// the sender goes away.
type replicaReceiver struct {
	verifier *webhook.Verifier
	hold     string
	holding  chan heldAttempt
	release  chan struct{}

	mu          sync.Mutex
	held        string
	got         map[string]int // requests per webhook-id
	inFlight    map[string]int
	maxInFlight map[string]int
	refused     []string
}

func newReplicaReceiver(hold string) *replicaReceiver {
	return &replicaReceiver{hold: hold, holding: make(chan heldAttempt, 1), release: make(chan struct{}),
		got: map[string]int{}, inFlight: map[string]int{}, maxInFlight: map[string]int{}}
}

func (rc *replicaReceiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.got[id]
}

func (rc *replicaReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, err := rc.verifier.Verify(r)
	if err != nil {
		rc.mu.Lock()
		rc.refused = append(rc.refused, err.Error())
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.got[ev.ID]++
	rc.inFlight[ev.ID]++
	rc.maxInFlight[ev.ID] = max(rc.maxInFlight[ev.ID], rc.inFlight[ev.ID])
	hold := rc.held == "" && ev.Type == rc.hold
	if hold {
		rc.held = ev.ID
	}
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inFlight[ev.ID]--
		rc.mu.Unlock()
	}()
	if hold {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if local == nil {
			panic("the request has no local address")
		}
		rc.holding <- heldAttempt{eventID: ev.ID, remoteAddr: r.RemoteAddr, localAddr: local.String()}
		select {
		case <-rc.release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable) // to no one: the sender is dead
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// socketOwner returns which of the processes has the TCP connection from
// remoteAddr to localAddr (as the server sees them: r.RemoteAddr and its
// own address), from Linux's /proc: the socket's inode in /proc/net/tcp,
// then the process with a file descriptor on it. The line must match both
// ends and be ESTABLISHED: Linux reuses an ephemeral port for other
// destinations, so the client's address alone can also name another
// process's connection, or one in TIME_WAIT (whose inode is 0).
func socketOwner(remoteAddr, localAddr string, procs map[int]*child) (int, error) {
	client, err := procNetAddr(remoteAddr)
	if err != nil {
		return 0, err
	}
	server, err := procNetAddr(localAddr)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	const established = "01"
	inode := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 9 && f[1] == client && f[2] == server && f[3] == established {
			if inode != "" {
				return 0, fmt.Errorf("two established sockets from %s to %s in /proc/net/tcp", remoteAddr, localAddr)
			}
			inode = f[9]
		}
	}
	if inode == "" || inode == "0" {
		return 0, fmt.Errorf("no established socket from %s to %s (%s to %s) in /proc/net/tcp", remoteAddr, localAddr, client, server)
	}
	for pid := range procs {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fd); l == "socket:["+inode+"]" {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no serve process holds socket inode %s (%s)", inode, remoteAddr)
}

// procNetAddr writes an IPv4 host:port as /proc/net/tcp does: the hex of
// the address's 32 bits in host (little-endian) order, then the port in hex.
func procNetAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return "", fmt.Errorf("address %q is not IPv4 with a port", addr)
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p), nil
}
