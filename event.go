package autodebit

import "time"

// Event directions.
const (
	EventOut = "out" // a request we sent to Antom and its response
	EventIn  = "in"  // a notification Antom sent us and our answer
)

// Event is one entry of an object's audit trail: a call to Antom, a
// notification from it, or a state change. Events are append-only.
type Event struct {
	ID        string `json:"id"`
	ObjectID  string `json:"objectId"`            // an authorization, token, charge or refund ID
	Kind      string `json:"kind"`                // e.g. "antom.pay", "notify.payment", "state"
	Direction string `json:"direction,omitempty"` // EventOut, EventIn, or empty for a state change

	// Request and Response are the bodies as sent and received. Callers mask
	// access tokens (MaskSecret) before they get here.
	Request      string    `json:"request,omitempty"`
	Response     string    `json:"response,omitempty"`
	ResultStatus string    `json:"resultStatus,omitempty"` // Antom's S, F or U
	ResultCode   string    `json:"resultCode,omitempty"`
	Error        string    `json:"error,omitempty"` // transport failure, if any
	DurationMS   int64     `json:"durationMs"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Validate returns EINVALID if a required field is missing or malformed.
func (e *Event) Validate() error {
	if e.ObjectID == "" {
		return Errorf(EINVALID, "Event object ID is required.")
	} else if e.Kind == "" {
		return Errorf(EINVALID, "Event kind is required.")
	} else if e.Direction != "" && e.Direction != EventOut && e.Direction != EventIn {
		return Errorf(EINVALID, "Event direction must be %q, %q or empty.", EventOut, EventIn)
	}
	return nil
}
