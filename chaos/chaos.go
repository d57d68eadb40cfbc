// Package chaos runs the engine as a child process against the Antom
// simulator with faults on, kills it with SIGKILL at random moments,
// restarts it on the same database, and at the end compares every charge,
// token and refund with the simulator's truth. `autodebit chaos` is its
// command; the comparison itself is Compare.
package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
)

// Config configures a run. Command and DB are required.
type Config struct {
	// Command returns the command that runs `autodebit` with args, e.g.
	// exec.Command(os.Args[0], args...). Required.
	Command func(args []string) *exec.Cmd
	// DB is the engine's database: sqlite:PATH or a postgres:// URL. It
	// should be empty at the start. Required.
	DB string
	// Dir holds the keys and the engine's log (engine.log). Empty means a
	// new temporary directory.
	Dir string
	// Charges is how many charges to create. Zero means 500.
	Charges int
	// Concurrency is how many charges are created at once. Zero means 8.
	Concurrency int
	// Kills is how many times the engine is killed with SIGKILL. Zero
	// kills none.
	Kills int
	// Tokens is how many wallets are linked before charging. Zero means 8.
	Tokens int
	// Seed seeds the fault decisions, the simulator's IDs and the kill
	// moments. Zero means a random seed.
	Seed int64
	// Faults are the faults injected while charging. Nil means
	// DefaultFaults().
	Faults *antomsim.Faults
	// RefundEvery refunds every RefundEvery-th charge that succeeds at once.
	// Zero means 10; negative means no refunds.
	RefundEvery int
	// Subscriptions is how many subscriptions the renewal phase makes
	// (chaos/subscription.go). Zero makes none.
	Subscriptions int
	// Wait bounds the wait for every charge to be final. Zero means 3m.
	Wait time.Duration
	// ReceiverFaults are the faults of the run's webhook receiver. Nil
	// means DefaultReceiverFaults(), with Hold and SlowMax derived from
	// WebhookTimeout.
	ReceiverFaults *ReceiverFaults
	// WebhookTimeout is the engine's delivery timeout in the run (its
	// --webhook-timeout), short so that held deliveries cost little.
	// Zero means 1s.
	WebhookTimeout time.Duration
	// DrainWait bounds the wait, at the end, for every webhook delivery to
	// be delivered or failed. Zero means 2m.
	DrainWait time.Duration
	// Out receives progress lines. Nil means io.Discard.
	Out io.Writer
}

// DefaultFaults are the faults of the issue: 30% of notifications dropped,
// 10% duplicated, 10% reordered; 10% of API calls answered U, 5% timing out
// after the work is committed, 2% HTTP 5xx.
func DefaultFaults() antomsim.Faults {
	return antomsim.Faults{
		API: map[string][]antomsim.APIFault{"*": {
			{Kind: antomsim.FaultUnknown, Probability: 0.10},
			{Kind: antomsim.FaultTimeout, Probability: 0.05, Latency: antomsim.Duration(50 * time.Millisecond)},
			{Kind: antomsim.FaultHTTP5xx, Probability: 0.02},
		}},
		Notify: map[string][]antomsim.NotifyFault{"*": {
			{Kind: antomsim.FaultDrop, Probability: 0.30},
			{Kind: antomsim.FaultDuplicate, Probability: 0.10},
			{Kind: antomsim.FaultReorder, Probability: 0.10, Delay: antomsim.Duration(10 * time.Second)},
		}},
	}
}

// webhookRetryDelays is the engine's retry schedule in a chaos run (its
// --webhook-retry-delays): 13 attempts within about 35 s instead of a day,
// so that the run can wait for every delivery to settle.
var webhookRetryDelays = []time.Duration{
	200 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, 2 * time.Second, 2 * time.Second,
	3 * time.Second, 3 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second,
}

// Report is the outcome of a run.
type Report struct {
	Seed         int64          `json:"seed"`
	Charges      int            `json:"charges"`
	ByStatus     map[string]int `json:"byStatus"`
	Tokens       int            `json:"tokens"`
	Refunds      int            `json:"refunds"`
	Faults       map[string]int `json:"faults"`
	Kills        int            `json:"kills"`
	Elapsed      time.Duration  `json:"elapsed"`
	AccessTokens []string       `json:"-"` // every access token Antom issued, for secret scans
	LogFile      string         `json:"logFile"`
	// TokensEnded counts the tokens the run ended: revoked by the
	// merchant or unlinked in the wallet.
	TokensEnded int `json:"tokensEnded"`
	// Receiver is what the webhook receiver saw; Undelivered counts the
	// deliveries still pending when the drain's wait ran out, Failed those
	// whose retries ran out.
	Receiver    ReceiverStats `json:"receiver"`
	Undelivered int           `json:"undelivered"`
	Failed      int           `json:"failedDeliveries"`
	// Subscriptions is the renewal phase's report; nil without the phase.
	Subscriptions *SubscriptionReport `json:"subscriptions,omitempty"`
	Comparison
	Events EventComparison `json:"events"`
}

// OK reports whether nothing diverged from Antom's truth and every event
// was produced once and reached the receiver.
func (r *Report) OK() bool { return r.Comparison.OK() && r.Events.OK() }

// WriteTable prints the report as a table.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "charges\t%d\t%s\n", r.Charges, statusLine(r.ByStatus))
	fmt.Fprintf(tw, "tokens linked\t%d\t\n", r.Tokens)
	fmt.Fprintf(tw, "refunds\t%d\t\n", r.Refunds)
	for _, k := range sortedKeys(r.Faults) {
		fmt.Fprintf(tw, "faults %s\t%d\t\n", k, r.Faults[k])
	}
	fmt.Fprintf(tw, "kills (SIGKILL)\t%d\t\n", r.Kills)
	r.Subscriptions.writeRows(tw)
	fmt.Fprintf(tw, "divergent orders\t%d\t%s\n", len(r.Divergent), verdict(r.Divergent))
	fmt.Fprintf(tw, "double debits\t%d\t%s\n", len(r.DoubleDebits), verdict(r.DoubleDebits))
	fmt.Fprintf(tw, "lost tokens\t%d\t%s\n", len(r.LostTokens), verdict(r.LostTokens))
	fmt.Fprintf(tw, "INIT after close + 2 min\t%d\t%s\n", len(r.StuckInit), verdict(r.StuckInit))
	e := &r.Events
	fmt.Fprintf(tw, "events expected / produced\t%d / %d\t%s\n", e.Expected, e.Produced, statusLine(e.ByType))
	fmt.Fprintf(tw, "events missing\t%d\t%s\n", len(e.Missing), verdict(e.Missing))
	fmt.Fprintf(tw, "events of no change\t%d\t%s\n", len(e.Extra), verdict(e.Extra))
	fmt.Fprintf(tw, "events produced twice\t%d\t%s\n", len(e.DuplicateProduced), verdict(e.DuplicateProduced))
	fmt.Fprintf(tw, "sequence gaps\t%d\t%s\n", len(e.SequenceGaps), verdict(e.SequenceGaps))
	fmt.Fprintf(tw, "receiver faults\t%d\t%s\n", r.Receiver.Faults[receiverFail5xx]+r.Receiver.Faults[receiverTimeout]+r.Receiver.Faults[receiverSlow],
		fmt.Sprintf("5xx %d, timeout %d, slow %d; %d answered at once", r.Receiver.Faults[receiverFail5xx], r.Receiver.Faults[receiverTimeout], r.Receiver.Faults[receiverSlow], r.Receiver.Faults[receiverOK]))
	fmt.Fprintf(tw, "events delivered\t%d\tdeduplicated by webhook-id; p50 %s, p99 %s after the event\n", e.Delivered,
		e.DeliveryP50.Round(time.Millisecond), e.DeliveryP99.Round(time.Millisecond))
	fmt.Fprintf(tw, "events lost (not received)\t%d\t%s\n", len(e.Lost), lostLine(r))
	fmt.Fprintf(tw, "duplicate deliveries received\t%d\tallowed (at least once)\n", e.DuplicateDeliveries)
	fmt.Fprintf(tw, "bad signatures\t%d\t%s\n", e.BadSignatures, verdict(r.Receiver.Reasons))
	fmt.Fprintf(tw, "elapsed\t%s\tseed %d\n", r.Elapsed.Round(time.Second), r.Seed)
	tw.Flush()
	for _, list := range [][]string{r.Divergent, r.DoubleDebits, r.LostTokens, r.StuckInit,
		e.Missing, e.Extra, e.DuplicateProduced, e.SequenceGaps, e.Lost, r.Receiver.Reasons} {
		for i, s := range list {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more\n", len(list)-20)
				break
			}
			fmt.Fprintln(w, "  "+s)
		}
	}
}

func statusLine(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func lostLine(r *Report) string {
	l := verdict(r.Events.Lost)
	if r.Undelivered > 0 || r.Failed > 0 {
		l += fmt.Sprintf(" (%d deliveries still pending, %d failed)", r.Undelivered, r.Failed)
	}
	return l
}

func verdict(l []string) string {
	if len(l) == 0 {
		return "ok"
	}
	return "FAIL"
}

// run is one chaos run's state.
type run struct {
	cfg      Config
	out      io.Writer
	rng      *mrand.Rand
	sim      *antomsim.Sim
	simURL   string
	addr     string
	apiKey   string
	tokenKey string
	args     []string
	env      []string // secrets for the engine, passed in its environment
	logFile  *os.File
	api      *client.Client

	mu     sync.Mutex
	engine *exec.Cmd
	exited chan struct{}
}

// Run does one chaos run. It returns an error when the run could not be
// done; divergences are in the report (see Comparison.OK).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Command == nil || cfg.DB == "" {
		return nil, errors.New("chaos: Command and DB are required")
	}
	if cfg.Charges <= 0 {
		cfg.Charges = 500
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Tokens <= 0 {
		cfg.Tokens = 8
	}
	if cfg.RefundEvery == 0 {
		cfg.RefundEvery = 10
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 3 * time.Minute
	}
	if cfg.Seed == 0 {
		cfg.Seed = mrand.Int64N(1<<31) + 1
	}
	if cfg.Faults == nil {
		f := DefaultFaults()
		cfg.Faults = &f
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = time.Second
	}
	if cfg.DrainWait <= 0 {
		cfg.DrainWait = 2 * time.Minute
	}
	if cfg.ReceiverFaults == nil {
		f := DefaultReceiverFaults()
		f.Hold, f.SlowMax = cfg.WebhookTimeout+time.Second, cfg.WebhookTimeout/4
		cfg.ReceiverFaults = &f
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "autodebit-chaos-")
		if err != nil {
			return nil, err
		}
		cfg.Dir = d
	}
	r := &run{cfg: cfg, out: cfg.Out, rng: mrand.New(mrand.NewPCG(uint64(cfg.Seed), 7))}
	if r.out == nil {
		r.out = io.Discard
	}
	start := time.Now()
	if err := r.setup(); err != nil {
		return nil, err
	}
	defer r.sim.Close()
	defer r.stopEngine()
	if err := r.startEngine(ctx); err != nil {
		return nil, err
	}
	rc, err := r.listen(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tokens, err := r.link(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.sim.SetFaults(withSeed(*cfg.Faults, cfg.Seed)); err != nil {
		return nil, err
	}
	kills, err := r.drive(ctx, tokens)
	if err != nil {
		return nil, err
	}
	renewalKills, err := r.renewals(ctx, tokens)
	if err != nil {
		return nil, err
	}
	ended, err := r.endTokens(ctx, tokens)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.out, "chaos: waiting for every charge to be final (at most %s)\n", cfg.Wait)
	r.waitFinal(ctx)
	// Let every resend happen: Antom resends for about a day.
	r.sim.SetFaults(antomsim.Faults{})
	if _, err := r.sim.Advance(25 * time.Hour); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	r.sim.Settle(sctx)
	cancel()
	subs, err := r.subscriptionsNow(ctx)
	if err != nil {
		return nil, err
	}
	undelivered := r.drain(ctx, rc)
	if err := r.stopEngine(); err != nil {
		return nil, err
	}
	recs, err := r.records(ctx)
	if err != nil {
		return nil, err
	}
	truth := r.sim.Truth()
	rep := &Report{
		Seed: cfg.Seed, Charges: len(recs.Charges), ByStatus: map[string]int{}, Tokens: len(recs.Tokens), Refunds: len(recs.Refunds),
		Faults: r.sim.FaultStats(), Kills: kills + renewalKills, LogFile: r.logFile.Name(),
		Comparison: Compare(truth, recs, time.Now()), TokensEnded: ended, Receiver: rc.Stats(), Undelivered: undelivered,
	}
	rep.Events = CompareEvents(recs, rep.Receiver)
	for _, d := range recs.Deliveries {
		if d.Status == autodebit.DeliveryFailed {
			rep.Failed++
		}
	}
	if rep.Subscriptions = CheckRenewals(subs, truth, recs, &rep.Comparison); rep.Subscriptions != nil {
		rep.Subscriptions.Kills = renewalKills
	}
	for _, c := range recs.Charges {
		rep.ByStatus[string(c.Status)]++
	}
	for _, t := range truth.Tokens {
		rep.AccessTokens = append(rep.AccessTokens, t.AccessToken)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func withSeed(f antomsim.Faults, seed int64) antomsim.Faults {
	f.Seed = seed
	return f
}

// setup makes the keys, starts the simulator in-process and picks the
// engine's address.
func (r *run) setup() error {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		return err
	}
	// The run drives the simulator through its Go methods; its control API
	// gets a key no one holds, so no other local process can use it.
	r.sim, err = antomsim.New(antomsim.Config{
		MerchantPublicKey: &kp.PrivateKey.PublicKey, Seed: r.cfg.Seed, ControlSecret: antomsim.NewControlSecret(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.simURL = "http://" + ln.Addr().String()
	go (&http.Server{Handler: r.sim, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)

	priv, err := antom.EncodePrivateKey(kp.PrivateKey)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(r.cfg.Dir, "merchant.key")
	if err := os.WriteFile(keyFile, []byte(priv+"\n"), 0o600); err != nil {
		return err
	}
	r.apiKey = "chaos_" + randomText(18)
	tk := make([]byte, 32)
	rand.Read(tk)
	r.tokenKey = base64.StdEncoding.EncodeToString(tk)
	// The engine keeps one address across restarts: the simulator sends
	// notifications to the URL given in each request.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.addr = l.Addr().String()
	l.Close()
	// Secrets (and a database URL that may hold a password) go in the
	// environment, not on the command line every local user can read.
	r.env = []string{"AUTODEBIT_DB=" + r.cfg.DB, "AUTODEBIT_API_KEY=" + r.apiKey, "AUTODEBIT_TOKEN_KEY=" + r.tokenKey}
	r.args = []string{"serve", "--addr", r.addr, "--antom-url", r.simURL, "--client-id", r.sim.ClientID(),
		"--private-key", "@" + keyFile, "--antom-public-key", r.sim.AntomPublicKeyBase64(), "--log-format", "json",
		// The run ends by advancing the simulator's clock 25h to let every
		// resend happen: its request-times are then a day ahead of the
		// engine's real clock, which only this harness can cause.
		"--notify-skew", "26h",
		// The run's webhook receiver is on 127.0.0.1, and its deliveries
		// retry within seconds instead of a day (see webhookRetryDelays).
		"--webhook-allow-private", "--webhook-timeout", r.cfg.WebhookTimeout.String(), "--webhook-retry-delays", durations(webhookRetryDelays)}
	if r.logFile, err = os.OpenFile(filepath.Join(r.cfg.Dir, "engine.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return err
	}
	r.api = client.New("http://"+r.addr, r.apiKey)
	r.api.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	return nil
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startEngine starts the engine and waits until it answers /healthz.
func (r *run) startEngine(ctx context.Context) error {
	cmd := r.cfg.Command(r.args)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, r.env...)
	cmd.Stdout, cmd.Stderr = io.Discard, r.logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.mu.Lock()
	r.engine, r.exited = cmd, exited
	r.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("engine exited at start; see %s", r.logFile.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("engine not healthy after 30s; see %s", r.logFile.Name())
		}
	}
}

// kill sends SIGKILL to the engine and waits for it to die.
func (r *run) kill() {
	r.mu.Lock()
	cmd, exited := r.engine, r.exited
	r.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stopEngine stops the engine gracefully (SIGTERM, then SIGKILL after 15s).
func (r *run) stopEngine() error {
	r.mu.Lock()
	cmd, exited := r.engine, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	return nil
}

// link links cfg.Tokens wallets (one account each) and returns the token IDs.
func (r *run) link(ctx context.Context) ([]string, error) {
	var ids []string
	for i := range r.cfg.Tokens {
		login := fmt.Sprintf("0917%07d", i+1)
		if _, err := r.sim.CreateAccount(antomsim.Account{Wallet: "GCASH", UserLoginID: login, Balance: 100_000_000}); err != nil && !errors.Is(err, antomsim.ErrConflict) {
			return nil, fmt.Errorf("create account: %w", err)
		}
		a, err := r.api.CreateAuthorization(ctx, fmt.Sprintf("cus_chaos_%d", i), "GCASH")
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		if _, err := r.sim.Approve(a.QR.Text, login); err != nil {
			return nil, fmt.Errorf("approve: %w", err)
		}
		for {
			got, err := r.api.Authorization(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			if got.Status == string(autodebit.AuthorizationActive) {
				ids = append(ids, got.TokenID)
				break
			}
			if got.Status != string(autodebit.AuthorizationPending) && got.Status != string(autodebit.AuthorizationAuthorized) {
				return nil, fmt.Errorf("authorization %s ended %s: %s", a.ID, got.Status, got.FailureMessage)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fmt.Fprintf(r.out, "chaos: linked %d tokens\n", len(ids))
	return ids, nil
}

// drive creates cfg.Charges charges at cfg.Concurrency, refunds some, and
// kills and restarts the engine cfg.Kills times at random moments.
func (r *run) drive(ctx context.Context, tokens []string) (int, error) {
	n := r.cfg.Charges
	killAt := map[int64]bool{}
	for len(killAt) < r.cfg.Kills && len(killAt) < n {
		killAt[int64(1+r.rng.IntN(n))] = true
	}
	var next, done atomic.Int64
	var kills int
	killc := make(chan struct{}, r.cfg.Kills+1)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	amounts := make([]int64, n)
	for i := range amounts {
		amounts[i] = 100 + r.rng.Int64N(9900)
	}
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				p := client.ChargeParams{
					TokenID: tokens[i%int64(len(tokens))], Amount: adhttp.Amount{Currency: "PHP", Value: strconv.FormatInt(amounts[i], 10)},
					Description: fmt.Sprintf("chaos %d", i), IdempotencyKey: fmt.Sprintf("chaos-%d-%d", r.cfg.Seed, i),
				}
				c, err := retry(ctx, func() (*adhttp.Charge, error) { return r.api.CreateCharge(ctx, p) })
				if err != nil {
					select {
					case errc <- fmt.Errorf("charge %d: %w", i, err):
					default:
					}
					return
				}
				if r.cfg.RefundEvery > 0 && i%int64(r.cfg.RefundEvery) == 0 && c.Status == string(autodebit.ChargeSuccess) {
					rp := client.RefundParams{Amount: adhttp.Amount{Currency: "PHP", Value: strconv.FormatInt(amounts[i]/2, 10)}, IdempotencyKey: fmt.Sprintf("chaos-refund-%d-%d", r.cfg.Seed, i)}
					// A refused refund is a bug of the engine or of this
					// run (as a key reused across charges once was): stop.
					if _, err := retry(ctx, func() (*adhttp.Refund, error) { return r.api.CreateRefund(ctx, c.ID, rp) }); err != nil {
						select {
						case errc <- fmt.Errorf("refund of charge %d (%s): %w", i, c.ID, err):
						default:
						}
						return
					}
				}
				if d := done.Add(1); killAt[d] {
					killc <- struct{}{}
				}
				if d := done.Load(); d%100 == 0 {
					fmt.Fprintf(r.out, "chaos: %d/%d charges created\n", d, n)
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case <-killc:
			// A random moment: up to 300ms after the chosen charge.
			time.Sleep(time.Duration(r.rng.IntN(300)) * time.Millisecond)
			r.kill()
			kills++
			fmt.Fprintf(r.out, "chaos: killed the engine (SIGKILL) after %d charges; restarting\n", done.Load())
			if err := r.startEngine(ctx); err != nil {
				return kills, err
			}
		case err := <-errc:
			return kills, err
		case <-finished:
			select {
			case err := <-errc:
				return kills, err
			default:
			}
			return kills, nil
		}
	}
}

// retry calls fn until the engine answers: connection errors and 5xx
// (the engine is restarting) are retried for up to a minute; a 4xx answer
// is returned as it is.
func retry[T any](ctx context.Context, fn func() (*T, error)) (*T, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := fn()
		var ae *client.Error
		if err == nil || (errors.As(err, &ae) && ae.Status < 500) || time.Now().After(deadline) || ctx.Err() != nil {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFinal waits until no charge is INIT, or cfg.Wait passes.
func (r *run) waitFinal(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Wait)
	last := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		l, err := r.api.Charges(ctx, client.ListParams{Status: string(autodebit.ChargeInit), Limit: 1})
		if err == nil {
			if l.Total == 0 {
				return
			}
			if l.Total != last {
				fmt.Fprintf(r.out, "chaos: %d charges still INIT\n", l.Total)
				last = l.Total
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// records reads everything the comparisons need from the engine's database.
func (r *run) records(ctx context.Context) (Records, error) {
	key, _ := base64.StdEncoding.DecodeString(r.tokenKey)
	cfg := sqldb.Config{TokenKey: key}
	var store *sqldb.Store
	var err error
	if path, ok := strings.CutPrefix(r.cfg.DB, "sqlite:"); ok {
		store, err = sqlite.Open(ctx, path, cfg)
	} else {
		store, err = postgres.Open(ctx, r.cfg.DB, cfg)
	}
	if err != nil {
		return Records{}, fmt.Errorf("open the engine's database: %w", err)
	}
	defer store.Close()
	return ReadRecords(ctx, store)
}

// ReadRecords reads every charge, token, refund, authorization, event and
// webhook delivery of store.
func ReadRecords(ctx context.Context, store autodebit.Store) (Records, error) {
	var out Records
	const page = 1000
	for off := 0; ; off += page {
		cs, _, err := store.FindCharges(ctx, autodebit.ChargeFilter{Limit: page, Offset: off})
		if err != nil {
			return out, err
		}
		out.Charges = append(out.Charges, cs...)
		if len(cs) < page {
			break
		}
	}
	for off := 0; ; off += page {
		ts, _, err := store.FindTokens(ctx, autodebit.TokenFilter{Limit: page, Offset: off})
		if err != nil {
			return out, err
		}
		out.Tokens = append(out.Tokens, ts...)
		if len(ts) < page {
			break
		}
	}
	for off := 0; ; off += page {
		fs, _, err := store.FindRefunds(ctx, autodebit.RefundFilter{Limit: page, Offset: off})
		if err != nil {
			return out, err
		}
		out.Refunds = append(out.Refunds, fs...)
		if len(fs) < page {
			break
		}
	}
	// The three below are read whole (a zero Limit): a run makes a few
	// thousand of each at most.
	var err error
	if out.Authorizations, _, err = store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{}); err != nil {
		return out, err
	}
	if out.Events, _, err = store.FindEvents(ctx, autodebit.EventFilter{}); err != nil {
		return out, err
	}
	if out.Deliveries, _, err = store.FindDeliveries(ctx, autodebit.DeliveryFilter{}); err != nil {
		return out, err
	}
	if out.Subscriptions, _, err = store.FindSubscriptions(ctx, autodebit.SubscriptionFilter{}); err != nil {
		return out, err
	}
	sort.Slice(out.Charges, func(i, j int) bool { return out.Charges[i].ID < out.Charges[j].ID })
	return out, nil
}

// listen starts the run's webhook receiver and registers it as an endpoint
// for every event type, before anything happens that makes an event.
func (r *run) listen(ctx context.Context) (*Receiver, error) {
	rc, err := NewReceiver(*r.cfg.ReceiverFaults, r.cfg.Seed)
	if err != nil {
		return nil, err
	}
	ep, err := r.api.CreateWebhookEndpoint(ctx, client.WebhookEndpointParams{URL: rc.URL(), Description: "autodebit chaos receiver"})
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("register the webhook receiver: %w", err)
	}
	rc.SetSecret(ep.Secret)
	fmt.Fprintf(r.out, "chaos: webhook endpoint %s receives every event at %s\n", ep.ID, rc.URL())
	return rc, nil
}

// endTokens ends two tokens once the charges are made, so that token
// changes are checked too: the first is revoked by the merchant (through
// the API, while Antom's faults are on), the second unlinked by the buyer
// in the wallet (the simulator's TOKEN_CANCELED notification, which the
// faults may drop until a resend). It returns how many it ended.
func (r *run) endTokens(ctx context.Context, tokens []string) (int, error) {
	n := 0
	if len(tokens) > 0 {
		if _, err := retry(ctx, func() (*adhttp.Token, error) { return r.api.RevokeToken(ctx, tokens[0]) }); err != nil {
			return n, fmt.Errorf("revoke token %s: %w", tokens[0], err)
		}
		n++
	}
	if len(tokens) > 1 {
		login := fmt.Sprintf("0917%07d", 2) // the second linked wallet (see link)
		for _, t := range r.sim.Tokens() {
			if t.UserLoginID == login && t.Status == antomsim.TokenActive {
				if _, err := r.sim.CancelToken(t.AccessToken, "chaos: the buyer unlinked the merchant"); err != nil {
					return n, fmt.Errorf("unlink %s in the wallet: %w", login, err)
				}
				n++
				break
			}
		}
	}
	fmt.Fprintf(r.out, "chaos: ended %d tokens (revoked by the merchant, unlinked in the wallet)\n", n)
	return n, nil
}

// drain waits, at most cfg.DrainWait, until no webhook delivery is pending
// (the engine's autodebit_webhook_deliveries_pending gauge is 0). It
// returns how many were still pending when it stopped waiting.
func (r *run) drain(ctx context.Context, rc *Receiver) int {
	fmt.Fprintf(r.out, "chaos: waiting for every webhook delivery to settle (at most %s)\n", r.cfg.DrainWait)
	deadline := time.Now().Add(r.cfg.DrainWait)
	last := -1
	for {
		pending, err := r.pendingDeliveries(ctx)
		if err == nil && pending == 0 {
			return 0
		}
		if err == nil && pending != last {
			fmt.Fprintf(r.out, "chaos: %d webhook deliveries pending, %d events received\n", pending, rc.Unique())
			last = pending
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return max(last, 0)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// pendingDeliveries reads the engine's pending-deliveries gauge from
// /metrics.
func (r *run) pendingDeliveries(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.apiKey)
	resp, err := r.api.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return gauge(string(b), "autodebit_webhook_deliveries_pending")
}

// gauge returns the value of the unlabelled metric name in a Prometheus
// text exposition.
func gauge(text, name string) (int, error) {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("metric %s: %q is not a number", name, v)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// durations formats ds as a --webhook-retry-delays value.
func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}
