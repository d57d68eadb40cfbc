package console_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	adclock "github.com/autodebit/autodebit/clock"
	"github.com/autodebit/autodebit/console"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/jobs"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
)

const apiKey = "test-console-api-key-0123456789"

// stack is the whole engine in one process, wired as `autodebit serve`
// wires it: SQLite in a temporary directory, the simulator, River jobs, the
// engine, and the HTTP server with the console at "/", all on one clock
// running at real speed.
type stack struct {
	URL    string // the engine: API, QR images, console
	Sim    *antomsim.Sim
	Store  *sqldb.Store
	Engine *engine.Engine
	Clock  *adclock.Stepper
}

// newStack starts the stack; opts change the engine's configuration. Webhook
// endpoints may be on this machine, as with serve's in-process simulator.
func newStack(tb testing.TB, opts ...func(*engine.Config)) *stack {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("AUTODEBIT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	clk := &adclock.Stepper{Clock: adclock.New(time.Now(), 1)}
	sim, err := antomsim.New(antomsim.Config{MerchantPublicKey: &kp.PrivateKey.PublicKey, Logger: log, Clock: clk.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	tb.Cleanup(func() { simSrv.Close(); sim.Close() })

	// The engine's URL must exist before the engine (it is the notify URL).
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)

	var runner *jobs.Runner
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "autodebit.db"), sqldb.Config{
		TokenKey: make([]byte, 32),
		NowFunc:  clk.Clock.Now,
		EnqueueFunc: func(ctx context.Context, tx *sql.Tx, js []autodebit.Job) error {
			return runner.Enqueue(ctx, tx, js)
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	if runner, err = jobs.New(jobs.Config{Driver: store.RiverDriver(), Logger: log, NowFunc: clk.Clock.Now}); err != nil {
		tb.Fatal(err)
	}
	client, err := antom.NewClient(antom.Config{
		BaseURL: simSrv.URL, ClientID: sim.ClientID(), PrivateKey: kp.PrivateKey, AntomPublicKey: sim.AntomPublicKey(),
		ObserveFunc: engine.Observe, NowFunc: clk.Clock.Now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := engine.Config{Store: store, Antom: client, PublicURL: srv.URL, Logger: log, WebhookURLPolicy: engine.WebhookURLsAny, NowFunc: clk.Clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	clk.Waiters = []adclock.Waiter{sim, runner, eng}
	con, err := console.New(console.Config{Engine: eng, APIKey: apiKey, Logger: log, Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	api, err := adhttp.NewServer(adhttp.Config{
		Engine: eng, APIKey: apiKey, Logger: log, Extra: con,
		Verifier: &antom.NotificationVerifier{ClientID: client.ClientID(), AntomPublicKey: sim.AntomPublicKey(), NowFunc: clk.Clock.Now},
		Clock:    clk,
	})
	if err != nil {
		tb.Fatal(err)
	}
	handler = api
	if err := runner.Start(context.WithoutCancel(ctx), eng); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		runner.Stop(ctx)
	})
	return &stack{URL: srv.URL, Sim: sim, Store: store, Engine: eng, Clock: clk}
}

// mustActiveToken links a wallet through the engine and the simulator, the
// way a buyer would, and waits for the token.
func (s *stack) mustActiveToken(tb testing.TB, customer, wallet string) *autodebit.Token {
	tb.Helper()
	return s.mustActiveTokenAs(tb, customer, wallet, "09171234567")
}

// mustActiveTokenAs is mustActiveToken with the simulator's account login.
func (s *stack) mustActiveTokenAs(tb testing.TB, customer, wallet, login string) *autodebit.Token {
	tb.Helper()
	ctx := context.Background()
	a, err := s.Engine.CreateAuthorization(ctx, customer, wallet)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := http.Post(a.QRText, "application/json", jsonBody(`{"action":"approve","userLoginId":"`+login+`"}`)); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		a, err = s.Store.FindAuthorizationByID(ctx, a.ID)
		if err != nil {
			tb.Fatal(err)
		}
		if a.Status == autodebit.AuthorizationActive {
			t, err := s.Store.FindTokenByID(ctx, a.TokenID)
			if err != nil {
				tb.Fatal(err)
			}
			return t
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("authorization %s is %s after 15s, want ACTIVE", a.ID, a.Status)
	return nil
}
