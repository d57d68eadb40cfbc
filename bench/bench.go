// Package bench measures the engine against the Antom simulator, each in
// its own process: charges per second and their latency, CPU seconds per
// charge of each process next to the cost of one RSA-2048 signature, peak
// RSS, verified notifications per second and authCode → token latency.
// `autodebit bench` is its command.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/api"
	"github.com/autodebit/autodebit/chaos"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
)

// Config configures a run. Command and DB are required unless Server is set.
type Config struct {
	// Command returns the command that runs `autodebit` with args.
	Command func(args []string) *exec.Cmd
	// DB is the engine's database (sqlite:PATH or postgres://…), used when
	// the engine is started here.
	DB string
	// Server and APIKey target a running engine instead of starting one;
	// SimURL is then its simulator's URL and SimKey the simulator's control
	// key. CPU and RSS are not measured.
	Server, APIKey, SimURL, SimKey string
	// Dir holds keys and logs of the processes started here; the caller
	// removes it. Empty means a new temporary directory that is left behind.
	Dir string
	// Tokens to link. Zero means 20.
	Tokens int
	// Concurrency of the charge phase. Zero means 2 × GOMAXPROCS.
	Concurrency int
	// Duration of the charge phase. Zero means 20s.
	Duration time.Duration
	// NotifyDuration of the notification burst. Zero means 3s.
	NotifyDuration time.Duration
	// SeedCharges final charges, each with its event, are inserted into the
	// database before the engine starts (for RSS with big tables).
	SeedCharges int
	// Webhook adds a second charge phase, as long as the first, with one
	// webhook endpoint registered on a local receiver that verifies every
	// delivery (Report.Webhook).
	Webhook bool
	// Progress shows a progress bar on Out.
	Progress bool
	// Out receives progress. Nil means io.Discard.
	Out io.Writer
}

// Process is what one process cost.
type Process struct {
	PID            int     `json:"pid,omitempty"`
	CPUSeconds     float64 `json:"cpuSeconds"`
	CPUPerCharge   float64 `json:"cpuSecondsPerCharge"`
	SignsPerCharge float64 `json:"signsPerCharge"` // CPUPerCharge ÷ one RSA-2048 sign
	// AllocsPerCharge and AllocBytesPerCharge are the heap allocations
	// the process made per charge (Go's runtime counters, read from the
	// engine's /metrics); zero when not measured (the simulator has no
	// /metrics: its Go benchmarks give its allocations per pay).
	AllocsPerCharge     float64 `json:"allocsPerCharge,omitempty"`
	AllocBytesPerCharge float64 `json:"allocBytesPerCharge,omitempty"`
	PeakRSSMB           float64 `json:"peakRssMB"`
}

// Report holds every figure of a run.
type Report struct {
	Cores       int     `json:"cores"`
	Tokens      int     `json:"tokens"`
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"durationSeconds"`
	SeedCharges int     `json:"seedCharges"`
	DB          string  `json:"db"`
	Phase
	SignMs float64 `json:"rsa2048SignMs"`
	// PhaseSignMs is the median of signatures timed by bench every 100 ms
	// during the first charge phase, with both processes busy: the unit
	// under the phase's own conditions (SignMs is timed on an idle machine).
	PhaseSignMs    float64  `json:"rsa2048SignDuringPhaseMs"`
	VerifyMs       float64  `json:"rsa2048VerifyMs"`
	CryptoBound    float64  `json:"cryptoBoundChargesPerSecond"` // cores ÷ (sign+verify work per charge in both processes)
	BoundRatio     float64  `json:"ratioToCryptoBound"`
	Notifications  int      `json:"notifications"`
	NotifyPerSec   float64  `json:"verifiedNotificationsPerSecond"`
	NotifyErrors   int      `json:"notificationErrors"`
	AuthToTokenP50 float64  `json:"authCodeToTokenP50Ms"`
	AuthToTokenP99 float64  `json:"authCodeToTokenP99Ms"`
	Targets        []Target `json:"targets"`
	// Webhook holds the second charge phase's figures, with one webhook
	// endpoint receiving every event; nil without Config.Webhook.
	Webhook *WebhookPass `json:"webhook,omitempty"`
}

// Phase is what one charge phase got: how many charges, how fast, and what
// each cost each process (zero when targeting a running engine).
type Phase struct {
	Charges       int     `json:"charges"`
	Errors        int     `json:"errors"`
	ChargesPerSec float64 `json:"chargesPerSecond"`
	LatencyP50Ms  float64 `json:"latencyP50Ms"`
	LatencyP95Ms  float64 `json:"latencyP95Ms"`
	LatencyP99Ms  float64 `json:"latencyP99Ms"`
	Engine        Process `json:"engine"`
	Sim           Process `json:"simulator"`
}

// phase computes a Phase from the latencies of its charges, its errors
// and length, and the CPU seconds each process used meanwhile. one is one
// RSA-2048 signature in CPU seconds.
func (r *run) phase(lat []float64, errs int, elapsed time.Duration, engCPU, simCPU, one float64) Phase {
	p := Phase{Charges: len(lat), Errors: errs, ChargesPerSec: float64(len(lat)) / elapsed.Seconds(),
		LatencyP50Ms: pct(lat, 50), LatencyP95Ms: pct(lat, 95), LatencyP99Ms: pct(lat, 99)}
	if r.engine != nil && p.Charges > 0 {
		n := float64(p.Charges)
		p.Engine = Process{PID: r.engine.Process.Pid, CPUSeconds: engCPU, CPUPerCharge: engCPU / n, SignsPerCharge: engCPU / n / one}
		p.Sim = Process{PID: r.sim.Process.Pid, CPUSeconds: simCPU, CPUPerCharge: simCPU / n, SignsPerCharge: simCPU / n / one}
	}
	return p
}

// WebhookPass is the charge phase run again with one webhook endpoint
// whose receiver verifies and accepts every delivery. CPU is measured
// from the phase's start until the receiver has every event, so that it
// includes delivering them.
type WebhookPass struct {
	Phase
	// Events is how many events the engine made while the endpoint
	// existed; Received how many of them the receiver accepted (each
	// counted once), Duplicates the deliveries beyond the first, and
	// BadSignatures those that failed verification.
	Events        int  `json:"events"`
	Received      int  `json:"received"`
	AllReceived   bool `json:"allReceived"`
	Duplicates    int  `json:"duplicates"`
	BadSignatures int  `json:"badSignatures"`
	// DeliveryP50Ms and DeliveryP99Ms are the time from an event's
	// creation to the receiver accepting it.
	DeliveryP50Ms float64 `json:"deliveryP50Ms"`
	DeliveryP99Ms float64 `json:"deliveryP99Ms"`
	// DrainSeconds is how long after the charge phase the last event
	// arrived.
	DrainSeconds float64 `json:"drainSeconds"`
}

// Target is one of the targets and whether this run met it.
type Target struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Got      float64 `json:"got"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Measured bool    `json:"measured"`
}

type run struct {
	cfg         Config
	out         io.Writer
	api         *client.Client
	simURL      string
	simKey      string // the simulator's control key
	antomKey    *rsa2048
	clientID    string
	engine, sim *exec.Cmd
	engineURL   string
	apiKey      string
}

// Run does one benchmark run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Tokens <= 0 {
		cfg.Tokens = 20
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.NotifyDuration <= 0 {
		cfg.NotifyDuration = 3 * time.Second
	}
	if cfg.Dir == "" && cfg.Server == "" {
		d, err := os.MkdirTemp("", "autodebit-bench-")
		if err != nil {
			return nil, err
		}
		cfg.Dir = d
	}
	r := &run{cfg: cfg, out: cfg.Out}
	if r.out == nil {
		r.out = io.Discard
	}
	rep := &Report{Cores: runtime.NumCPU(), Tokens: cfg.Tokens, Concurrency: cfg.Concurrency, DurationS: cfg.Duration.Seconds(), SeedCharges: cfg.SeedCharges, DB: redact(cfg.DB)}
	if cfg.Server != "" {
		if cfg.SimURL == "" || cfg.APIKey == "" || cfg.SimKey == "" {
			return nil, errors.New("bench: --server needs --api-key, --sim and --sim-key")
		}
		rep.DB = ""
		r.api, r.simURL, r.engineURL = client.New(cfg.Server, cfg.APIKey), strings.TrimRight(cfg.SimURL, "/"), strings.TrimRight(cfg.Server, "/")
		r.simKey = cfg.SimKey
	} else {
		if cfg.Command == nil || cfg.DB == "" {
			return nil, errors.New("bench: Command and DB are required")
		}
		if err := r.start(ctx); err != nil {
			r.stop()
			return nil, err
		}
		defer r.stop()
	}
	r.api.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: time.Minute}

	var err error
	if rep.SignMs, rep.VerifyMs, err = signTime(); err != nil {
		return nil, err
	}
	tokens, authLat, err := r.link(ctx)
	if err != nil {
		return nil, err
	}
	rep.AuthToTokenP50, rep.AuthToTokenP99 = pct(authLat, 50), pct(authLat, 99)

	eng0, sim0, al0 := cpuOf(r.engine), cpuOf(r.sim), r.allocsOf(ctx)
	stopSigning := signDuring()
	ids, _, lat, errs, elapsed := r.charge(ctx, tokens)
	rep.PhaseSignMs = stopSigning()
	eng1, sim1, al1 := cpuOf(r.engine), cpuOf(r.sim), r.allocsOf(ctx)
	one := rep.SignMs / 1000
	rep.Phase = r.phase(lat, errs, elapsed, eng1-eng0, sim1-sim0, one)
	rep.Phase.Engine.setAllocs(al0, al1, rep.Charges)
	// Per charge three messages are signed: the pay request (engine), its
	// answer and the payment notification (simulator).
	perCharge := 3 * one
	rep.CryptoBound = float64(rep.Cores) / perCharge
	rep.BoundRatio = rep.ChargesPerSec / rep.CryptoBound

	if cfg.Webhook {
		if rep.Webhook, err = r.webhookPass(ctx, tokens, one); err != nil {
			return nil, err
		}
	}

	rep.Notifications, rep.NotifyErrors, rep.NotifyPerSec, err = r.notifyBurst(ctx, ids)
	if err != nil {
		return nil, err
	}
	rep.Engine.PeakRSSMB, rep.Sim.PeakRSSMB = hwm(r.engine), hwm(r.sim)
	rep.Targets = targets(rep, r.engine != nil)
	return rep, nil
}

// start writes keys, seeds the database, starts `autodebit sim` and
// `autodebit serve` as child processes and waits until both answer.
func (r *run) start(ctx context.Context) error {
	merchant, err := antom.GenerateKeyPair()
	if err != nil {
		return err
	}
	antomKP, err := antom.GenerateKeyPair()
	if err != nil {
		return err
	}
	r.antomKey = &rsa2048{antomKP}
	write := func(name, text string) (string, error) {
		p := filepath.Join(r.cfg.Dir, name)
		return "@" + p, os.WriteFile(p, []byte(text+"\n"), 0o600)
	}
	mPriv, _ := antom.EncodePrivateKey(merchant.PrivateKey)
	mPub, _ := antom.EncodePublicKey(&merchant.PrivateKey.PublicKey)
	aPriv, _ := antom.EncodePrivateKey(antomKP.PrivateKey)
	aPub, _ := antom.EncodePublicKey(&antomKP.PrivateKey.PublicKey)
	mPrivF, err := write("merchant.key", mPriv)
	if err != nil {
		return err
	}
	mPubF, _ := write("merchant.pub", mPub)
	aPrivF, _ := write("antom.key", aPriv)
	aPubF, _ := write("antom.pub", aPub)
	tk := make([]byte, 32)
	rand.Read(tk)
	tokenKey := base64.StdEncoding.EncodeToString(tk)
	apiKey := "bench_" + base64.RawURLEncoding.EncodeToString(tk[:18])
	if r.cfg.SeedCharges > 0 {
		fmt.Fprintf(r.out, "bench: inserting %d final charges\n", r.cfg.SeedCharges)
		if err := Seed(ctx, r.cfg.DB, tk, r.cfg.SeedCharges); err != nil {
			return err
		}
	}
	simAddr, engAddr := freeAddr(), freeAddr()
	r.clientID = antomsim.DefaultClientID
	r.simURL = "http://" + simAddr
	// The control key goes in the environment, not on the command line that
	// every local user can read in /proc.
	r.simKey = antomsim.NewControlSecret()
	// AUTODEBIT_DEBUG_ADDR, which profiles the engine, is not the
	// simulator's: it gets AUTODEBIT_SIM_DEBUG_ADDR instead (empty: off).
	r.sim, err = r.spawnEnv("sim.log", []string{"AUTODEBIT_CONTROL_KEY=" + r.simKey, "AUTODEBIT_DEBUG_ADDR=" + os.Getenv("AUTODEBIT_SIM_DEBUG_ADDR")},
		"sim", "--addr", simAddr, "--merchant-public-key", mPubF, "--private-key", aPrivF, "--seed", "1")
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, r.simURL+"/sim/v1/clock", r.simKey); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	// Secrets (and a database URL that may hold a password) go in the
	// environment too.
	r.engine, err = r.spawnEnv("engine.log", []string{"AUTODEBIT_DB=" + r.cfg.DB, "AUTODEBIT_API_KEY=" + apiKey, "AUTODEBIT_TOKEN_KEY=" + tokenKey},
		"serve", "--addr", engAddr, "--antom-url", r.simURL, "--client-id", r.clientID,
		"--private-key", mPrivF, "--antom-public-key", aPubF, "--log-level", "warn",
		// The webhook phase's receiver listens on 127.0.0.1.
		"--webhook-allow-private")
	if err != nil {
		return err
	}
	r.engineURL = "http://" + engAddr
	if err := waitHTTP(ctx, r.engineURL+"/healthz", ""); err != nil {
		return fmt.Errorf("engine: %w (see %s)", err, filepath.Join(r.cfg.Dir, "engine.log"))
	}
	r.api = client.New(r.engineURL, apiKey)
	r.apiKey = apiKey
	return nil
}

func (r *run) spawn(log string, args ...string) (*exec.Cmd, error) {
	return r.spawnEnv(log, nil, args...)
}

// spawnEnv starts `autodebit args…` with env added to its environment,
// writing its output to log in the run's directory.
func (r *run) spawnEnv(log string, env []string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(r.cfg.Dir, log))
	if err != nil {
		return nil, err
	}
	cmd := r.cfg.Command(args)
	if len(env) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	go cmd.Wait()
	return cmd, nil
}

func (r *run) stop() {
	for _, c := range []*exec.Cmd{r.engine, r.sim} {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, c := range []*exec.Cmd{r.engine, r.sim} {
		if c != nil && c.Process != nil {
			for i := 0; i < 100 && c.ProcessState == nil && alive(c.Process.Pid); i++ {
				time.Sleep(50 * time.Millisecond)
			}
			c.Process.Kill()
		}
	}
}

func alive(pid int) bool { _, err := os.Stat("/proc/" + strconv.Itoa(pid)); return err == nil }

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHTTP waits until GET url answers 200, sending key as a bearer token
// when it is not empty.
func waitHTTP(ctx context.Context, url, key string) error {
	deadline := time.Now().Add(30 * time.Second)
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for time.Now().Before(deadline) {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not answering after 30s", url)
}

// control calls the simulator's control API.
func (r *run) control(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, r.simURL+path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.simKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// link links cfg.Tokens wallets one after another and returns the token IDs
// and, per token, the time from the buyer's approval (the authCode) to the
// token being ACTIVE, in ms.
func (r *run) link(ctx context.Context) ([]string, []float64, error) {
	var ids []string
	var lat []float64
	bar := r.bar(r.cfg.Tokens, "linking")
	for i := range r.cfg.Tokens {
		login := fmt.Sprintf("0918%07d", i+1)
		r.control(ctx, "POST", "/sim/v1/accounts", map[string]any{"wallet": "GCASH", "userLoginId": login, "balance": "1000000000"}, nil)
		a, err := r.api.CreateAuthorization(ctx, fmt.Sprintf("cus_bench_%d", i), "GCASH")
		if err != nil {
			return nil, nil, fmt.Errorf("link: %w", err)
		}
		code := a.QR.Text[strings.LastIndex(a.QR.Text, "/")+1:]
		t0 := time.Now()
		if err := r.control(ctx, "POST", "/sim/v1/authorizations/"+code, map[string]any{"action": "approve", "userLoginId": login}, nil); err != nil {
			return nil, nil, err
		}
		for {
			got, err := r.api.Authorization(ctx, a.ID)
			if err != nil {
				return nil, nil, err
			}
			if got.Status == string(autodebit.AuthorizationActive) {
				lat = append(lat, ms(time.Since(t0)))
				ids = append(ids, got.TokenID)
				break
			}
			if got.Status != string(autodebit.AuthorizationPending) && got.Status != string(autodebit.AuthorizationAuthorized) {
				return nil, nil, fmt.Errorf("authorization %s ended %s: %s", a.ID, got.Status, got.FailureMessage)
			}
			time.Sleep(2 * time.Millisecond)
		}
		bar.Add(1)
	}
	bar.Finish()
	return ids, lat, nil
}

// charge creates charges at cfg.Concurrency for cfg.Duration. It returns
// the charges' IDs, when each answer arrived, and their latencies.
func (r *run) charge(ctx context.Context, tokens []string) (ids []string, at []time.Time, lat []float64, errs int, elapsed time.Duration) {
	var mu sync.Mutex
	var nerr atomic.Int64
	bar := r.bar(int(r.cfg.Duration/(100*time.Millisecond)), "charging")
	stop := time.Now().Add(r.cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range r.cfg.Concurrency {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				c, err := r.api.CreateCharge(ctx, client.ChargeParams{TokenID: tokens[(w+i*r.cfg.Concurrency)%len(tokens)], Amount: adhttp.Amount{Currency: "PHP", Value: "100"}})
				t1 := time.Now()
				if err != nil {
					nerr.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, ms(t1.Sub(t0)))
				ids = append(ids, c.ID)
				at = append(at, t1)
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			bar.Finish()
			return ids, at, lat, int(nerr.Load()), time.Since(start)
		case <-tick.C:
			bar.Add(1)
		}
	}
}

func (r *run) bar(n int, what string) *progressbar.ProgressBar {
	if !r.cfg.Progress {
		return progressbar.DefaultSilent(int64(n))
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(r.out), progressbar.OptionSetDescription(what),
		progressbar.OptionClearOnFinish(), progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond))
}

// notifyBurst sends signed payment notifications for charges that exist —
// copies of the ones the simulator sent, re-signed with a fresh time — at
// the engine's receiver for cfg.NotifyDuration. Each is verified and
// deduplicated by the engine.
func (r *run) notifyBurst(ctx context.Context, chargeIDs []string) (n, nerr int, perSec float64, err error) {
	if r.antomKey == nil {
		return 0, 0, 0, nil // targeting a running engine: we do not hold Antom's key
	}
	var log []antomsim.Notification
	if err := r.control(ctx, "GET", "/sim/v1/notifications?kind=payment", nil, &log); err != nil {
		return 0, 0, 0, err
	}
	var bodies [][]byte
	for _, x := range log {
		if len(bodies) == 2000 {
			break
		}
		bodies = append(bodies, x.Body)
	}
	if len(bodies) == 0 {
		return 0, 0, 0, errors.New("bench: the simulator sent no payment notification to replay")
	}
	// Sign every request before the burst, so that the burst measures the
	// engine and not this process's signing.
	url := r.engineURL + "/antom/notify/payment"
	type signed struct {
		body   []byte
		header http.Header
	}
	reqs := make([]signed, len(bodies))
	for i, b := range bodies {
		req, err := antom.NewNotificationRequest(ctx, url, r.clientID, time.Now().Format(time.RFC3339), r.antomKey.PrivateKey, antom.DefaultKeyVersion, b)
		if err != nil {
			return 0, 0, 0, err
		}
		reqs[i] = signed{b, req.Header}
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	var ok, bad atomic.Int64
	stop := time.Now().Add(r.cfg.NotifyDuration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range r.cfg.Concurrency {
		wg.Go(func() {
			for i := w; time.Now().Before(stop) && ctx.Err() == nil; i += r.cfg.Concurrency {
				s := reqs[i%len(reqs)]
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(s.body))
				req.Header = s.header.Clone()
				resp, err := hc.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && antom.IsAck(b) {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	return int(ok.Load()), int(bad.Load()), float64(ok.Load()) / el.Seconds(), nil
}

type rsa2048 struct{ *antom.KeyPair }

// signTime times antom.Sign and antom.Verify with a 2048-bit key in this
// process, over a few hundred iterations, in ms per operation.
func signTime() (signMs, verifyMs float64, err error) {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		return 0, 0, err
	}
	const n = 300
	t0 := time.Now()
	var sig string
	for range n {
		if sig, err = signSample(kp.PrivateKey); err != nil {
			return 0, 0, err
		}
	}
	signMs = ms(time.Since(t0)) / n
	h := antom.SignatureHeader(antom.DefaultKeyVersion, sig)
	t0 = time.Now()
	for range n * 4 {
		if err := antom.Verify(&kp.PrivateKey.PublicKey, "POST", samplePath, "CLIENT", sampleTime, sampleBody, h); err != nil {
			return 0, 0, err
		}
	}
	verifyMs = ms(time.Since(t0)) / (n * 4)
	return signMs, verifyMs, nil
}

// The message signTime and signDuring sign: a pay request's shape.
var sampleBody = []byte(`{"paymentRequestId":"pay_0123456789","paymentAmount":{"currency":"PHP","value":"100"}}`)

const samplePath, sampleTime = "/ams/api/v1/payments/pay", "2025-01-01T00:00:00Z"

// signSample signs the sample message with key, as the engine signs a pay.
func signSample(key *rsa.PrivateKey) (string, error) {
	return antom.Sign(key, "POST", samplePath, "CLIENT", sampleTime, sampleBody)
}

// signDuring times one RSA-2048 signature every 100 ms until the function
// it returns is called, which returns their median in milliseconds (zero
// if none was timed). The phase's processes share the cores meanwhile, so
// a signature costs what it costs them.
func signDuring() func() float64 {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		return func() float64 { return 0 }
	}
	stop := make(chan struct{})
	done := make(chan []float64)
	go func() {
		var got []float64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- got
				return
			case <-tick.C:
				t0 := time.Now()
				if _, err := signSample(kp.PrivateKey); err == nil {
					got = append(got, ms(time.Since(t0)))
				}
			}
		}
	}()
	return func() float64 {
		close(stop)
		got := <-done
		if len(got) == 0 {
			return 0
		}
		return pct(got, 50)
	}
}

// allocs is a reading of Go's heap allocation counters.
type allocs struct{ objects, bytes float64 }

// allocsOf reads the engine's heap allocations so far from its /metrics
// (go_memstats_mallocs_total and go_memstats_alloc_bytes_total); zeros
// when there is no local engine or they cannot be read.
func (r *run) allocsOf(ctx context.Context) allocs {
	var a allocs
	if r.engine == nil {
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.engineURL+"/metrics", nil)
	if err != nil {
		return a
	}
	req.Header.Set("Authorization", "Bearer "+r.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return a
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_mallocs_total":
			a.objects = v
		case "go_memstats_alloc_bytes_total":
			a.bytes = v
		}
	}
	return a
}

// setAllocs sets the allocations per charge from two readings around n
// charges; a missing reading leaves them zero.
func (p *Process) setAllocs(before, after allocs, n int) {
	if n <= 0 || before.objects == 0 || after.objects == 0 {
		return
	}
	p.AllocsPerCharge = (after.objects - before.objects) / float64(n)
	p.AllocBytesPerCharge = (after.bytes - before.bytes) / float64(n)
}

// cpuOf returns the process's user+system CPU seconds from /proc/PID/stat.
func cpuOf(c *exec.Cmd) float64 {
	if c == nil || c.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// hwm returns the process's peak RSS (VmHWM) in MB.
func hwm(c *exec.Cmd) float64 {
	if c == nil || c.Process == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct returns the p-th percentile of xs (nearest rank).
func pct(xs []float64, p float64) float64 { return chaos.Percentile(xs, p) }

// redact hides every password in the database setting the report shows.
func redact(db string) string {
	if strings.HasPrefix(db, "sqlite:") {
		return db
	}
	return postgres.Redact(db)
}

// targets compares the report with the performance issue's targets (issue
// 14: a charge close to the cost of its one RSA signature, with events on),
// and the earlier ones it keeps (notifications/s, authCode → token).
func targets(r *Report, local bool) []Target {
	isSQLite := strings.HasPrefix(r.DB, "sqlite:")
	var hook Phase
	if r.Webhook != nil {
		hook = r.Webhook.Phase
	}
	return []Target{
		{Name: "engine CPU per charge", Want: "≤ 1.4 RSA-2048 signs", Got: r.Engine.SignsPerCharge, Unit: "signs", Met: local && r.Engine.SignsPerCharge <= 1.4, Measured: local},
		{Name: "engine CPU per charge, one webhook endpoint", Want: "≤ 1.6 RSA-2048 signs", Got: hook.Engine.SignsPerCharge, Unit: "signs",
			Met: local && r.Webhook != nil && hook.Engine.SignsPerCharge <= 1.6, Measured: local && r.Webhook != nil},
		{Name: "simulator CPU per charge", Want: "≤ 2.2 RSA-2048 signs", Got: r.Sim.SignsPerCharge, Unit: "signs", Met: local && r.Sim.SignsPerCharge <= 2.2, Measured: local},
		{Name: "charges/s vs crypto bound", Want: "≥ 70%", Got: 100 * r.BoundRatio, Unit: "%", Met: r.BoundRatio >= 0.7, Measured: true},
		{Name: "verified notifications/s (SQLite)", Want: "≥ 3000", Got: r.NotifyPerSec, Unit: "/s", Met: r.NotifyPerSec >= 3000, Measured: local && isSQLite},
		{Name: "authCode → token p99", Want: "≤ 250 ms", Got: r.AuthToTokenP99, Unit: "ms", Met: r.AuthToTokenP99 <= 250, Measured: true},
		{Name: "engine peak RSS", Want: "≤ 150 MB", Got: r.Engine.PeakRSSMB, Unit: "MB", Met: local && r.Engine.PeakRSSMB <= 150, Measured: local},
	}
}

// Missed returns the targets this run measured and did not meet.
func (r *Report) Missed() []Target {
	var missed []Target
	for _, t := range r.Targets {
		if t.Measured && !t.Met {
			missed = append(missed, t)
		}
	}
	return missed
}

// WriteTable prints the report and the targets.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database\t%s (%d seeded charges and events)\n", r.DB, r.SeedCharges)
	fmt.Fprintf(tw, "cores\t%d\n", r.Cores)
	fmt.Fprintf(tw, "charges\t%d in %.0fs at concurrency %d (%d errors)\n", r.Charges, r.DurationS, r.Concurrency, r.Errors)
	fmt.Fprintf(tw, "charges/s\t%.1f\n", r.ChargesPerSec)
	fmt.Fprintf(tw, "latency p50/p95/p99\t%.1f / %.1f / %.1f ms\n", r.LatencyP50Ms, r.LatencyP95Ms, r.LatencyP99Ms)
	fmt.Fprintf(tw, "RSA-2048 sign / verify\t%.2f / %.3f ms\n", r.SignMs, r.VerifyMs)
	if r.PhaseSignMs > 0 {
		fmt.Fprintf(tw, "RSA-2048 sign during the phase\t%.2f ms (median; engine %.2f, simulator %.2f signs per charge at it)\n",
			r.PhaseSignMs, 1000*r.Engine.CPUPerCharge/r.PhaseSignMs, 1000*r.Sim.CPUPerCharge/r.PhaseSignMs)
	}
	fmt.Fprintf(tw, "engine CPU per charge\t%.2f ms = %.2f signs\n", 1000*r.Engine.CPUPerCharge, r.Engine.SignsPerCharge)
	if r.Engine.AllocsPerCharge > 0 {
		fmt.Fprintf(tw, "engine allocations per charge\t%.0f (%.0f KB)\n", r.Engine.AllocsPerCharge, r.Engine.AllocBytesPerCharge/1024)
	}
	fmt.Fprintf(tw, "simulator CPU per charge\t%.2f ms = %.2f signs\n", 1000*r.Sim.CPUPerCharge, r.Sim.SignsPerCharge)
	fmt.Fprintf(tw, "crypto bound\t%.1f charges/s (cores ÷ 3 signs per charge); reached %.0f%%\n", r.CryptoBound, 100*r.BoundRatio)
	fmt.Fprintf(tw, "peak RSS engine / simulator\t%.1f / %.1f MB\n", r.Engine.PeakRSSMB, r.Sim.PeakRSSMB)
	fmt.Fprintf(tw, "verified notifications/s\t%.0f (%d acked, %d errors)\n", r.NotifyPerSec, r.Notifications, r.NotifyErrors)
	fmt.Fprintf(tw, "authCode → token p50/p99\t%.1f / %.1f ms (%d tokens)\n", r.AuthToTokenP50, r.AuthToTokenP99, r.Tokens)
	tw.Flush()
	if r.Webhook != nil {
		fmt.Fprintln(w)
		r.writeWebhookTable(w)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tgot\t")
	for _, t := range r.Targets {
		v := "MISS"
		if !t.Measured {
			v = "n/a"
		} else if t.Met {
			v = "PASS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f %s\t%s\n", t.Name, t.Want, t.Got, t.Unit, v)
	}
	tw.Flush()
}

// Seed inserts n final (SUCCESS) charges, each with its charge.succeeded
// event, into the database, in
// transactions of 5,000, for measuring the engine with a big table.
// tokenKey is the store's token key.
func Seed(ctx context.Context, db string, tokenKey []byte, n int) error {
	cfg := sqldb.Config{TokenKey: tokenKey}
	var store *sqldb.Store
	var err error
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		store, err = sqlite.Open(ctx, path, cfg)
	} else {
		store, err = postgres.Open(ctx, db, cfg)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now().Add(-24 * time.Hour).UTC()
	// The charges belong to one token of a past linking attempt.
	tok := &autodebit.Token{CustomerID: "cus_seed", Wallet: "GCASH", AccessToken: "seed-" + autodebit.NewID(""), AccessTokenExpiresAt: now.Add(24 * time.Hour)}
	err = store.WithTx(ctx, func(tx autodebit.Tx) error {
		a := &autodebit.Authorization{CustomerID: "cus_seed", Wallet: "GCASH", AuthState: "seed_" + autodebit.NewID(""), ExpiresAt: now.Add(15 * time.Minute)}
		if err := tx.CreateAuthorization(ctx, a); err != nil {
			return err
		}
		tok.AuthorizationID = a.ID
		return tx.CreateToken(ctx, tok)
	})
	if err != nil {
		return fmt.Errorf("seed token: %w", err)
	}
	for done := 0; done < n; {
		batch := min(5000, n-done)
		err := store.WithTx(ctx, func(tx autodebit.Tx) error {
			for i := range batch {
				c := &autodebit.Charge{
					TokenID: tok.ID, CustomerID: "cus_seed", Wallet: "GCASH",
					Amount:           autodebit.Amount{Currency: "PHP", Value: 100},
					PaymentRequestID: fmt.Sprintf("seed_%d", done+i), ExpiresAt: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now,
				}
				if err := tx.CreateCharge(ctx, c); err != nil {
					return err
				}
				st := autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, ResultCode: "SUCCESS", PaymentID: "seedpay" + strconv.Itoa(done+i), SettledBy: autodebit.SettledByPay, SettledAt: now}
				if _, err := tx.SettleCharge(ctx, c.ID, st); err != nil {
					return err
				}
				// Its event, as the engine writes one: the store then
				// holds as many events as charges (issue 14's RSS target).
				c.Status, c.ResultCode, c.PaymentID, c.SettledBy = st.Status, st.ResultCode, st.PaymentID, st.SettledBy
				data, err := json.Marshal(api.ToCharge(c))
				if err != nil {
					return err
				}
				if err := tx.CreateEvent(ctx, &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: c.ID, Data: data, CreatedAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed charges: %w", err)
		}
		done += batch
	}
	return nil
}
