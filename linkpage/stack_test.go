package linkpage_test

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/jobs"
	"github.com/autodebit/autodebit/linkpage"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
)

// stack is the engine as `autodebit serve` runs it with the in-process
// simulator, the link page mounted at /link/, and a merchant's shop on
// another server that the buyer returns to. Every clock is the
// simulator's manual one, so a test moves time with advance.
type stack struct {
	URL    string // the engine: API, notifications, link pages
	Shop   string // the merchant's site: /return and /cancel
	Sim    *antomsim.Sim
	Store  *sqldb.Store
	Engine *engine.Engine
}

// merchantKeys is made once: RSA key generation is slow.
var merchantKeys = sync.OnceValues(antom.GenerateKeyPair)

func newStack(tb testing.TB) *stack {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("AUTODEBIT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	kp, err := merchantKeys()
	if err != nil {
		tb.Fatal(err)
	}
	sim, err := antomsim.New(antomsim.Config{MerchantPublicKey: &kp.PrivateKey.PublicKey, ManualClock: true, Start: time.Now(), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	tb.Cleanup(func() { simSrv.Close(); sim.Close() })
	shop := httptest.NewServer(http.HandlerFunc(shopPage))
	tb.Cleanup(shop.Close)

	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)

	var runner *jobs.Runner
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "autodebit.db"), sqldb.Config{
		TokenKey: make([]byte, 32), NowFunc: sim.Now,
		EnqueueFunc: func(ctx context.Context, tx *sql.Tx, js []autodebit.Job) error { return runner.Enqueue(ctx, tx, js) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	if runner, err = jobs.New(jobs.Config{Driver: store.RiverDriver(), Logger: log, NowFunc: sim.Now, PollInterval: 20 * time.Millisecond}); err != nil {
		tb.Fatal(err)
	}
	client, err := antom.NewClient(antom.Config{
		BaseURL: simSrv.URL, ClientID: sim.ClientID(), PrivateKey: kp.PrivateKey, AntomPublicKey: sim.AntomPublicKey(),
		NowFunc: sim.Now, ObserveFunc: engine.Observe,
	})
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: store, Antom: client, PublicURL: srv.URL, NowFunc: sim.Now, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	page, err := linkpage.New(linkpage.Config{Engine: eng, Logger: log, PollInterval: 200 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	page.Mount(mux)
	mux.Handle("/", http.NotFoundHandler())
	api, err := adhttp.NewServer(adhttp.Config{
		Engine: eng, APIKey: "test-link-page-api-key-0123", Logger: log, Extra: mux,
		Verifier: &antom.NotificationVerifier{ClientID: client.ClientID(), AntomPublicKey: sim.AntomPublicKey(), NowFunc: sim.Now},
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
	return &stack{URL: srv.URL, Shop: shop.URL, Sim: sim, Store: store, Engine: eng}
}

// shopPage is the merchant's site: it shows what the link page sent back.
func shopPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width"><title>Shop</title>
<h1>Shop %s</h1><p>Session <span id="session">%s</span></p><p>Token <span id="token">%s</span></p><p>Status <span id="status">%s</span></p>`,
		html.EscapeString(r.URL.Path), html.EscapeString(q.Get("link_session")), html.EscapeString(q.Get("token")), html.EscapeString(q.Get("status")))
}

// newSession makes a session that returns to the shop; wallet "" lets the
// buyer choose.
func (s *stack) newSession(tb testing.TB, wallet, locale string, lifetime time.Duration) (*autodebit.LinkSession, string) {
	tb.Helper()
	ls, err := s.Engine.CreateLinkSession(context.Background(), engine.LinkSessionInput{
		CustomerID: "cus_page", Wallet: wallet, Locale: locale, Lifetime: lifetime,
		ReturnURL: s.Shop + "/return?order=7", CancelURL: s.Shop + "/cancel",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ls, s.Engine.LinkSessionURL(ls)
}

// advance moves every clock forward.
func (s *stack) advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	if _, err := s.Sim.Advance(d); err != nil {
		tb.Fatal(err)
	}
}

// work runs a job now, as River would once it falls due.
func (s *stack) work(tb testing.TB, args autodebit.JobArgs) {
	tb.Helper()
	if err := s.Engine.Work(context.Background(), args); err != nil {
		tb.Fatalf("%s: %v", args.Kind(), err)
	}
}

func (s *stack) session(tb testing.TB, id string) *autodebit.LinkSession {
	tb.Helper()
	ls, err := s.Store.FindLinkSessionByID(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return ls
}
