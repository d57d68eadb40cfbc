package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/storetest"
)

// TestMain lets tests run the autodebit binary as a child process: the test
// binary itself, re-executed with AUTODEBIT_TEST_EXEC=1, runs main.
func TestMain(m *testing.M) {
	if os.Getenv("AUTODEBIT_TEST_EXEC") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is an `autodebit` process started by a test.
type child struct {
	cmd *exec.Cmd
	url string
}

// startChild runs `autodebit args...` and waits until serve prints its URL.
func startChild(t *testing.T, name string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AUTODEBIT_TEST_EXEC=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(t.TempDir() + "/" + name + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("%s log (last 3000 bytes):\n%s", name, tail(b, 3000))
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "console and API:"); ok {
				found <- strings.TrimSpace(u)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case c.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start", name)
	}
	return c
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestTwoProcessesOnePostgres runs two `serve` processes on one PostgreSQL
// database against one simulator, kills one with SIGKILL while charges are
// still being settled by its jobs, and checks that the survivor finishes
// every job: every charge ends equal to Antom's truth, nothing is charged
// twice and no job is left behind.
func TestTwoProcessesOnePostgres(t *testing.T) {
	dsn := storetest.PostgresSchemaURL(t)
	sim, replicas, apiKey := startReplicas(t, dsn, 3, "--job-timeout", "4s", "--job-rescue-after", "5s")
	a, b := replicas[0], replicas[1]
	ca := client.New(a.url, apiKey)
	cb := client.New(b.url, apiKey)
	ctx := context.Background()

	// Link a token through A, seen ACTIVE through B.
	tokenID := linkOn(t, sim, ca, cb, "cus_multi")

	// Payments stay PROCESSING for 3s and their notifications are lost:
	// only the inquiry jobs can settle them.
	delay := antomsim.Duration(3 * time.Second)
	mode := antomsim.PayModeProcessing
	if _, err := sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{PayMode: &mode, ProcessingDelay: &delay}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFaults(antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{antom.KindPayment: {{Kind: antomsim.FaultDrop, Probability: 1}}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var charges []adhttp.Charge
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ca
			if i%2 == 1 {
				c = cb
			}
			ch, err := c.CreateCharge(ctx, client.ChargeParams{TokenID: tokenID, Amount: adhttp.Amount{Currency: "PHP", Value: fmt.Sprint(1000 + i)}, IdempotencyKey: fmt.Sprintf("multi-%d", i)})
			if err != nil {
				t.Errorf("charge %d: %v", i, err)
				return
			}
			mu.Lock()
			charges = append(charges, *ch)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Kill A while its inquiry jobs are due or running.
	time.Sleep(2500 * time.Millisecond)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()

	waitUntil(t, 60*time.Second, "every charge final", func() bool {
		for _, c := range charges {
			got, err := cb.Charge(ctx, c.ID)
			if err != nil || got.Status == "INIT" {
				return false
			}
		}
		return true
	})
	for _, c := range charges {
		got, _ := cb.Charge(ctx, c.ID)
		p, err := sim.Payment(c.PaymentRequestID)
		if err != nil {
			t.Errorf("charge %s: Antom has no payment: %v", c.ID, err)
			continue
		}
		if (got.Status == "SUCCESS") != (p.Status == antom.PaymentStatusSuccess) || p.Debits > 1 {
			t.Errorf("charge %s is %s; Antom says %s with %d debits", c.ID, got.Status, p.Status, p.Debits)
		}
	}
	if n := len(sim.Payments()); n != len(charges) {
		t.Errorf("Antom has %d payments for %d charges", n, len(charges))
	}
	if len(charges) != 20 {
		t.Fatalf("%d charges created, want 20", len(charges))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var discarded int
	if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE state = 'discarded'`).Scan(&discarded); err != nil {
		t.Fatal(err)
	}
	if discarded != 0 {
		t.Errorf("%d jobs were given up", discarded)
	}
}

// startReplicas starts a simulator in the test and two `serve` processes
// on database dsn, both using it (with extra flags), and returns them and
// their API key.
func startReplicas(t *testing.T, dsn string, seed int64, extra ...string) (*antomsim.Sim, []*child, string) {
	t.Helper()
	merchant, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := antomsim.New(antomsim.Config{MerchantPublicKey: &merchant.PrivateKey.PublicKey, Seed: seed, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })

	apiKey := "multi-process-api-key-0123"
	tokenKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", dsn, "--antom-url", simSrv.URL,
		"--client-id", sim.ClientID(), "--private-key", merchant.PrivateKeyBase64, "--antom-public-key", sim.AntomPublicKeyBase64(),
		"--api-key", apiKey, "--token-key", tokenKey}, extra...)
	return sim, []*child{startChild(t, "serve-a", args...), startChild(t, "serve-b", args...)}, apiKey
}

// linkOn links a GCash wallet of customer: the authorization made through
// c, approved on sim, and waited for through seen. It returns the token ID.
func linkOn(t *testing.T, sim *antomsim.Sim, c, seen *client.Client, customer string) string {
	t.Helper()
	ctx := context.Background()
	auth, err := c.CreateAuthorization(ctx, customer, "GCASH")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Approve(auth.QR.Text, ""); err != nil {
		t.Fatal(err)
	}
	var tokenID string
	waitUntil(t, 20*time.Second, "token ACTIVE", func() bool {
		got, err := seen.Authorization(ctx, auth.ID)
		if err != nil {
			return false
		}
		tokenID = got.TokenID
		return got.Status == "ACTIVE"
	})
	return tokenID
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
