// Package api holds the merchant API's views of the domain objects: what
// GET /v1/{objects}/{id} returns, and so what an event's data.object is.
// The http package serves them and the engine puts them in events, so they
// live here, importing only the domain and antom.
package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// Amount is money on the API: value is a string of minor units, as in Antom.
type Amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// ToAmount is an amount as the API shows it.
func ToAmount(a autodebit.Amount) Amount {
	return Amount{Currency: a.Currency, Value: strconv.FormatInt(a.Value, 10)}
}

// Domain parses an API amount, naming the field in errors.
func (a *Amount) Domain(field string) (autodebit.Amount, error) {
	if a == nil {
		return autodebit.Amount{}, autodebit.Errorf(autodebit.EINVALID, "Field %q is required.", field)
	}
	if a.Currency == "" {
		return autodebit.Amount{}, autodebit.Errorf(autodebit.EINVALID, "Field %q is required.", field+".currency")
	}
	v, err := antom.ParseMinorUnits(a.Value)
	if err != nil {
		return autodebit.Amount{}, autodebit.Errorf(autodebit.EINVALID, "Field %q must be a string of minor units such as \"1500\": %v.", field+".value", err)
	}
	return autodebit.Amount{Currency: a.Currency, Value: v}, nil
}

// UnmarshalJSON accepts only a string value, as Antom does.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var raw struct {
		Currency json.RawMessage `json:"currency"`
		Value    json.RawMessage `json:"value"`
	}
	if len(b) == 0 || b[0] != '{' {
		// The request decoder names the field and the JSON it takes.
		return &json.UnmarshalTypeError{Value: firstKind(b), Type: reflect.TypeFor[Amount]()}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return autodebit.Errorf(autodebit.EINVALID, "Field \"amount\" has an unknown field %s; send an object {currency, value}.", field)
		}
		return autodebit.Errorf(autodebit.EINVALID, "Field \"amount\" must be an object {currency, value}.")
	}
	if len(raw.Value) > 0 && raw.Value[0] != '"' {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"amount.value\" must be a string of minor units such as \"1500\", not %s.", raw.Value)
	}
	if len(raw.Currency) > 0 && raw.Currency[0] != '"' {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"amount.currency\" must be a string such as \"PHP\".")
	}
	if len(raw.Value) > 0 {
		json.Unmarshal(raw.Value, &a.Value)
	}
	if len(raw.Currency) > 0 {
		json.Unmarshal(raw.Currency, &a.Currency)
	}
	return nil
}

// firstKind names the JSON value b holds by its first byte, as
// json.UnmarshalTypeError.Value does.
func firstKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '"':
		return "string"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	case b[0] == 'n':
		return "null"
	}
	return "number"
}

// QR is the code the buyer scans.
type QR struct {
	Text     string `json:"text"`
	ImageURL string `json:"imageUrl"`
}

// Authorization is a linking attempt as the API shows it.
type Authorization struct {
	ID         string `json:"id"`
	CustomerID string `json:"customerId"`
	Wallet     string `json:"wallet"`
	Status     string `json:"status"`
	QR         *QR    `json:"qr,omitempty"`
	TokenID    string `json:"tokenId,omitempty"`
	// LinkSessionID is the link session the attempt belongs to, if any.
	LinkSessionID  string     `json:"linkSessionId,omitempty"`
	FailureCode    string     `json:"failureCode,omitempty"`
	FailureMessage string     `json:"failureMessage,omitempty"`
	ExpiresAt      time.Time  `json:"expiresAt"`
	AuthorizedAt   *time.Time `json:"authorizedAt,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// ToAuthorization is the API view of an authorization: what its GET returns.
func ToAuthorization(a *autodebit.Authorization) Authorization {
	out := Authorization{
		ID: a.ID, CustomerID: a.CustomerID, Wallet: a.Wallet, Status: string(a.Status), TokenID: a.TokenID, LinkSessionID: a.LinkSessionID,
		FailureCode: a.FailureCode, FailureMessage: a.FailureMessage, ExpiresAt: Time(a.ExpiresAt),
		AuthorizedAt: TimePtr(a.AuthorizedAt), CreatedAt: Time(a.CreatedAt), UpdatedAt: Time(a.UpdatedAt),
	}
	if a.QRText != "" {
		out.QR = &QR{Text: a.QRText, ImageURL: a.QRImageURL}
	}
	return out
}

// Token is a payment token as the API shows it: never the access token.
type Token struct {
	ID                   string     `json:"id"`
	CustomerID           string     `json:"customerId"`
	Wallet               string     `json:"wallet"`
	AuthorizationID      string     `json:"authorizationId"`
	Status               string     `json:"status"`
	UserLoginID          string     `json:"userLoginId"`
	AccessTokenExpiresAt *time.Time `json:"accessTokenExpiresAt,omitempty"`
	RevokePending        bool       `json:"revokePending"`
	RevokeReason         string     `json:"revokeReason,omitempty"`
	RevokedBy            string     `json:"revokedBy,omitempty"` // merchant, wallet or antom, once REVOKED
	RevokedAt            *time.Time `json:"revokedAt,omitempty"`
	CreatedAt            time.Time  `json:"createdAt"`
	UpdatedAt            time.Time  `json:"updatedAt"`
}

// ToToken is the API view of a token: what its GET returns.
func ToToken(t *autodebit.Token) Token {
	return Token{
		ID: t.ID, CustomerID: t.CustomerID, Wallet: t.Wallet, AuthorizationID: t.AuthorizationID, Status: string(t.Status),
		UserLoginID: t.UserLoginID, AccessTokenExpiresAt: TimePtr(t.AccessTokenExpiresAt), RevokePending: t.RevokePending,
		RevokeReason: t.RevokeReason, RevokedBy: t.RevokedBy, RevokedAt: TimePtr(t.RevokedAt), CreatedAt: Time(t.CreatedAt), UpdatedAt: Time(t.UpdatedAt),
	}
}

// Charge is a charge as the API shows it.
type Charge struct {
	ID                string     `json:"id"`
	TokenID           string     `json:"tokenId"`
	CustomerID        string     `json:"customerId"`
	Wallet            string     `json:"wallet"`
	Amount            Amount     `json:"amount"`
	Description       string     `json:"description,omitempty"`
	Status            string     `json:"status"`
	SubscriptionID    string     `json:"subscriptionId,omitempty"` // set on a subscription's renewal charge
	Period            *Period    `json:"period,omitempty"`         // the subscription period it pays for
	PaymentRequestID  string     `json:"paymentRequestId"`
	PaymentID         string     `json:"paymentId,omitempty"`
	ResultCode        string     `json:"resultCode,omitempty"`
	ResultMessage     string     `json:"resultMessage,omitempty"`
	SettledBy         string     `json:"settledBy,omitempty"`
	RefundedAmount    Amount     `json:"refundedAmount"`
	ExpiresAt         time.Time  `json:"expiresAt"`
	NextInquiryAt     *time.Time `json:"nextInquiryAt,omitempty"`
	InquiryCount      int        `json:"inquiryCount"`
	CancelRequestedAt *time.Time `json:"cancelRequestedAt,omitempty"`
	CreatedAt         time.Time  `json:"createdAt"`
	UpdatedAt         time.Time  `json:"updatedAt"`
	SettledAt         *time.Time `json:"settledAt,omitempty"`
}

// ToCharge is the API view of a charge: what its GET returns.
func ToCharge(c *autodebit.Charge) Charge {
	out := Charge{
		ID: c.ID, TokenID: c.TokenID, CustomerID: c.CustomerID, Wallet: c.Wallet, Amount: ToAmount(c.Amount),
		Description: c.Description, Status: string(c.Status), PaymentRequestID: c.PaymentRequestID, PaymentID: c.PaymentID,
		ResultCode: c.ResultCode, ResultMessage: c.ResultMessage, SettledBy: c.SettledBy,
		RefundedAmount: ToAmount(autodebit.Amount{Currency: c.Amount.Currency, Value: c.RefundedValue}),
		ExpiresAt:      Time(c.ExpiresAt), InquiryCount: c.InquiryCount, CancelRequestedAt: TimePtr(c.CancelRequestedAt),
		CreatedAt: Time(c.CreatedAt), UpdatedAt: Time(c.UpdatedAt), SettledAt: TimePtr(c.SettledAt),
	}
	if !c.Status.Final() {
		out.NextInquiryAt = TimePtr(c.NextInquiryAt)
	}
	if c.SubscriptionID != "" {
		out.SubscriptionID = c.SubscriptionID
		out.Period = &Period{Number: c.Period, Start: Time(c.PeriodStart), End: Time(c.PeriodEnd)}
	}
	return out
}

// Period is one billing period of a subscription: from start (when its
// charge is due) to end (when the next period starts).
type Period struct {
	Number int       `json:"number"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Subscription is a subscription as the API shows it.
type Subscription struct {
	ID            string `json:"id"`
	TokenID       string `json:"tokenId"`
	CustomerID    string `json:"customerId"`
	Wallet        string `json:"wallet"`
	Amount        Amount `json:"amount"`
	Description   string `json:"description,omitempty"`
	Interval      string `json:"interval"`
	IntervalCount int    `json:"intervalCount"`
	// TimeZone is the IANA zone whose calendar the periods follow; absent
	// means UTC.
	TimeZone string    `json:"timeZone,omitempty"`
	StartAt  time.Time `json:"startAt"`
	// Cycles is how many periods are charged; absent means until cancelled.
	Cycles        int      `json:"cycles,omitempty"`
	RetrySchedule []string `json:"retrySchedule"`
	Status        string   `json:"status"`
	// Period is the period being charged, or the next one to charge once
	// the latest is paid or given up.
	Period Period `json:"period"`
	// NextChargeAt is when the next charge (or retry) is due; absent while
	// a charge is in flight and when nothing is scheduled.
	NextChargeAt    *time.Time `json:"nextChargeAt,omitempty"`
	Attempt         int        `json:"attempt"` // charges made for period so far
	CyclesCompleted int        `json:"cyclesCompleted"`
	LastChargeID    string     `json:"lastChargeId,omitempty"`
	FailureCode     string     `json:"failureCode,omitempty"`
	FailureMessage  string     `json:"failureMessage,omitempty"`
	CancelReason    string     `json:"cancelReason,omitempty"`
	PausedAt        *time.Time `json:"pausedAt,omitempty"`
	CancelledAt     *time.Time `json:"cancelledAt,omitempty"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

// ToSubscription is the API view of a subscription: what its GET returns.
func ToSubscription(s *autodebit.Subscription) Subscription {
	p := s.PeriodOf(s.Period)
	retries := make([]string, len(s.RetrySchedule))
	for i, d := range s.RetrySchedule {
		retries[i] = autodebit.FormatDuration(d)
	}
	out := Subscription{
		ID: s.ID, TokenID: s.TokenID, CustomerID: s.CustomerID, Wallet: s.Wallet, Amount: ToAmount(s.Amount),
		Description: s.Description, Interval: string(s.Interval), IntervalCount: s.IntervalCount, TimeZone: s.TimeZone,
		StartAt: Time(s.StartAt), Cycles: s.Cycles, RetrySchedule: retries, Status: string(s.Status),
		Period:       Period{Number: p.Number, Start: Time(p.Start), End: Time(p.End)},
		NextChargeAt: TimePtr(s.NextChargeAt), Attempt: s.Attempt, CyclesCompleted: s.CyclesCompleted,
		LastChargeID: s.LastChargeID, FailureCode: s.FailureCode, FailureMessage: s.FailureMessage,
		CancelReason: s.CancelReason, PausedAt: TimePtr(s.PausedAt), CancelledAt: TimePtr(s.CancelledAt),
		CreatedAt: Time(s.CreatedAt), UpdatedAt: Time(s.UpdatedAt),
	}
	if s.Status.Final() {
		out.NextChargeAt = nil
	}
	return out
}

// Refund is a refund as the API shows it.
type Refund struct {
	ID              string     `json:"id"`
	ChargeID        string     `json:"chargeId"`
	Amount          Amount     `json:"amount"`
	Reason          string     `json:"reason,omitempty"`
	Status          string     `json:"status"`
	RefundRequestID string     `json:"refundRequestId"`
	RefundID        string     `json:"refundId,omitempty"`
	ResultCode      string     `json:"resultCode,omitempty"`
	ResultMessage   string     `json:"resultMessage,omitempty"`
	NextInquiryAt   *time.Time `json:"nextInquiryAt,omitempty"` // while PROCESSING
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	SettledAt       *time.Time `json:"settledAt,omitempty"`
}

// ToRefund is the API view of a refund: what its GET returns.
func ToRefund(r *autodebit.Refund) Refund {
	out := Refund{
		ID: r.ID, ChargeID: r.ChargeID, Amount: ToAmount(r.Amount), Reason: r.Reason, Status: string(r.Status),
		RefundRequestID: r.RefundRequestID, RefundID: r.RefundID, ResultCode: r.ResultCode, ResultMessage: r.ResultMessage,
		CreatedAt: Time(r.CreatedAt), UpdatedAt: Time(r.UpdatedAt), SettledAt: TimePtr(r.SettledAt),
	}
	if !r.Status.Final() {
		out.NextInquiryAt = TimePtr(r.NextInquiryAt)
	}
	return out
}

// Time is a time as the API shows every time: UTC, to the second, so
// that it always reads 2006-01-02T15:04:05Z. Seconds are what Antom's times
// carry; durations that need finer measure have fields of their own
// (durationMs).
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// TimePtr is Time for an optional time: nil when t is zero.
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = Time(t)
	return &t
}

// Event is an event as the API shows it (and a webhook delivers it):
// data.object is the object as its GET returned it right after the change.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	ObjectID  string    `json:"objectId"`
	Sequence  int64     `json:"sequence"`
	Data      EventData `json:"data"`
}

// EventData holds the changed object.
type EventData struct {
	Object json.RawMessage `json:"object"`
}

// ToEvent is the API view of an event.
func ToEvent(e *autodebit.Event) Event {
	return Event{ID: e.ID, Type: string(e.Type), CreatedAt: Time(e.CreatedAt), ObjectID: e.ObjectID, Sequence: e.Sequence,
		Data: EventData{Object: e.Data}}
}
