package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/autodebit/autodebit/webhook"
)

// A merchant's receiver: verify, dedupe on the event ID, apply, answer 2xx.
func ExampleVerifier() {
	secret, _ := webhook.NewSecret() // in production: the secret shown when the endpoint was created
	v := &webhook.Verifier{
		// During a rotation, list the new secret and the one it replaces.
		Secrets: []string{secret},
	}
	seen := map[string]bool{} // in production: a table with a unique key on the event ID
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := v.Verify(r)
		if errors.Is(err, webhook.ErrBadSignature) || errors.Is(err, webhook.ErrStaleTimestamp) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if seen[e.ID] { // delivery is at-least-once
			w.WriteHeader(http.StatusNoContent)
			return
		}
		switch e.Type {
		case "charge.succeeded", "charge.failed":
			var charge struct{ ID, Status string }
			if err := json.Unmarshal(e.Data.Object, &charge); err != nil {
				http.Error(w, "bad charge", http.StatusBadRequest)
				return
			}
			fmt.Println(e.Type, charge.ID, charge.Status, "sequence", e.Sequence)
		}
		seen[e.ID] = true // store the effect durably first, then answer
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	// What autodebit sends (its deliveries use the same SetHeaders).
	body := []byte(`{"id":"evt_1","type":"charge.succeeded","createdAt":"2027-01-15T08:00:00Z","objectId":"chg_7","sequence":2,"data":{"object":{"id":"chg_7","status":"SUCCESS"}}}`)
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		if err := webhook.SetHeaders(req.Header, []string{secret}, "evt_1", time.Now(), body); err != nil {
			log.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// charge.succeeded chg_7 SUCCESS sequence 2
	// 204
	// 204
}
