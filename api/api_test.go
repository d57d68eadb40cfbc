package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

// An event's JSON is PRODUCT.md's shape, keys in its order, with data.object
// exactly the bytes stored.
func TestToEventShape(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	e := &autodebit.Event{ID: "evt_1", Type: autodebit.EventChargeSucceeded, ObjectID: "chg_1", Sequence: 7,
		Data: []byte(`{"id":"chg_1","status":"SUCCESS"}`), CreatedAt: at}
	b, err := json.Marshal(ToEvent(e))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_1","type":"charge.succeeded","createdAt":"2026-03-04T05:06:07Z","objectId":"chg_1","sequence":7,"data":{"object":{"id":"chg_1","status":"SUCCESS"}}}`
	if string(b) != want {
		t.Fatalf("event JSON\n got  %s\n want %s", b, want)
	}
}
