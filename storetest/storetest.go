// Package storetest is the conformance suite every autodebit store passes:
// the sqlite and postgres packages run it from their tests.
package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
)

// TokenKey is the token key Config gives the store.
var TokenKey = []byte("storetest-token-key-32-bytes-ok!")

// jobsTable is where Config's EnqueueFunc records jobs, in the caller's
// transaction, in place of River.
const jobsTable = "storetest_jobs"

// Config returns the configuration open must give the store it returns:
// TokenKey, and an EnqueueFunc that records jobs in a test table in the same
// transaction so the suite can see what commits.
func Config() sqldb.Config {
	return sqldb.Config{TokenKey: TokenKey, EnqueueFunc: enqueue}
}

func enqueue(ctx context.Context, tx *sql.Tx, jobs []autodebit.Job) error {
	for _, j := range jobs {
		args, err := json.Marshal(j.Args)
		if err != nil {
			return fmt.Errorf("marshal %s args: %w", j.Args.Kind(), err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+jobsTable+" (kind, args) VALUES ($1, $2)", j.Args.Kind(), string(args)); err != nil {
			return fmt.Errorf("insert %s job: %w", j.Args.Kind(), err)
		}
	}
	return nil
}

// Run runs the suite. open returns a new, empty, migrated store built with
// Config(), owned by the calling test (close it with tb.Cleanup); it is
// called once per test, in parallel. The store must be a *sqldb.Store,
// whose database the suite reads directly to check what is stored.
func Run(t *testing.T, open func(tb testing.TB) autodebit.Store) {
	mustOpen := func(tb testing.TB) *sqldb.Store {
		tb.Helper()
		s, ok := open(tb).(*sqldb.Store)
		if !ok {
			tb.Fatalf("open returned %T, want *sqldb.Store", s)
		}
		if _, err := s.DB().Exec("CREATE TABLE " + jobsTable + " (kind TEXT NOT NULL, args TEXT NOT NULL)"); err != nil {
			tb.Fatalf("create %s: %v", jobsTable, err)
		}
		return s
	}
	t.Run("Authorization", func(t *testing.T) { t.Parallel(); testAuthorization(t, mustOpen) })
	t.Run("Token", func(t *testing.T) { t.Parallel(); testToken(t, mustOpen) })
	t.Run("Charge", func(t *testing.T) { t.Parallel(); testCharge(t, mustOpen) })
	t.Run("Refund", func(t *testing.T) { t.Parallel(); testRefund(t, mustOpen) })
	t.Run("Timeline", func(t *testing.T) { t.Parallel(); testTimeline(t, mustOpen) })
	t.Run("Event", func(t *testing.T) { t.Parallel(); testEvent(t, mustOpen) })
	t.Run("Notification", func(t *testing.T) { t.Parallel(); testNotification(t, mustOpen) })
	t.Run("Tx", func(t *testing.T) { t.Parallel(); testTx(t, mustOpen) })
	t.Run("Backlog", func(t *testing.T) { t.Parallel(); testBacklog(t, mustOpen) })
	t.Run("ConsoleSession", func(t *testing.T) { t.Parallel(); testConsoleSession(t, mustOpen) })
	t.Run("WebhookEndpoint", func(t *testing.T) { t.Parallel(); testWebhookEndpoint(t, mustOpen) })
	t.Run("Delivery", func(t *testing.T) { t.Parallel(); testDelivery(t, mustOpen) })
	t.Run("LinkSession", func(t *testing.T) { t.Parallel(); testLinkSession(t, mustOpen) })
	t.Run("Subscription", func(t *testing.T) { t.Parallel(); testSubscription(t, mustOpen) })
}

// opener opens a fresh store for one test.
type opener func(tb testing.TB) *sqldb.Store

// t0 is the suite's reference time; store times have microsecond precision.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// fataler is the part of testing.TB that helpers use, which *rapid.T has too.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func mustTx(tb fataler, s autodebit.Store, fn func(tx autodebit.Tx) error) {
	tb.Helper()
	if err := s.WithTx(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

// wantCode fails unless err carries code.
func wantCode(tb fataler, err error, code string) {
	tb.Helper()
	if got := autodebit.ErrorCode(err); got != code {
		tb.Fatalf("error code=%q (%v), want %q", got, err, code)
	}
}

// wantEqual compares two objects field by field, printing both on mismatch.
func wantEqual[T any](tb fataler, got, want *T) {
	tb.Helper()
	if g, w := fmt.Sprintf("%+v", *got), fmt.Sprintf("%+v", *want); g != w {
		tb.Fatalf("mismatch:\n got  %s\n want %s", g, w)
	}
}

func newAuthorization(customerID string) *autodebit.Authorization {
	return &autodebit.Authorization{
		CustomerID: customerID,
		Wallet:     "GCASH",
		AuthState:  autodebit.NewAuthState(),
		QRText:     "https://sim.example/wallet/qr/1",
		QRImageURL: "https://engine.example/qr/1.png",
		ExpiresAt:  t0.Add(autodebit.AuthorizationTTL),
	}
}

func mustCreateAuthorization(tb testing.TB, s autodebit.Store, a *autodebit.Authorization) *autodebit.Authorization {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateAuthorization(context.Background(), a) })
	return a
}

func newToken(authorizationID, customerID string) *autodebit.Token {
	return &autodebit.Token{
		CustomerID:            customerID,
		Wallet:                "GCASH",
		AuthorizationID:       authorizationID,
		AccessToken:           "2811" + autodebit.NewID("at"),
		RefreshToken:          "2812" + autodebit.NewID("rt"),
		AccessTokenExpiresAt:  t0.AddDate(100, 0, 0),
		RefreshTokenExpiresAt: t0.AddDate(100, 0, 1),
		UserLoginID:           "63****1234",
	}
}

// mustCreateToken creates an authorization and a token for customerID.
func mustCreateToken(tb testing.TB, s autodebit.Store, customerID string) *autodebit.Token {
	tb.Helper()
	a := mustCreateAuthorization(tb, s, newAuthorization(customerID))
	tok := newToken(a.ID, customerID)
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateToken(context.Background(), tok) })
	return tok
}

func newCharge(tok *autodebit.Token, value int64) *autodebit.Charge {
	return &autodebit.Charge{
		TokenID:          tok.ID,
		CustomerID:       tok.CustomerID,
		Wallet:           tok.Wallet,
		Amount:           autodebit.Amount{Currency: "PHP", Value: value},
		Description:      "Monthly plan",
		PaymentRequestID: autodebit.NewPaymentRequestID(),
		RequestHash:      "hash",
		ExpiresAt:        t0.Add(time.Minute),
		NextInquiryAt:    t0.Add(5 * time.Second),
	}
}

func mustCreateCharge(tb fataler, s autodebit.Store, c *autodebit.Charge) *autodebit.Charge {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateCharge(context.Background(), c) })
	return c
}

func newRefund(chargeID string, value int64) *autodebit.Refund {
	return &autodebit.Refund{
		ChargeID:        chargeID,
		Amount:          autodebit.Amount{Currency: "PHP", Value: value},
		Reason:          "Customer asked",
		RefundRequestID: autodebit.NewRefundRequestID(),
		RequestHash:     "hash",
	}
}

func mustCreateRefund(tb testing.TB, s autodebit.Store, r *autodebit.Refund) *autodebit.Refund {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateRefund(context.Background(), r) })
	return r
}

// rawString reads one text column of one row, bypassing the store.
func rawString(tb testing.TB, s *sqldb.Store, table, column, id string) string {
	tb.Helper()
	var v sql.NullString
	if err := s.DB().QueryRow("SELECT "+column+" FROM "+table+" WHERE id = $1", id).Scan(&v); err != nil {
		tb.Fatalf("read %s.%s of %s: %v", table, column, id, err)
	}
	return v.String
}

// jobKinds returns the kinds of the jobs recorded by Config's EnqueueFunc.
func jobKinds(tb testing.TB, s *sqldb.Store) []string {
	tb.Helper()
	rows, err := s.DB().Query("SELECT kind FROM " + jobsTable + " ORDER BY kind")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var kinds []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			tb.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return kinds
}
