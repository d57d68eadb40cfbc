package main

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/clock"
	"github.com/autodebit/autodebit/console"
	"github.com/autodebit/autodebit/demoshop"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/jobs"
	"github.com/autodebit/autodebit/linkpage"
	"github.com/autodebit/autodebit/metrics"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
)

func init() { commands = append(commands, newServeCommand) }

// ServeConfig is the configuration of `autodebit serve`.
type ServeConfig struct {
	Addr           string // listen address; default 127.0.0.1:8080
	PublicURL      string // base URL Antom uses for notifications; default http://Addr
	DB             string // sqlite:PATH (default sqlite:autodebit.db) or a postgres:// URL
	AntomURL       string // Antom gateway; empty starts the simulator in-process
	ClientID       string
	PrivateKey     string // merchant private key: base64 or @FILE
	AntomPublicKey string // base64 or @FILE
	APIKey         string // operator key; generated and kept beside a SQLite database when empty
	TokenKey       string // base64 32 bytes; generated beside a SQLite database when empty
	LogFormat      string // text or json
	LogLevel       string // debug, info, warn, error
	// How old, and how far ahead, a notification's request-time may be:
	// antom.NotificationVerifier's MaxAge and MaxSkew (0 means the antom
	// default, negative no limit).
	NotifyMaxAge   time.Duration
	NotifySkew     time.Duration
	DebugAddr      string        // when set, serves net/http/pprof there
	JobTimeout     time.Duration // bound on one job run; 0 means 2m
	JobRescueAfter time.Duration // when a job left running by a dead process runs again; 0 means JobTimeout+1m
	EventRetention time.Duration // how long events are kept; default 30 days
	// TrustForwardedFor limits failed logins and API keys by the last
	// X-Forwarded-For entry instead of the connection's address: only
	// behind a reverse proxy that sets it.
	TrustForwardedFor bool
	// WebhookAllowPrivate accepts webhook endpoint URLs whose host is, or
	// resolves to, a private, loopback or link-local address. It is implied
	// when the simulator runs in-process (a development engine).
	WebhookAllowPrivate bool
	// LinkReturnHosts are the hosts a link session's returnUrl and
	// cancelUrl may name (engine.Config.LinkReturnHosts). Empty means any
	// host with the in-process simulator, and none but --public-url's
	// with a real Antom.
	LinkReturnHosts []string
	// WebhookTimeout and WebhookRetryDelays override the delivery
	// attempt's timeout (zero: 15s) and the retry schedule (empty: the
	// day-long engine.DefaultWebhookRetryDelays). Hidden flags, for
	// `autodebit chaos` and tests only: a shorter schedule breaks the
	// contract of at least 24 hours of retries.
	WebhookTimeout     time.Duration
	WebhookRetryDelays []time.Duration
	// The in-process simulator (no AntomURL): where it listens (default the
	// Addr host, loopback only, port 8081; port 0 when Addr's port is 0),
	// the file keeping its state (default <db path>.sim.json; required with
	// PostgreSQL) and its control key (default generated into
	// <db path>.sim-key, or <SimState>.sim-key with PostgreSQL).
	SimAddr  string
	SimState string
	SimKey   string
	// TimeScale is how fast the one clock of simulator mode runs: 1 (or 0)
	// is real time, 60 a minute per second. Only with the in-process
	// simulator.
	TimeScale float64
}

// DefaultServeConfig returns the defaults of every flag.
func DefaultServeConfig() ServeConfig {
	return ServeConfig{Addr: "127.0.0.1:8080", DB: "sqlite:autodebit.db", LogFormat: "text", LogLevel: "info",
		NotifyMaxAge: antom.DefaultNotificationMaxAge, NotifySkew: antom.DefaultNotificationMaxSkew,
		EventRetention: engine.DefaultEventRetention, TimeScale: 1}
}

func newServeCommand() *cobra.Command {
	cfg := DefaultServeConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine: REST API, Antom notification endpoints, console and jobs",
		Long: `serve runs the autodebit engine. With no Antom settings (--antom-url) it starts
the Antom simulator in-process, wires keys both ways and says so: the whole
flow then works on this machine. Every flag can also be set with an
environment variable AUTODEBIT_<FLAG>, e.g. AUTODEBIT_API_KEY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := &Main{Config: cfg, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			if err := m.Run(cmd.Context()); err != nil {
				return err
			}
			<-cmd.Context().Done()
			return m.shutdown(15 * time.Second)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on")
	f.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base URL at which Antom reaches this engine (default http://ADDR)")
	f.StringVar(&cfg.DB, "db", cfg.DB, "database: sqlite:PATH or a postgres:// URL")
	f.StringVar(&cfg.AntomURL, "antom-url", cfg.AntomURL, "Antom gateway URL, e.g. https://open-sea-global.alipay.com (empty: run the simulator in-process)")
	f.StringVar(&cfg.ClientID, "client-id", cfg.ClientID, "Antom client ID")
	f.StringVar(&cfg.PrivateKey, "private-key", cfg.PrivateKey, "merchant private key: one-line base64 PKCS#8, or @FILE")
	f.StringVar(&cfg.AntomPublicKey, "antom-public-key", cfg.AntomPublicKey, "Antom public key: one-line base64, or @FILE")
	f.StringVar(&cfg.APIKey, "api-key", cfg.APIKey, "operator API key (default: generated and kept beside a SQLite database)")
	f.StringVar(&cfg.TokenKey, "token-key", cfg.TokenKey, "32-byte key, base64, encrypting tokens at rest (default: generated beside a SQLite database)")
	f.StringVar(&cfg.SimAddr, "sim-addr", cfg.SimAddr, "address of the in-process simulator, kept across restarts so QR links keep working (default: the --addr host, port 8081)")
	f.StringVar(&cfg.SimState, "sim-state", cfg.SimState, "file keeping the in-process simulator's accounts, tokens, payments and notifications across restarts, encrypted with the token key (default: DB.sim.json beside a SQLite database; required with PostgreSQL)")
	f.StringVar(&cfg.SimKey, "sim-key", cfg.SimKey, "control key of the in-process simulator, at least 16 characters, or @FILE (default: generated and kept beside the simulator's state)")
	f.Float64Var(&cfg.TimeScale, "time-scale", cfg.TimeScale, "speed of the one clock the engine and the in-process simulator share: 1 = real time, 60 = a minute per second (simulator mode only)")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn or error")
	f.DurationVar(&cfg.NotifyMaxAge, "notify-max-age", cfg.NotifyMaxAge, "reject notifications whose request-time is older than this; covers Antom's whole ~24h resend schedule (negative: no limit)")
	f.DurationVar(&cfg.NotifySkew, "notify-skew", cfg.NotifySkew, "reject notifications whose request-time is further than this ahead of our clock (negative: no limit)")
	f.StringVar(&cfg.DebugAddr, "debug-addr", cfg.DebugAddr, debugAddrUsage)
	f.DurationVar(&cfg.JobTimeout, "job-timeout", cfg.JobTimeout, "longest run of one background job (0: 2m)")
	f.DurationVar(&cfg.JobRescueAfter, "job-rescue-after", cfg.JobRescueAfter, "when a job left running by a process that died is run again; must exceed --job-timeout (0: job timeout + 1m)")
	f.DurationVar(&cfg.EventRetention, "event-retention", cfg.EventRetention, "how long events (GET /v1/events) are kept before an hourly job deletes them, e.g. 720h for 30 days")
	f.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", cfg.WebhookAllowPrivate, "accept webhook endpoint URLs on private, loopback and link-local addresses (implied with the in-process simulator; never in production)")
	f.StringSliceVar(&cfg.LinkReturnHosts, "link-return-hosts", cfg.LinkReturnHosts, "hosts a link session's returnUrl and cancelUrl may name, comma-separated: shop.example, *.shop.example (its subdomains) or * (any; the default with the in-process simulator)")
	f.DurationVar(&cfg.WebhookTimeout, "webhook-timeout", cfg.WebhookTimeout, "bound on one webhook delivery attempt (0: 15s; testing only)")
	f.DurationSliceVar(&cfg.WebhookRetryDelays, "webhook-retry-delays", cfg.WebhookRetryDelays, "waits after each failed webhook delivery attempt, e.g. 100ms,1s,5s (default: about a day of retries; testing only)")
	f.MarkHidden("webhook-timeout")
	f.MarkHidden("webhook-retry-delays")
	f.BoolVar(&cfg.TrustForwardedFor, "trust-forwarded-for", cfg.TrustForwardedFor, "rate-limit failed logins and API keys by the last X-Forwarded-For address (only behind a reverse proxy that sets it)")
	return cmd
}

// Main runs the engine. End-to-end tests run it on 127.0.0.1:0 against a
// temporary directory: set Config, call Run, read URL, then Close.
type Main struct {
	Config ServeConfig
	// Stdout receives the start-up banner. Nil means io.Discard.
	Stdout io.Writer
	// Stderr receives the logs. Nil means os.Stderr.
	Stderr io.Writer

	// URL is the engine's base URL once Run has returned.
	URL string
	// APIKey is the operator key in use once Run has returned.
	APIKey string
	// Sim is the in-process simulator, when one was started.
	Sim *antomsim.Sim
	// SimURL is its base URL.
	SimURL string
	// SimKey is its control key, kept like the API key: its control API
	// and its home page's list of QR codes need it.
	SimKey string
	// SimState is the file that keeps its state across restarts.
	SimState string
	// Engine is the running engine.
	Engine *engine.Engine
	// Store is the open store.
	Store *sqldb.Store
	// Clock is the one clock of simulator mode, with what falls due on it
	// (the simulator, the jobs, the engine's periodic work); nil with a
	// real Antom, whose clock is the real time.
	Clock *clock.Stepper

	log            *slog.Logger
	antomPublicKey *rsa.PublicKey
	runner         *jobs.Runner
	srv            *http.Server
	simSrv         *http.Server
	debugSrv       *http.Server
	// apiKeyFrom says where the API key came from. The banner prints the
	// key itself only when this run generated it: a key given or kept in a
	// file is already known to its operator and must not reach terminal
	// scrollback or captured stdout again.
	apiKeyFrom keyOrigin
	simKeyFrom keyOrigin
	serveErr   chan error
}

// Run opens the store, starts the simulator if needed, the jobs and the
// HTTP server, and returns once the server is listening.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close(context.Background())
		}
	}()
	c := &m.Config
	out := m.Stdout
	if out == nil {
		out = io.Discard
	}
	logOut := m.Stderr
	if logOut == nil {
		logOut = os.Stderr
	}
	if m.log, err = newLogger(logOut, c.LogFormat, c.LogLevel); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", c.Addr, err)
	}
	m.URL = "http://" + ln.Addr().String()
	if !isLoopback(ln.Addr().String()) {
		m.log.Warn("serving plain HTTP on a non-loopback address: the API key, console passwords and Antom's notifications cross the network unencrypted; put a TLS-terminating proxy in front, or listen on 127.0.0.1",
			"addr", ln.Addr().String())
	}
	publicURL := strings.TrimRight(c.PublicURL, "/")
	if publicURL == "" {
		publicURL = m.URL
	}

	sqlitePath, isSQLite := strings.CutPrefix(c.DB, "sqlite:")
	if !isSQLite && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		ln.Close()
		return fmt.Errorf("--db %q: want sqlite:PATH or a postgres:// URL", postgres.Redact(c.DB))
	}

	tokenKey, _, err := m.secret("token-key", c.TokenKey, sqlitePath, isSQLite, true)
	if err != nil {
		ln.Close()
		return err
	}
	apiKeyRaw, apiKeyFrom, err := m.secret("api-key", c.APIKey, sqlitePath, isSQLite, false)
	if err != nil {
		ln.Close()
		return err
	}
	m.APIKey, m.apiKeyFrom = string(apiKeyRaw), apiKeyFrom
	if c.AntomURL == "" && !isSQLite && c.SimState == "" {
		ln.Close()
		return errSimStateNeeded
	}
	now, err := m.oneClock()
	if err != nil {
		ln.Close()
		return err
	}

	// The store needs the job runner's insert function and the runner needs
	// the store's River driver: bind the function late.
	storeCfg := sqldb.Config{TokenKey: tokenKey, NowFunc: now, EnqueueFunc: func(ctx context.Context, tx *sql.Tx, js []autodebit.Job) error {
		return m.runner.Enqueue(ctx, tx, js)
	}}
	if isSQLite {
		m.Store, err = sqlite.Open(ctx, sqlitePath, storeCfg)
	} else {
		m.Store, err = postgres.Open(ctx, c.DB, storeCfg)
	}
	if err != nil {
		ln.Close()
		return err
	}
	met := metrics.New(metrics.Config{Store: m.Store, DB: m.Store.DB(), Logger: m.log, NowFunc: now})
	if m.runner, err = jobs.New(m.jobsConfig(met.JobFailed, now)); err != nil {
		ln.Close()
		return err
	}

	client, err := m.antomClient(ctx, tokenKey)
	if err != nil {
		ln.Close()
		return err
	}
	// A development engine (in-process simulator) delivers webhooks to this
	// machine; a production one only to public addresses unless told.
	webhookPolicy := engine.WebhookURLsPublic
	if c.WebhookAllowPrivate || m.Sim != nil {
		webhookPolicy = engine.WebhookURLsAny
	}
	// Link sessions may return anywhere in development; in production only
	// to the hosts the operator names.
	linkHosts := c.LinkReturnHosts
	if len(linkHosts) == 0 && m.Sim != nil {
		linkHosts = []string{"*"}
	} else if len(linkHosts) == 0 {
		m.log.Info("link sessions may return only to --public-url's host until --link-return-hosts names the shop's hosts")
	}
	if err := engine.ValidateLinkReturnHosts(linkHosts); err != nil {
		ln.Close()
		return fmt.Errorf("--link-return-hosts: %w", err)
	}
	clockScale := 1.0
	if now != nil {
		clockScale = c.TimeScale // the one clock's speed
	}
	if m.Engine, err = engine.New(engine.Config{Store: m.Store, Antom: client, PublicURL: publicURL, Logger: m.log, Metrics: met,
		EventRetention: c.EventRetention, WebhookURLPolicy: webhookPolicy, LinkReturnHosts: linkHosts, NowFunc: now,
		WebhookTimeout: c.WebhookTimeout, WebhookRetryDelays: c.WebhookRetryDelays, ClockScale: clockScale}); err != nil {
		ln.Close()
		return err
	}
	if m.Sim != nil {
		// In the order things fall due at one time: Antom's side, the
		// jobs it sets off, the engine's periodic work.
		m.Clock.Waiters = []clock.Waiter{m.Sim, m.runner, m.Engine}
		sim, log := m.Sim, m.log
		m.Clock.AfterAdvance = func() {
			if err := sim.Save(); err != nil {
				log.Error("save the simulator's state after a clock advance", "err", err)
			}
		}
	}
	// In simulator mode the simulator stamps notifications on the one
	// clock, and they are judged on it (now is nil with a real Antom).
	verifier := &antom.NotificationVerifier{ClientID: client.ClientID(), AntomPublicKey: m.antomPublicKey, MaxAge: c.NotifyMaxAge, MaxSkew: c.NotifySkew, NowFunc: now}
	// One budget of failed attempts per address for the console and the API.
	limiter := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{TrustForwardedFor: c.TrustForwardedFor, CountFunc: met.AuthFailure, Logger: m.log})
	consoleHandler, err := console.New(console.Config{Engine: m.Engine, APIKey: m.APIKey, Logger: m.log, Limiter: limiter, Clock: m.Clock})
	if err != nil {
		ln.Close()
		return err
	}
	extra, err := m.pages(consoleHandler, publicURL)
	if err != nil {
		ln.Close()
		return err
	}
	handler, err := adhttp.NewServer(adhttp.Config{Engine: m.Engine, Verifier: verifier, APIKey: m.APIKey, Logger: m.log, Metrics: met.Handler(), Extra: extra, Limiter: limiter, Clock: m.Clock})
	if err != nil {
		ln.Close()
		return err
	}
	if err := m.runner.Start(context.WithoutCancel(ctx), m.Engine); err != nil {
		ln.Close()
		return err
	}
	// An applyToken left running by a process that was killed must not wait
	// for River's rescue: the authCode dies within a minute.
	if err := m.Engine.Resume(ctx); err != nil {
		m.log.Error("resume applyToken after a restart", "err", err)
	}
	m.srv = &http.Server{
		Handler: handler,
		// Bound what a slow or idle client can hold: these endpoints face
		// the internet (Antom must reach the notification receivers).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.serveErr = make(chan error, 1)
	go func() { m.serveErr <- m.srv.Serve(ln) }()
	if c.DebugAddr != "" {
		if m.debugSrv, err = serveProfiler(c.DebugAddr, m.log); err != nil {
			return err
		}
	}

	apiKeyShown := m.apiKeyFrom.from + " (not shown)"
	if m.apiKeyFrom.generated {
		apiKeyShown = m.APIKey + " (new; " + m.apiKeyFrom.from + ")"
	}
	fmt.Fprintf(out, "autodebit is running\n  console and API: %s\n  API key:         %s\n  database:        %s\n", m.URL, apiKeyShown, redactDB(c.DB))
	if m.Sim != nil {
		simKeyShown := m.simKeyFrom.from + " (not shown)"
		if m.simKeyFrom.generated {
			simKeyShown = m.SimKey + " (new; " + m.simKeyFrom.from + ")"
		}
		fmt.Fprintf(out, "  Antom:           simulator in-process at %s (no Antom settings given)\n", m.SimURL)
		fmt.Fprintf(out, "  simulator key:   %s; its control API and %s/?key=KEY need it\n", simKeyShown, m.SimURL)
		fmt.Fprintf(out, "  simulator state: %s (accounts, tokens, payments, notifications; kept across restarts)\n", m.SimState)
		fmt.Fprintf(out, "  clock:           %s, one for the engine and the simulator, %s; move it with `autodebit clock advance 30d`\n",
			m.Clock.Clock.Now().UTC().Format(time.RFC3339), scaleText(m.Clock.Clock.Scale()))
	} else {
		fmt.Fprintf(out, "  Antom:           %s as %s\n", c.AntomURL, c.ClientID)
	}
	fmt.Fprintf(out, "  notifications:   %s/antom/notify/{authorization,payment,refund}\n", publicURL)
	fmt.Fprintf(out, "  buyers' pages:   %s/link/… (POST /v1/link-sessions makes one)\n", publicURL)
	if m.Sim != nil {
		fmt.Fprintf(out, "  demo shop:       %s%s (links a wallet through a link session and charges it)\n", publicURL, demoshop.Prefix)
	}
	m.log.Info("engine started", "url", m.URL, "publicUrl", publicURL, "simulator", m.Sim != nil)
	return nil
}

// pages serves what the HTTP server does not itself: the buyers' link
// session pages at /link/{secret}, with the in-process simulator the demo
// shop at /demo/, and the console at every other path.
func (m *Main) pages(consoleHandler http.Handler, publicURL string) (http.Handler, error) {
	lp, err := linkpage.New(linkpage.Config{Engine: m.Engine, Logger: m.log})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	lp.Mount(mux)
	if m.Sim != nil {
		shop, err := demoshop.New(demoshop.Config{Engine: m.Engine, BaseURL: publicURL, Logger: m.log})
		if err != nil {
			return nil, err
		}
		mux.Handle(demoshop.Prefix, shop)
	}
	mux.Handle("/", consoleHandler)
	return mux, nil
}

// antomClient builds the Antom client: against the configured gateway, or
// against an in-process simulator with a fresh key pair wired both ways,
// whose state file is encrypted with a key derived from the token key.
func (m *Main) antomClient(ctx context.Context, tokenKey []byte) (*antom.Client, error) {
	c := &m.Config
	var priv *rsa.PrivateKey
	cfg := antom.Config{ObserveFunc: engine.Observe}
	if c.AntomURL == "" {
		if c.ClientID != "" || c.PrivateKey != "" || c.AntomPublicKey != "" {
			return nil, errors.New("--client-id, --private-key and --antom-public-key need --antom-url; without it the simulator runs in-process")
		}
		kp, err := antom.GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		if err := m.simFiles(); err != nil {
			return nil, err
		}
		addr, err := simAddr(c.SimAddr, c.Addr)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if c.SimAddr == "" {
				return nil, fmt.Errorf("the in-process simulator cannot listen on its default address %s (port 8081 of --addr's host, which `autodebit sim` uses too): %w; stop what listens there or pass --sim-addr", addr, err)
			}
			return nil, fmt.Errorf("--sim-addr %s: %w; the in-process simulator keeps one address so that its QR links work across restarts: stop what listens there or pass another --sim-addr", addr, err)
		}
		m.SimURL = "http://" + ln.Addr().String()
		stateKey, err := hkdf.Key(sha256.New, tokenKey, nil, "autodebit simulator state v1", 32)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("derive the simulator state key: %w", err)
		}
		sim, err := antomsim.New(antomsim.Config{MerchantPublicKey: &kp.PrivateKey.PublicKey, ControlSecret: m.SimKey,
			BaseURL: m.SimURL, StateFile: m.SimState, StateKey: stateKey, Logger: m.log.With("component", "antomsim"),
			Clock: m.Clock.Clock})
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("start simulator: %w", err)
		}
		m.Sim = sim
		m.simSrv = &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
		go m.simSrv.Serve(ln)
		cfg.BaseURL, cfg.ClientID, cfg.PrivateKey, cfg.AntomPublicKey = m.SimURL, sim.ClientID(), kp.PrivateKey, sim.AntomPublicKey()
		cfg.NowFunc = m.Clock.Clock.Now
		m.antomPublicKey = sim.AntomPublicKey()
		return antom.NewClient(cfg)
	}
	if c.ClientID == "" || c.PrivateKey == "" || c.AntomPublicKey == "" {
		return nil, errors.New("--antom-url needs --client-id, --private-key and --antom-public-key")
	}
	privText, err := readKeyArg("private-key", c.PrivateKey)
	if err != nil {
		return nil, err
	}
	if priv, err = antom.ParsePrivateKey("--private-key (merchant private key)", privText); err != nil {
		return nil, err
	}
	pubText, err := readKeyArg("antom-public-key", c.AntomPublicKey)
	if err != nil {
		return nil, err
	}
	pub, err := antom.ParsePublicKey("--antom-public-key (Antom public key)", pubText)
	if err != nil {
		return nil, err
	}
	m.antomPublicKey = pub
	cfg.BaseURL, cfg.ClientID, cfg.PrivateKey, cfg.AntomPublicKey = c.AntomURL, c.ClientID, priv, pub
	client, err := antom.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("--antom-url: %w", err)
	}
	return client, nil
}

// oneClock makes the one clock of simulator mode (no --antom-url) and
// returns its Now for every component's NowFunc: the store, the jobs, the
// engine, the Antom client, the notification verifier and the metrics. The
// simulator sets it to the time its state file saved, so the clock, and
// every time stored against it, carry on across restarts. With a real Antom
// it returns nil: everything keeps the real time. Console sessions and
// login limits stay on the real time in both modes (an advance must not log
// the operator out), and so do webhook-timestamp headers.
func (m *Main) oneClock() (func() time.Time, error) {
	c := &m.Config
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	if c.TimeScale < 1 {
		// Slower than real time would let River's rescuer (which measures
		// on the wall clock) rescue a job still running on the slower one.
		return nil, fmt.Errorf("--time-scale %v must be at least 1: 1 is real time, 60 a minute per second", c.TimeScale)
	}
	if c.AntomURL != "" {
		if c.TimeScale != 1 {
			return nil, errors.New("--time-scale needs the in-process simulator: with --antom-url the clock is the real time")
		}
		return nil, nil
	}
	m.Clock = &clock.Stepper{Clock: clock.New(time.Now(), c.TimeScale)}
	return m.Clock.Clock.Now, nil
}

// jobsConfig is the job runner's configuration. On a clock that runs N
// times as fast, the runner promotes due jobs itself every 100ms (River's
// scheduler looks every 5s of real time, 5N seconds of the clock). River's
// rescuer compares a job's start (on the one clock) with the wall clock, so
// it never rescues a job once the clock is ahead: in simulator mode the
// runner is the database's only one (SoleRunner) and releases what a dead
// process left running at start, and a job stuck in a live process ends
// at JobTimeout, in real time.
func (m *Main) jobsConfig(failed func(kind string), now func() time.Time) jobs.Config {
	c := &m.Config
	cfg := jobs.Config{Driver: m.Store.RiverDriver(), Logger: m.log, FailedFunc: failed,
		JobTimeout: c.JobTimeout, RescueAfter: c.JobRescueAfter, NowFunc: now,
		// The one clock exists only with the in-process simulator, whose
		// state file is locked to this process.
		SoleRunner: now != nil}
	if scale := c.TimeScale; now != nil && scale > 1 {
		cfg.PromoteInterval = 100 * time.Millisecond
	}
	return cfg
}

// scaleText says how fast the clock runs.
func scaleText(scale float64) string {
	switch scale {
	case 0:
		return "stopped"
	case 1:
		return "at real speed"
	}
	return fmt.Sprintf("%v× real speed", scale)
}

// errSimStateNeeded: PostgreSQL has no file beside which the simulator's
// state could be kept.
var errSimStateNeeded = errors.New("--sim-state is required with PostgreSQL when the simulator runs in-process (no --antom-url): name the file that keeps its tokens and payments across restarts, e.g. --sim-state /var/lib/autodebit/sim.json")

// simFiles sets where the in-process simulator keeps its state (--sim-state,
// default beside a SQLite database) and reads or makes its control key
// beside it, so that a restart keeps its tokens and its key.
func (m *Main) simFiles() error {
	c := &m.Config
	sqlitePath, isSQLite := strings.CutPrefix(c.DB, "sqlite:")
	m.SimState = c.SimState
	keyBase := sqlitePath
	switch {
	case m.SimState == "" && !isSQLite:
		return errSimStateNeeded
	case m.SimState == "":
		m.SimState = sqlitePath + ".sim.json"
	case !isSQLite:
		keyBase = m.SimState
	}
	key, from, err := m.secret("sim-key", c.SimKey, keyBase, true, false)
	if err != nil {
		return err
	}
	m.SimKey, m.simKeyFrom = string(key), from
	return nil
}

// simAddr returns where the in-process simulator listens: --sim-addr, or
// the --addr host (when it is a loopback address; 127.0.0.1 otherwise)
// with port 8081, or port 0 when --addr's port is 0 (tests). The simulator
// is for this machine only: another address is refused.
func simAddr(flag, addr string) (string, error) {
	if flag != "" {
		if !isLoopback(flag) {
			return "", fmt.Errorf("--sim-addr %s: the in-process simulator may only listen on a loopback address such as 127.0.0.1:8081 (run `autodebit sim --allow-remote` to expose one)", flag)
		}
		return flag, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(addr) {
		host = "127.0.0.1"
	}
	if port != "0" {
		port = "8081"
	}
	return net.JoinHostPort(host, port), nil
}

// keyOrigin says where secret found a key.
type keyOrigin struct {
	generated bool   // made by this run
	from      string // e.g. "kept in autodebit.db.api-key", for the banner
}

// secret returns a key flag's value and where it came from; when the flag
// is empty and the database is SQLite, it reads or creates a 0600 file
// beside the database. tokenKey secrets are 32 random bytes, base64; API
// keys are URL-safe text.
func (m *Main) secret(flag, value, sqlitePath string, isSQLite, binary bool) ([]byte, keyOrigin, error) {
	decode := func(s string) ([]byte, error) {
		s = strings.TrimSpace(s)
		if !binary {
			if len(s) < 16 {
				return nil, fmt.Errorf("--%s must be at least 16 characters", flag)
			}
			return []byte(s), nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("--%s must be 32 bytes in base64 (e.g. from `openssl rand -base64 32`)", flag)
		}
		return b, nil
	}
	env := "AUTODEBIT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	if value != "" {
		origin := keyOrigin{from: "as given by --" + flag + " or " + env}
		if path, ok := strings.CutPrefix(value, "@"); ok {
			origin.from = "read from " + path
		}
		text, err := readKeyArg(flag, value)
		if err != nil {
			return nil, origin, err
		}
		b, err := decode(text)
		return b, origin, err
	}
	if !isSQLite {
		return nil, keyOrigin{}, requiredWithPostgres(flag, binary)
	}
	path := sqlitePath + "." + flag
	origin := keyOrigin{from: "kept in " + path}
	if fi, err := os.Lstat(path); err == nil {
		// Refuse a key file someone else could have planted or can read.
		if !fi.Mode().IsRegular() {
			return nil, origin, fmt.Errorf("--%s: %s is not a regular file; remove it or pass --%s", flag, path, flag)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, origin, fmt.Errorf("--%s: %s is readable by others (mode %v); run chmod 600 %s", flag, path, fi.Mode().Perm(), path)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
			return nil, origin, fmt.Errorf("--%s: %s belongs to another user; remove it or pass --%s", flag, path, flag)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, origin, fmt.Errorf("--%s: %w", flag, err)
		}
		key, err := decode(string(b))
		return key, origin, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, origin, fmt.Errorf("--%s: %w", flag, err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	if !binary {
		prefix := "adk_"
		if flag == "sim-key" {
			prefix = "simk_" // as antomsim.NewControlSecret makes them
		}
		text = prefix + base64.RawURLEncoding.EncodeToString(raw)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, origin, fmt.Errorf("--%s: %w", flag, err)
	}
	if err := writeNewFile(path, []byte(text+"\n")); err != nil {
		return nil, origin, fmt.Errorf("--%s: %w", flag, err)
	}
	m.log.Info("generated a key; keep the file safe", "flag", flag, "file", path)
	origin.generated = true
	key, err := decode(text)
	return key, origin, err
}

// writeNewFile writes a new 0600 file whole or not at all: a crash leaves
// no torn key for the next start to refuse. The data goes to a temporary
// file, is synced, and is linked to path, which fails if path exists (two
// starts racing: the first one's key wins, untouched).
func writeNewFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// requiredWithPostgres says how to make the key a PostgreSQL setup must be
// given: only beside a SQLite file does serve keep keys of its own.
func requiredWithPostgres(flag string, binary bool) error {
	if binary {
		return fmt.Errorf("--%s is required with PostgreSQL: 32 random bytes in base64, made with `head -c32 /dev/urandom | base64`; "+
			"keep it safe and the same on every run, since the tokens stored with it cannot be read without it", flag)
	}
	return fmt.Errorf("--%s is required with PostgreSQL: any secret of 16 characters or more, e.g. from `head -c24 /dev/urandom | base64`", flag)
}

// shutdown closes m after its context ended (SIGINT or SIGTERM), saying so:
// running jobs get up to timeout to finish.
func (m *Main) shutdown(timeout time.Duration) error {
	m.log.Info("shutting down…", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		m.log.Error("stopped with an error", "err", err)
		return err
	}
	m.log.Info("stopped")
	return nil
}

// Close stops the server, the jobs and the simulator and closes the store.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.srv != nil {
		errs = append(errs, m.srv.Shutdown(ctx))
	}
	if m.runner != nil && m.Engine != nil {
		errs = append(errs, m.runner.Stop(ctx))
	}
	if m.simSrv != nil {
		errs = append(errs, m.simSrv.Shutdown(ctx))
	}
	if m.debugSrv != nil {
		errs = append(errs, m.debugSrv.Shutdown(ctx))
	}
	if m.Sim != nil {
		errs = append(errs, m.Sim.Close())
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// redactDB hides every password in a database setting.
func redactDB(db string) string {
	if strings.HasPrefix(db, "sqlite:") {
		return db
	}
	return postgres.Redact(db)
}

// isLoopback reports whether addr (host:port) names a loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
