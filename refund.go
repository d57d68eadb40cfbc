package autodebit

import "time"

// RefundStatus is the state of a refund.
type RefundStatus string

// Refund statuses. SUCCESS and FAIL are final and never change.
const (
	RefundProcessing RefundStatus = "PROCESSING"
	RefundSuccess    RefundStatus = "SUCCESS"
	RefundFail       RefundStatus = "FAIL"
)

var refundTransitions = map[RefundStatus][]RefundStatus{
	RefundProcessing: {RefundSuccess, RefundFail},
}

// RefundStatuses returns every refund status, in lifecycle order.
func RefundStatuses() []RefundStatus {
	return []RefundStatus{RefundProcessing, RefundSuccess, RefundFail}
}

// Valid reports whether s is a known status.
func (s RefundStatus) Valid() bool { return contains(RefundStatuses(), s) }

// Final reports whether s can never change.
func (s RefundStatus) Final() bool { return s.Valid() && len(refundTransitions[s]) == 0 }

// CanTransition reports whether a refund may move from s to to. Staying in the
// same status is not a transition.
func (s RefundStatus) CanTransition(to RefundStatus) bool { return contains(refundTransitions[s], to) }

// Refund returns part or all of a successful charge. It is created
// PROCESSING with a fresh RefundRequestID and settled exactly once.
type Refund struct {
	ID              string       `json:"id"`
	ChargeID        string       `json:"chargeId"`
	Amount          Amount       `json:"amount"`
	Reason          string       `json:"reason,omitempty"`
	Status          RefundStatus `json:"status"`
	RefundRequestID string       `json:"refundRequestId"`
	RefundID        string       `json:"refundId,omitempty"` // Antom's, once known
	ResultCode      string       `json:"resultCode,omitempty"`
	ResultMessage   string       `json:"resultMessage,omitempty"`

	// IdempotencyKey is unique across all refunds when set (a key reused
	// on another charge is a conflict); RequestHash as for Charge.
	IdempotencyKey string `json:"-"`
	RequestHash    string `json:"-"`

	// NextInquiryAt is when the inquiry of a PROCESSING refund is next due;
	// the sweep re-queues one overdue past it (its job was lost).
	NextInquiryAt time.Time `json:"nextInquiryAt,omitzero"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	SettledAt time.Time `json:"settledAt,omitzero"`
	Version   int64     `json:"-"`
}

// Validate returns EINVALID if a required field is missing or malformed.
func (r *Refund) Validate() error {
	if r.ChargeID == "" {
		return Errorf(EINVALID, "Refund charge ID is required.")
	} else if err := r.Amount.Validate(); err != nil {
		return err
	} else if len(r.Reason) > 256 {
		return Errorf(EINVALID, "Refund reason must be at most 256 characters.")
	} else if !r.Status.Valid() {
		return Errorf(EINVALID, "Refund status %q is not valid.", r.Status)
	} else if !IsRequestID(r.RefundRequestID) {
		return Errorf(EINVALID, "Refund refundRequestId must be 1 to 64 characters of letters, digits, _ and -.")
	} else if len(r.IdempotencyKey) > 255 {
		return Errorf(EINVALID, "Idempotency-Key must be at most 255 characters.")
	}
	return nil
}

// RefundSettlement is the final result that settles a PROCESSING refund.
type RefundSettlement struct {
	Status        RefundStatus // SUCCESS or FAIL
	ResultCode    string
	ResultMessage string
	RefundID      string // Antom's refundId; empty keeps the one already stored
	SettledAt     time.Time
}

// RefundFilter selects refunds. Zero fields match everything.
type RefundFilter struct {
	Status        RefundStatus
	ChargeID      string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // zero means no limit
	Offset        int
}
