package engine_test

import (
	"context"
	"crypto/rsa"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/clock"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/jobs"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/storetest"
)

// Keys are made once: RSA key generation is slow.
var (
	keysOnce    sync.Once
	merchantKey *rsa.PrivateKey
	antomKey    *rsa.PrivateKey
)

func keys(tb tester) {
	tb.Helper()
	keysOnce.Do(func() {
		m, err1 := antom.GenerateKeyPair()
		a, err2 := antom.GenerateKeyPair()
		if err1 != nil || err2 != nil {
			panic("generate keys")
		}
		merchantKey, antomKey = m.PrivateKey, a.PrivateKey
	})
}

const apiKey = "test-api-key-0123456789"

// stack is the whole system in one process, on one manual clock (as serve
// wires simulator mode): the simulator, a store, River jobs, the engine and
// its HTTP server all read clk, so advancing it makes orders close,
// notifications resend and scheduled jobs fall due.
type stack struct {
	tb     tester
	clk    *clock.Clock
	sim    *antomsim.Sim
	simSrv *httptest.Server
	store  *sqldb.Store
	runner *jobs.Runner
	eng    *engine.Engine
	srv    *httptest.Server
	ctx    context.Context
	cancel context.CancelFunc
	engCfg func(*engine.Config)
}

type stackOptions struct {
	sim    func(*antomsim.Config)
	engine func(*engine.Config)
	// antom, when set, wraps the simulator's handler as the engine's
	// Antom client sees it, to hold or change an exchange.
	antom func(http.Handler) http.Handler
	// start, when set, is where the one clock starts (default: now).
	start time.Time
}

// tester is what the stack needs of a test: *testing.T and *rapid.T both
// have it.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

func newStack(tb testing.TB, open storetest.Opener, opt stackOptions) *stack {
	tb.Helper()
	return newStackOn(tb, tb, open, opt)
}

// newStackOn is newStack with the store opened on res (a *testing.T that
// outlives tb, for property tests where tb is a *rapid.T).
func newStackOn(res testing.TB, tb tester, open storetest.Opener, opt stackOptions) *stack {
	tb.Helper()
	keys(tb)
	start := opt.start
	if start.IsZero() {
		start = time.Now()
	}
	clk := clock.NewManual(start)
	simCfg := antomsim.Config{
		AntomPrivateKey:   antomKey,
		MerchantPublicKey: &merchantKey.PublicKey,
		Clock:             clk,
		Seed:              1,
		Logger:            testLogger(),
	}
	if opt.sim != nil {
		opt.sim(&simCfg)
	}
	sim, err := antomsim.New(simCfg)
	if err != nil {
		tb.Fatal(err)
	}
	s := &stack{tb: tb, clk: clk, sim: sim, engCfg: opt.engine}
	var simHandler http.Handler = sim
	if opt.antom != nil {
		simHandler = opt.antom(sim)
	}
	s.simSrv = httptest.NewServer(simHandler)
	tb.Cleanup(func() {
		s.simSrv.Close()
		sim.Close()
	})
	var runner func() *jobs.Runner
	s.store = open.Open(res, sqldb.Config{
		TokenKey: make([]byte, sqldb.TokenKeySize),
		NowFunc:  sim.Now,
		EnqueueFunc: func(ctx context.Context, tx *sql.Tx, js []autodebit.Job) error {
			return runner().Enqueue(ctx, tx, js)
		},
	})
	runner = func() *jobs.Runner { return s.runner }
	s.start()
	return s
}

// start starts a fresh engine process on the stack's store: a new Antom
// client, engine, job runner and HTTP server.
func (s *stack) start() {
	tb := s.tb
	tb.Helper()
	var h http.Handler
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	client, err := antom.NewClient(antom.Config{
		BaseURL: s.simSrv.URL, ClientID: s.sim.ClientID(), PrivateKey: merchantKey, AntomPublicKey: s.sim.AntomPublicKey(),
		Timeout: 5 * time.Second, NowFunc: s.sim.Now, ObserveFunc: engine.Observe,
	})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := engine.Config{Store: s.store, Antom: client, PublicURL: s.srv.URL, NowFunc: s.sim.Now, Logger: testLogger(), CallTimeout: 5 * time.Second}
	if s.engCfg != nil {
		s.engCfg(&cfg)
	}
	if s.eng, err = engine.New(cfg); err != nil {
		tb.Fatal(err)
	}
	srv, err := adhttp.NewServer(adhttp.Config{
		Engine: s.eng, APIKey: apiKey, Logger: testLogger(),
		Verifier: &antom.NotificationVerifier{ClientID: s.sim.ClientID(), AntomPublicKey: s.sim.AntomPublicKey(), NowFunc: s.sim.Now},
	})
	if err != nil {
		tb.Fatal(err)
	}
	h = srv
	if s.runner, err = jobs.New(jobs.Config{Driver: s.store.RiverDriver(), NowFunc: s.sim.Now, PollInterval: 20 * time.Millisecond, Logger: testLogger(), SoleRunner: true}); err != nil {
		tb.Fatal(err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.runner.Start(s.ctx, s.eng); err != nil {
		tb.Fatal(err)
	}
	if err := s.eng.Resume(s.ctx); err != nil {
		tb.Fatal(err)
	}
	runner, srvHTTP, cancel := s.runner, s.srv, s.cancel
	tb.Cleanup(func() {
		cancel()
		ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		runner.Stop(ctx)
		srvHTTP.Close()
	})
}

// crash stops the engine process abruptly: running jobs are cancelled and
// the HTTP server is closed, as if the process was killed; the store and the
// simulator live on.
func (s *stack) crash() {
	s.cancel()
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	s.runner.Client().StopAndCancel(ctx)
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// advance moves the one clock forward as POST /v1/clock/advance does: it
// steps to each due time on the way and returns once the simulator, the
// jobs and the engine's periodic work have settled. The bound is generous:
// each snoozed job (an inquiry's backoff) waits up to 250ms of real time
// for River's batch completer, and a jump of weeks over orders left
// processing runs hundreds of them on two busy cores.
func (s *stack) advance(d time.Duration) {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := clock.Advance(ctx, s.clk, d, s.sim, s.runner, s.eng); err != nil {
		s.tb.Fatal(err)
	}
}

// waitFor polls cond until it holds or 15s pass.
func (s *stack) waitFor(what string, cond func() bool) {
	s.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *stack) charge(id string) *autodebit.Charge {
	s.tb.Helper()
	c, err := s.store.FindChargeByID(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	return c
}

// waitCharge waits until charge id is final, advancing the clock a step at
// a time (so that inquiries and order closes happen), and returns it.
func (s *stack) waitCharge(id string, step time.Duration) *autodebit.Charge {
	s.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := s.charge(id)
		if c.Status.Final() {
			return c
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("charge %s still %s (code %s) after 20s", id, c.Status, c.ResultCode)
		}
		if step > 0 {
			s.advance(step)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// link runs a whole linking attempt and returns the ACTIVE token.
func (s *stack) link(customer, wallet string) *autodebit.Token {
	s.tb.Helper()
	ctx := context.Background()
	a, err := s.eng.CreateAuthorization(ctx, customer, wallet)
	if err != nil {
		s.tb.Fatal(err)
	}
	if a.Status != autodebit.AuthorizationPending || a.QRText == "" {
		s.tb.Fatalf("authorization = %+v", a)
	}
	if _, err := s.sim.Approve(a.QRText, ""); err != nil {
		s.tb.Fatal(err)
	}
	var got *autodebit.Authorization
	s.waitFor("authorization ACTIVE", func() bool {
		got, err = s.store.FindAuthorizationByID(ctx, a.ID)
		return err == nil && got.Status.Final()
	})
	if got.Status != autodebit.AuthorizationActive {
		s.tb.Fatalf("authorization %s is %s (%s: %s), want ACTIVE", a.ID, got.Status, got.FailureCode, got.FailureMessage)
	}
	t, err := s.store.FindTokenByID(ctx, got.TokenID)
	if err != nil {
		s.tb.Fatal(err)
	}
	return t
}

func (s *stack) mustCharge(tokenID string, value int64, currency string) *autodebit.Charge {
	s.tb.Helper()
	c, err := s.eng.CreateCharge(context.Background(), engine.ChargeInput{
		TokenID: tokenID, Amount: autodebit.Amount{Currency: currency, Value: value}, Description: "test " + strconv.FormatInt(value, 10),
	})
	if err != nil {
		s.tb.Fatal(err)
	}
	return c
}

func (s *stack) setFaults(f antomsim.Faults) {
	s.tb.Helper()
	if err := s.sim.SetFaults(f); err != nil {
		s.tb.Fatal(err)
	}
}

// checkTruth compares every charge, refund and token in the store with the
// simulator's truth: a charge is SUCCESS exactly when Antom kept the money,
// a final charge's status agrees with Antom's, and no one was debited twice.
func (s *stack) checkTruth() {
	s.tb.Helper()
	ctx := context.Background()
	truth := s.sim.Truth()
	if len(truth.Violations) > 0 {
		s.tb.Errorf("simulator invariants broken: %v", truth.Violations)
	}
	payments := map[string]antomsim.Payment{}
	for _, p := range truth.Payments {
		payments[p.PaymentRequestID] = p
		if p.Debits > 1 {
			s.tb.Errorf("payment %s debited %d times", p.PaymentRequestID, p.Debits)
		}
	}
	charges, _, err := s.store.FindCharges(ctx, autodebit.ChargeFilter{})
	if err != nil {
		s.tb.Fatal(err)
	}
	for _, c := range charges {
		p, ok := payments[c.PaymentRequestID]
		if !c.Status.Final() {
			s.tb.Errorf("charge %s is still INIT", c.ID)
			continue
		}
		kept := ok && p.Status == antom.PaymentStatusSuccess
		if (c.Status == autodebit.ChargeSuccess) != kept {
			s.tb.Errorf("charge %s is %s but Antom says %+v (exists %v)", c.ID, c.Status, p.Status, ok)
		}
		if c.Status == autodebit.ChargeCancelled && ok && p.Status != antom.PaymentStatusCancelled && p.Status != antom.PaymentStatusFail {
			s.tb.Errorf("charge %s is CANCELLED but Antom says %s", c.ID, p.Status)
		}
		if ok && c.Status == autodebit.ChargeSuccess && c.RefundedValue != p.Refunded.Value {
			s.tb.Errorf("charge %s refunded %d, Antom refunded %d", c.ID, c.RefundedValue, p.Refunded.Value)
		}
	}
	tokens, _, err := s.store.FindTokens(ctx, autodebit.TokenFilter{})
	if err != nil {
		s.tb.Fatal(err)
	}
	simTokens := map[string]antomsim.Token{}
	for _, t := range truth.Tokens {
		simTokens[t.AccessToken] = t
	}
	for _, t := range tokens {
		st, ok := simTokens[t.AccessToken]
		if !ok {
			s.tb.Errorf("token %s is unknown to Antom", t.ID)
			continue
		}
		if (t.Status == autodebit.TokenActive) != (st.Status == antomsim.TokenActive) {
			s.tb.Errorf("token %s is %s, Antom says %s", t.ID, t.Status, st.Status)
		}
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("AUTODEBIT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// forEachStore runs fn as a subtest on every store.
func forEachStore(t *testing.T, fn func(t *testing.T, open storetest.Opener)) {
	for _, o := range storetest.Openers() {
		t.Run(o.Name, func(t *testing.T) {
			if o.Name == "postgres" {
				storetest.PostgresURL(t)
			}
			fn(t, o)
		})
	}
}

// defaultGCashLogin is the simulator's default GCash account.
const defaultGCashLogin = "09171234567"

// setPayMode sets how the default GCash account's payments end.
func (s *stack) setPayMode(mode string) {
	s.tb.Helper()
	if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{PayMode: &mode}); err != nil {
		s.tb.Fatal(err)
	}
}

// storeUnsentCharge stores an INIT charge as CreateCharge does and stops
// there, as if the process died before pay was sent.
func (s *stack) storeUnsentCharge(tok *autodebit.Token) *autodebit.Charge {
	s.tb.Helper()
	ctx := context.Background()
	now := s.sim.Now()
	c := &autodebit.Charge{
		TokenID: tok.ID, CustomerID: tok.CustomerID, Wallet: tok.Wallet, Amount: autodebit.Amount{Currency: "PHP", Value: 1500},
		Status: autodebit.ChargeInit, PaymentRequestID: autodebit.NewPaymentRequestID(), RequestHash: "h",
		ExpiresAt: now.Add(55 * time.Second).Truncate(time.Second), NextInquiryAt: now.Add(2 * time.Second), CreatedAt: now,
	}
	if err := s.store.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, c) }); err != nil {
		s.tb.Fatal(err)
	}
	return c
}
