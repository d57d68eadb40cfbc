// Package antomsim is a stateful Antom simulator for Scan to Link auto debit.
//
// A *Sim is an http.Handler serving:
//
//   - Antom's Open API at /ams/api/v1/... and /ams/sandbox/api/v1/...: consult,
//     applyToken, revoke, pay, inquiryPayment, cancel, refund and
//     inquiryRefund, signed both ways exactly as Antom does (package antom
//     does the signing, decoding and validation);
//   - the wallet page at the consult QR code's TEXT URL (/qr/{code}): GET shows
//     a phone-like page to pick or create an account and approve or deny; a
//     JSON POST {"action":"approve"|"deny","userLoginId":"..."} does the same
//     for scripts; /qr/{code}.png is the QR image;
//   - the control API under /sim/v1/ (see the routes in control.go): accounts,
//     faults, wallet-side token cancel, the clock, the notification delivery
//     log and the truth about every payment, refund and token. With
//     Config.ControlSecret set it needs that key (see guard.go).
//
// Every request must name the simulator in its Host header, and a browser's
// state-changing request must come from the simulator's own origin (see
// Config.AllowedHosts).
//
// Everything time-based (authorization and authCode expiry, order close,
// notification resends) runs on the simulator's Clock, which runs at
// Config.TimeScale times real time and can be advanced by hand. Under a fixed
// Config.Seed, IDs, tokens and fault decisions repeat from run to run (for
// the same sequence of calls); QR codes do not, since knowing one is enough
// to approve its link.
package antomsim

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/clock"
)

// DefaultClientID is the Client-Id the simulator accepts when
// Config.ClientID is empty.
const DefaultClientID = "SANDBOX_5X00000000SIMULATOR"

// DefaultRetrySchedule is the wait before each notification delivery
// attempt, counted from the previous attempt: Antom sends at once and resends
// after 2m, 10m, 10m, 1h, 2h, 6h and 15h, then stops (antom-api.md §7): eight
// attempts in all.
var DefaultRetrySchedule = []time.Duration{0, 2 * time.Minute, 10 * time.Minute, 10 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour}

// TokenValidity is how long tokens issued for one wallet stay valid.
type TokenValidity struct {
	// AccessToken is the access token's lifetime. Zero means the wallet's
	// validity in Antom's Scan to Link guide: 92 years for ALIPAY_CN, 100
	// years for the others.
	AccessToken time.Duration
	// RefreshToken is the refresh token's lifetime. Zero means the access
	// token's.
	RefreshToken time.Duration
	// NoRefreshToken makes applyToken return no refresh token (some wallets
	// do not support refresh; their access tokens then live long).
	NoRefreshToken bool
}

// Config configures a Sim. The zero value is usable: it simulates Antom at
// real speed for DefaultClientID with a fresh Antom key pair and does not
// verify merchant signatures.
type Config struct {
	// ClientID is the merchant Client-Id the simulator accepts; requests with
	// another get CLIENT_INVALID. Empty means DefaultClientID.
	ClientID string
	// AntomPrivateKey signs responses and notifications. Nil means a new
	// RSA-2048 key is generated; read its public half with AntomPublicKey.
	AntomPrivateKey *rsa.PrivateKey
	// MerchantPublicKey, when set, verifies every API request: a missing or
	// bad signature gets an unsigned INVALID_SIGNATURE F, as Antom answers.
	// Nil means requests are not verified.
	MerchantPublicKey *rsa.PublicKey
	// BaseURL is the simulator's public URL (scheme and host), used in the
	// consult QR code links; its host is accepted in the Host header. Empty
	// means it is taken from each consult request's Host header
	// (http://host).
	BaseURL string
	// ControlSecret, when set, is the key the control API (/sim/v1/) and the
	// home page's list of waiting QR codes need: "Authorization: Bearer
	// ControlSecret", or, in a browser, the home page opened once as
	// /?key=ControlSecret (which sets a read-only cookie). Other requests get
	// 401 {"error": "..."}. The wallet page at a QR URL and Antom's API do not
	// need it, and neither do the Go methods (Approve, SetFaults, …). At least
	// 16 characters; NewControlSecret makes one. Empty leaves the control API
	// open, for tests that serve the simulator themselves; autodebit serve
	// and autodebit sim always set one.
	ControlSecret string
	// AllowedHosts are host names (no port) accepted in the Host header
	// besides the loopback names (localhost, 127.0.0.1 and the rest of
	// 127.0.0.0/8, ::1) and BaseURL's host. A request naming another host
	// gets 403: a web page rebound to 127.0.0.1 (DNS rebinding) cannot reach
	// the simulator. Nil means the loopback names and BaseURL's host only.
	AllowedHosts []string
	// NotifyURL is the default notification URL, like the Antom dashboard
	// setting; a URL in the request (authNotifyUrl, paymentNotifyUrl,
	// refundNotifyUrl) wins. Empty means notifications without a URL in the
	// request are not sent (they are logged with status NO_URL).
	NotifyURL string
	// TimeScale is how fast the simulator's clock runs: 1 is real time, 60 a
	// minute per second. Zero means 1. Ignored when ManualClock or Clock is
	// set.
	TimeScale float64
	// ManualClock stops the clock: it moves only through Advance (or the
	// control API's clock/advance). Tests use it for repeatable times.
	// Ignored when Clock is set.
	ManualClock bool
	// Start is the clock's initial time. Zero means time.Now(). Ignored
	// when Clock is set.
	Start time.Time
	// Clock, when set, is a clock the simulator shares with its merchant,
	// in one process (autodebit serve's one clock in simulator mode): the
	// simulator runs on it, sets it to the time its StateFile saved, and
	// writes the Request-Time of notifications and the Response-Time of
	// answers on it, since the merchant judges them on the same clock.
	// Nil makes a clock of the simulator's own (TimeScale, ManualClock,
	// Start) and writes those headers on the wall clock instead: a
	// standalone simulator may run fast or be advanced, while the merchants
	// it serves run on real time (see headerNow).
	Clock *clock.Clock
	// Location is the time zone of the times the simulator writes. Nil means
	// UTC+08:00, as Antom's examples show.
	Location *time.Location
	// Seed makes IDs, tokens and fault decisions repeat from run to run
	// (not QR codes, which are always random). Zero means a random seed
	// (read it with Seed).
	Seed int64
	// HTTPClient delivers notifications. Nil means a client with a 10s
	// timeout.
	HTTPClient *http.Client
	// Logger receives the simulator's log. Nil means slog.Default().
	Logger *slog.Logger

	// AuthorizationExpiry is how long a consult QR code waits for the buyer.
	// Zero means 15 minutes.
	AuthorizationExpiry time.Duration
	// AuthCodeValidity is how long an authCode can be exchanged by
	// applyToken. Zero means 1 minute.
	AuthCodeValidity time.Duration
	// TokenValidity sets token lifetimes per wallet code; wallets not listed
	// use DefaultTokenValidity.
	TokenValidity map[string]TokenValidity
	// DefaultTokenValidity is the token lifetime of wallets not in
	// TokenValidity. Zero fields mean the validity in Antom's Scan to Link
	// guide (see TokenValidity).
	DefaultTokenValidity TokenValidity
	// PaymentExpiry is when an unfinished payment closes (with FAIL
	// ORDER_IS_CLOSED), counted from pay, when the request sets no
	// paymentExpiryTime; it is also the longest paymentExpiryTime accepted.
	// Zero means 1 minute (antom.MaxPaymentExpiry).
	PaymentExpiry time.Duration
	// PaymentExpiryTolerance is the slack allowed when checking that
	// paymentExpiryTime is at most PaymentExpiry after the request's own
	// Request-Time (the merchant's clock, not the simulator's: see pay).
	// Zero means 2s.
	PaymentExpiryTolerance time.Duration
	// ProcessingDelay is how long a payment of an account in PayModeProcessing
	// stays PROCESSING before its final result, when the account sets none.
	// Zero means 5s.
	ProcessingDelay time.Duration
	// CancelWindow is how long after pay a payment can be cancelled. Zero
	// means Antom's usual rule: until 00:15 (UTC+08:00) of the next day.
	CancelWindow time.Duration
	// RefundWindow is how long after payment a refund is accepted. Zero
	// means 365 days.
	RefundWindow time.Duration
	// NoRevokeNotification stops merchant revoke from sending TOKEN_CANCELED.
	// By default (false) revoke sends it, as the notification type's
	// description says (antom-api.md §13 lists this as unconfirmed).
	NoRevokeNotification bool
	// RetrySchedule is the wait before each notification delivery attempt,
	// counted from the previous attempt's scheduled time. Nil means
	// DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// MaxLoggedNotifications bounds the delivery log: past it, the oldest
	// finished notifications are dropped from the log (the truth about
	// payments, refunds and tokens is kept whole). Zero means 10,000.
	MaxLoggedNotifications int
	// NotifyConcurrency bounds concurrent notification deliveries. Zero
	// means 32.
	NotifyConcurrency int
	// TimeHeaderFormat is the format of the Response-Time and notification
	// Request-Time headers: a Go time layout, or "epochms" for Unix epoch
	// milliseconds. Empty means ISO 8601 with milliseconds in Location, as
	// in the signature test vector (antom-api.md §13: the real format is
	// unconfirmed).
	TimeHeaderFormat string
	// Codes renames result codes whose spelling is unconfirmed
	// (antom-api.md §13), e.g. {"INVALID_ACCESS_TOKEN": "ACCESS_TOKEN_INVALID"}.
	// Keys are the codes this package uses (the antom.Code* constants).
	Codes map[string]string
	// Accounts are the wallet accounts at start. Nil means one account per
	// wallet (see DefaultAccounts).
	Accounts []Account
	// DefaultBalance is the balance, in major units of the wallet's
	// currency, of an account created without one (also by the wallet
	// page). Zero means 1,000,000.
	DefaultBalance int64

	// StateFile, when set, keeps the simulator's state across restarts:
	// accounts and balances, consults, tokens, payments with their debits
	// and refunds, the notification delivery log with the attempts still
	// to come, settings, faults, the clock and the ID generator (so IDs
	// never repeat). New loads the file if it exists, then the state
	// replaces Accounts, Seed and Start (a running clock resumes as if it
	// had kept running while the simulator was down). A file that cannot
	// be read is an error naming it, never an empty start. The file is
	// written atomically, 0600 (it holds access tokens), at New, about
	// 100 ms after each change and on Close: a process killed outright
	// loses at most the last 100 ms of changes. The Antom key is not in
	// it; set AntomPrivateKey to keep signatures valid for merchants that
	// pinned the public key. Empty keeps the state in memory only.
	StateFile string
	// StateKey, when set (32 bytes), encrypts the state file with
	// AES-256-GCM, so the access tokens in it are not in clear at rest; a
	// file that does not open with it, or is in clear, is refused at New.
	// Nil writes the file in clear (for tests).
	StateKey []byte
}

// Sim is a stateful Antom simulator. Create it with New; it is safe for
// concurrent use. Call Close to stop background delivery.
type Sim struct {
	cfg         Config
	key         *rsa.PrivateKey
	pubBase64   string
	merchantKey *rsa.PublicKey
	log         *slog.Logger
	clock       *clock.Clock
	httpClient  *http.Client
	seed        int64
	schedule    []time.Duration
	mux         *http.ServeMux
	handler     http.Handler // mux behind guard
	hosts       map[string]bool
	ctl         *http.ServeMux
	controlOnce sync.Once

	mu sync.Mutex // guards the state below
	st state

	kick chan struct{}
	done chan struct{}
	bg   sync.WaitGroup

	flightMu   sync.Mutex
	flightCond *sync.Cond
	inflight   int
	sem        chan struct{}
	closeOnce  sync.Once
	closeErr   error

	saveKick  chan struct{} // a state change to write; nil without StateFile
	settledAt atomic.Int64  // the clock (UnixNano) at the last Settle: a move is a change to save
	stateLock *os.File      // holds the flock on StateFile + ".lock"
	saveMu    sync.Mutex    // one write of the state file at a time
	stateAEAD cipher.AEAD   // seals the state file; nil without StateKey
}

// New checks cfg, fills in defaults and returns a running simulator.
func New(cfg Config) (*Sim, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	if cfg.TimeScale < 0 {
		return nil, fmt.Errorf("antomsim: TimeScale %v must be positive", cfg.TimeScale)
	}
	if cfg.Location == nil {
		cfg.Location = time.FixedZone("UTC+8", 8*3600)
	}
	if cfg.BaseURL != "" {
		if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
			return nil, fmt.Errorf("antomsim: BaseURL %q must start with http:// or https://", cfg.BaseURL)
		}
		cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	if cfg.ControlSecret != "" && len(cfg.ControlSecret) < minControlSecret {
		return nil, fmt.Errorf("antomsim: ControlSecret must be at least %d characters (NewControlSecret makes one)", minControlSecret)
	}
	setDefault(&cfg.AuthorizationExpiry, 15*time.Minute)
	setDefault(&cfg.AuthCodeValidity, time.Minute)
	setDefault(&cfg.PaymentExpiry, antom.MaxPaymentExpiry)
	setDefault(&cfg.PaymentExpiryTolerance, 2*time.Second)
	setDefault(&cfg.ProcessingDelay, 5*time.Second)
	setDefault(&cfg.RefundWindow, 365*24*time.Hour)
	if cfg.MaxLoggedNotifications <= 0 {
		cfg.MaxLoggedNotifications = 10_000
	}
	if cfg.NotifyConcurrency <= 0 {
		cfg.NotifyConcurrency = 32
	}
	if cfg.DefaultBalance <= 0 {
		cfg.DefaultBalance = 1_000_000
	}
	s := &Sim{cfg: cfg, key: cfg.AntomPrivateKey, merchantKey: cfg.MerchantPublicKey, log: cfg.Logger,
		httpClient: cfg.HTTPClient, seed: cfg.Seed, schedule: cfg.RetrySchedule,
		kick: make(chan struct{}, 1), done: make(chan struct{}), sem: make(chan struct{}, cfg.NotifyConcurrency)}
	s.flightCond = sync.NewCond(&s.flightMu)
	var saved *savedState
	started := false // set just before New returns the simulator
	if cfg.StateFile != "" {
		var err error
		// One simulator per state file: two would each keep a copy in
		// memory, and the last to write would erase the other's tokens.
		if s.stateLock, err = lockState(cfg.StateFile); err != nil {
			return nil, err
		}
		lock := s.stateLock
		defer func() {
			if !started {
				lock.Close() // New failed: another simulator may have the file
			}
		}()
		removeStaleTemps(cfg.StateFile)
		if cfg.StateKey != nil {
			if s.stateAEAD, err = stateAEAD(cfg.StateKey); err != nil {
				return nil, err
			}
		}
		if saved, err = readState(cfg.StateFile, s.stateAEAD); err != nil {
			return nil, err
		}
		s.saveKick = make(chan struct{}, 1)
	}
	if saved != nil {
		s.seed = saved.Seed
	}
	if s.key == nil {
		kp, err := antom.GenerateKeyPair()
		if err != nil {
			return nil, fmt.Errorf("antomsim: %w", err)
		}
		s.key = kp.PrivateKey
	}
	s.key.Precompute()
	pub, err := antom.EncodePublicKey(&s.key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("antomsim: %w", err)
	}
	s.pubBase64 = pub
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.httpClient == nil {
		s.httpClient = &http.Client{
			Timeout: 10 * time.Second,
			// A notification is one POST; a redirect answer is a failed
			// delivery, not a reason to fetch another URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if s.seed == 0 {
		var b [8]byte
		rand.Read(b[:])
		s.seed = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
		if s.seed == 0 {
			s.seed = 1
		}
	}
	if s.schedule == nil {
		s.schedule = DefaultRetrySchedule
	}
	if len(s.schedule) == 0 {
		return nil, errors.New("antomsim: RetrySchedule must have at least one entry")
	}
	start := cfg.Start
	if saved != nil {
		start = saved.resumeTime(time.Now())
	} else if start.IsZero() {
		start = time.Now()
	}
	switch {
	case cfg.Clock != nil:
		s.clock = cfg.Clock
		if saved != nil {
			s.clock.Set(start)
		}
	case cfg.ManualClock:
		s.clock = clock.NewManual(start.In(cfg.Location))
	default:
		s.clock = clock.New(start.In(cfg.Location), cfg.TimeScale)
	}
	s.st.init(s.seed)
	if saved != nil {
		if err := s.restore(saved, cfg.StateFile); err != nil {
			return nil, err
		}
	} else {
		accounts := cfg.Accounts
		if accounts == nil {
			accounts = DefaultAccounts(cfg.DefaultBalance)
		}
		for _, a := range accounts {
			if _, err := s.CreateAccount(a); err != nil {
				return nil, fmt.Errorf("antomsim: Accounts: %w", err)
			}
		}
	}
	s.hosts = hostNames(cfg)
	s.mux = http.NewServeMux()
	s.routes()
	s.handler = s.guard(s.mux)
	// Write at once: a state file that cannot be written fails here, not
	// after the first token was issued.
	if err := s.Save(); err != nil {
		return nil, err
	}
	s.bg.Add(1)
	go s.run()
	if s.saveKick != nil {
		s.bg.Add(1)
		go s.saveLoop()
	}
	started = true
	return s, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Close stops background delivery, waits for deliveries in flight and
// writes the state file (Config.StateFile), returning its error. The
// handler keeps answering API calls, but nothing time-based happens any
// more, and later changes are not saved unless Save is called.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.bg.Wait()
		s.waitInflight(context.Background())
		s.closeErr = s.Save()
		if s.stateLock != nil {
			s.stateLock.Close() // releases the lock
		}
	})
	return s.closeErr
}

func (s *Sim) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// ClientID returns the merchant Client-Id the simulator accepts.
func (s *Sim) ClientID() string { return s.cfg.ClientID }

// AntomPublicKey returns the public half of Antom's key, which merchants use
// to verify responses and notifications.
func (s *Sim) AntomPublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// AntomPublicKeyBase64 returns AntomPublicKey as one-line base64 X.509 DER,
// the form Antom's dashboard shows.
func (s *Sim) AntomPublicKeyBase64() string { return s.pubBase64 }

// Seed returns the seed in use (Config.Seed, or the random one chosen).
func (s *Sim) Seed() int64 { return s.seed }

// Clock returns the simulator's clock.
func (s *Sim) Clock() *clock.Clock { return s.clock }

// Now returns the simulator's current time.
func (s *Sim) Now() time.Time { return s.now() }

// now is the simulator's time in Config.Location, the zone of the times it
// writes.
func (s *Sim) now() time.Time { return s.clock.Now().In(s.cfg.Location) }

// headerNow is the time written in the Request-Time of a notification and
// the Response-Time of an answer: the moment it is sent, on the receiver's
// clock, which is what a receiver checks freshness against. That is the
// shared clock when the merchant runs on it (Config.Clock), and the wall
// clock otherwise: a simulator that runs fast or was advanced a month still
// sends its notifications now, so stamping them with its own clock would put
// them a month in a real-time merchant's future (and its freshness check
// would refuse them). What a notification reports (paymentTime, the
// payment's status) stays on the simulator's clock.
func (s *Sim) headerNow() time.Time {
	if s.cfg.Clock != nil {
		return s.now()
	}
	return time.Now().In(s.cfg.Location)
}

// ServeHTTP serves the Antom API, the wallet page and the control API, after
// the Host and cross-origin checks (see guard).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Sim) routes() {
	s.mux.HandleFunc("/ams/", s.serveAPI)
	s.mux.HandleFunc("/qr/{code}", s.serveWallet)
	s.mux.HandleFunc("/sim/v1/", s.serveControl)
	s.mux.HandleFunc("/{$}", s.serveHome)
}

// code returns the result code to send for c, after Config.Codes.
func (s *Sim) code(c string) string {
	if v, ok := s.cfg.Codes[c]; ok && v != "" {
		return v
	}
	return c
}

// timeHeader formats t for the Response-Time and Request-Time headers.
func (s *Sim) timeHeader(t time.Time) string {
	switch s.cfg.TimeHeaderFormat {
	case "":
		return t.In(s.cfg.Location).Format(timeHeaderLayout)
	case "epochms":
		return fmt.Sprint(t.UnixMilli())
	default:
		return t.In(s.cfg.Location).Format(s.cfg.TimeHeaderFormat)
	}
}

// year is a Julian year, as token validity periods are counted.
const year = time.Duration(365.25 * 24 * float64(time.Hour))

// timeHeaderLayout is ISO 8601 with milliseconds and an offset, as in
// Antom's older docs and the Response-Time of the signature test vector
// (2023-06-01T14:12:14.125+08:00).
const timeHeaderLayout = "2006-01-02T15:04:05.000Z07:00"

func (s *Sim) tokenValidity(wallet string) TokenValidity {
	v, ok := s.cfg.TokenValidity[wallet]
	if !ok {
		v = s.cfg.DefaultTokenValidity
	}
	guide := 100 * year // Antom's Scan to Link guide: 100 years, Alipay 92
	if wallet == "ALIPAY_CN" {
		guide = 92 * year
	}
	setDefault(&v.AccessToken, guide)
	setDefault(&v.RefreshToken, v.AccessToken)
	return v
}

// Settle waits until every event that is due has been processed and every
// notification delivery in flight has finished (including resends that
// became due meanwhile). Tests call it after an API call to see its
// notifications in the delivery log. When ctx ends first it returns an
// error saying what is still in flight. Settle is the simulator's side of
// clock.Waiter.
func (s *Sim) Settle(ctx context.Context) error {
	s.poke() // the runner's timer was set before any move of the clock
	if now := s.now().UnixNano(); s.settledAt.Swap(now) != now {
		// The clock moved (clock.Advance over every waiter of a shared
		// clock): the state file keeps where it stands, even when
		// nothing fell due on the simulator's side.
		s.changed()
	}
	for {
		s.runDue()
		if err := s.waitInflight(ctx); err != nil {
			return err
		}
		if !s.hasDue() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("antomsim: events due are still waiting: %w", err)
		}
	}
}

// Advance moves the clock forward by d, processes everything that becomes
// due in time order, each at its own time (expiries, order closes,
// notification attempts and their resends), waits for the deliveries to
// finish and returns the new time. A 24-hour advance runs a whole resend
// schedule. On a clock shared with an engine (Config.Clock) it waits only
// for the simulator: move that clock with clock.Advance over every waiter.
func (s *Sim) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("advance by %s: duration must not be negative", d)
	}
	t, err := clock.Advance(context.Background(), s.clock, d, s)
	s.changed()
	return t.In(s.cfg.Location), err
}
