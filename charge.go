package autodebit

import "time"

// ChargeStatus is the state of a charge: the seed's order table status.
type ChargeStatus string

// Charge statuses. SUCCESS, FAIL and CANCELLED are final and never change.
const (
	ChargeInit      ChargeStatus = "INIT"
	ChargeSuccess   ChargeStatus = "SUCCESS"
	ChargeFail      ChargeStatus = "FAIL"
	ChargeCancelled ChargeStatus = "CANCELLED"
)

var chargeTransitions = map[ChargeStatus][]ChargeStatus{
	ChargeInit: {ChargeSuccess, ChargeFail, ChargeCancelled},
}

// ChargeStatuses returns every charge status, in lifecycle order.
func ChargeStatuses() []ChargeStatus {
	return []ChargeStatus{ChargeInit, ChargeSuccess, ChargeFail, ChargeCancelled}
}

// Valid reports whether s is a known status.
func (s ChargeStatus) Valid() bool { return contains(ChargeStatuses(), s) }

// Final reports whether s can never change.
func (s ChargeStatus) Final() bool { return s.Valid() && len(chargeTransitions[s]) == 0 }

// CanTransition reports whether a charge may move from s to to. Staying in the
// same status is not a transition.
func (s ChargeStatus) CanTransition(to ChargeStatus) bool { return contains(chargeTransitions[s], to) }

// How a charge reached its final status.
const (
	SettledByPay          = "pay"          // the pay response was final
	SettledByNotification = "notification" // notifyPayment
	SettledByInquiry      = "inquiry"      // inquiryPayment
	SettledByCancel       = "cancel"       // cancelled by us
)

// Charge is one payment on a token: the order table of Antom's best
// practice. It is created INIT with a fresh PaymentRequestID that every
// resend, inquiry and cancel reuses, and settled exactly once.
type Charge struct {
	ID          string       `json:"id"`
	TokenID     string       `json:"tokenId"`
	CustomerID  string       `json:"customerId"`
	Wallet      string       `json:"wallet"`
	Amount      Amount       `json:"amount"`
	Description string       `json:"description"`
	Status      ChargeStatus `json:"status"`

	// SubscriptionID and Period name the subscription period a renewal
	// charge pays for; empty and zero for a one-off charge. At most one
	// charge per (subscription, period) is INIT or SUCCESS at any time,
	// which the stores enforce with a unique index: a period can be paid
	// only once, and never has two attempts in flight.
	SubscriptionID string    `json:"subscriptionId,omitempty"`
	Period         int       `json:"period,omitempty"`
	PeriodStart    time.Time `json:"periodStart,omitzero"`
	PeriodEnd      time.Time `json:"periodEnd,omitzero"`

	PaymentRequestID string `json:"paymentRequestId"`
	PaymentID        string `json:"paymentId,omitempty"` // Antom's, once known
	ResultCode       string `json:"resultCode,omitempty"`
	ResultMessage    string `json:"resultMessage,omitempty"`

	// IdempotencyKey is the merchant's Idempotency-Key, unique across
	// charges when set. RequestHash is a digest of the create request so that
	// a reused key with a different body can be refused.
	IdempotencyKey string `json:"-"`
	RequestHash    string `json:"-"`

	ExpiresAt     time.Time `json:"expiresAt"`              // paymentExpiryTime sent to Antom
	NextInquiryAt time.Time `json:"nextInquiryAt,omitzero"` // zero when no inquiry is due
	InquiryCount  int       `json:"inquiryCount"`           // inquiries made so far
	// CancelRequestedAt is when a cancel was asked for (by an operator, or
	// because the payment was still unknown after the order closed). From
	// then on only the cancel's answer settles the charge: a payment that
	// succeeded meanwhile is refunded by Antom and ends CANCELLED.
	CancelRequestedAt time.Time `json:"cancelRequestedAt,omitzero"`
	SettledBy         string    `json:"settledBy,omitempty"` // a SettledBy* value once final
	RefundedValue     int64     `json:"refundedValue"`       // sum of successful refunds, in Amount's minor units
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
	SettledAt         time.Time `json:"settledAt,omitzero"`
	Version           int64     `json:"-"`
}

// Validate returns EINVALID if a required field is missing or malformed.
func (c *Charge) Validate() error {
	if c.TokenID == "" {
		return Errorf(EINVALID, "Charge token ID is required.")
	} else if err := validateCustomer(c.CustomerID, c.Wallet); err != nil {
		return err
	} else if err := c.Amount.Validate(); err != nil {
		return err
	} else if len(c.Description) > 256 {
		return Errorf(EINVALID, "Charge description must be at most 256 characters.")
	} else if !c.Status.Valid() {
		return Errorf(EINVALID, "Charge status %q is not valid.", c.Status)
	} else if !IsRequestID(c.PaymentRequestID) {
		return Errorf(EINVALID, "Charge paymentRequestId must be 1 to 64 characters of letters, digits, _ and -.")
	} else if len(c.IdempotencyKey) > 255 {
		return Errorf(EINVALID, "Idempotency-Key must be at most 255 characters.")
	} else if c.RefundedValue < 0 || c.RefundedValue > c.Amount.Value {
		return Errorf(EINVALID, "Charge refunded value must be between zero and the charge amount.")
	} else if (c.SubscriptionID == "") != (c.Period == 0) {
		return Errorf(EINVALID, "A subscription's charge needs both its subscription ID and its period.")
	} else if c.SubscriptionID != "" && (c.Period < 1 || !c.PeriodEnd.After(c.PeriodStart)) {
		return Errorf(EINVALID, "Charge period must be at least 1 and end after it starts.")
	}
	return nil
}

// ChargeSettlement is the final result that settles an INIT charge.
type ChargeSettlement struct {
	Status        ChargeStatus // SUCCESS, FAIL or CANCELLED
	ResultCode    string
	ResultMessage string
	PaymentID     string // Antom's paymentId; empty keeps the one already stored
	SettledBy     string // a SettledBy* value
	SettledAt     time.Time
}

// ChargeFilter selects charges. Zero fields match everything.
type ChargeFilter struct {
	Status     ChargeStatus
	TokenID    string
	CustomerID string
	Wallet     string
	// SubscriptionID selects a subscription's charges; with Period, those
	// of one of its periods.
	SubscriptionID string
	Period         int
	CreatedAfter   time.Time // inclusive
	CreatedBefore  time.Time // exclusive
	Limit          int       // zero means no limit
	Offset         int
}
