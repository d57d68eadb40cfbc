package autodebit

import "time"

// Timeline entry directions.
const (
	TimelineOut = "out" // a request we sent to Antom and its response
	TimelineIn  = "in"  // a notification Antom sent us and our answer
)

// TimelineEntry is one entry of an object's timeline (its audit trail): a
// call to Antom, a notification from it, or a state change. Entries are
// append-only. (What the merchant's backend is told is an Event.)
type TimelineEntry struct {
	ID        string `json:"id"`
	ObjectID  string `json:"objectId"`            // an authorization, token, charge or refund ID
	Kind      string `json:"kind"`                // e.g. "antom.pay", "notify.payment", "state"
	Direction string `json:"direction,omitempty"` // TimelineOut, TimelineIn, or empty for a state change

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
func (e *TimelineEntry) Validate() error {
	if e.ObjectID == "" {
		return Errorf(EINVALID, "Timeline entry object ID is required.")
	} else if e.Kind == "" {
		return Errorf(EINVALID, "Timeline entry kind is required.")
	} else if e.Direction != "" && e.Direction != TimelineOut && e.Direction != TimelineIn {
		return Errorf(EINVALID, "Timeline entry direction must be %q, %q or empty.", TimelineOut, TimelineIn)
	}
	return nil
}
