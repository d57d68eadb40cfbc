package http

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
)

// Amount is money on the API: value is a string of minor units, as in Antom.
type Amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

func toAmount(a autodebit.Amount) Amount {
	return Amount{Currency: a.Currency, Value: strconv.FormatInt(a.Value, 10)}
}

// domain parses an API amount, naming the field in errors.
func (a *Amount) domain(field string) (autodebit.Amount, error) {
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
		// decodeBody names the field and the JSON it takes.
		return &json.UnmarshalTypeError{Value: firstKind(b), Type: reflect.TypeFor[Amount]()}
	}
	dec := json.NewDecoder(bytesReader(b))
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
	ID             string     `json:"id"`
	CustomerID     string     `json:"customerId"`
	Wallet         string     `json:"wallet"`
	Status         string     `json:"status"`
	QR             *QR        `json:"qr,omitempty"`
	TokenID        string     `json:"tokenId,omitempty"`
	FailureCode    string     `json:"failureCode,omitempty"`
	FailureMessage string     `json:"failureMessage,omitempty"`
	ExpiresAt      time.Time  `json:"expiresAt"`
	AuthorizedAt   *time.Time `json:"authorizedAt,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

func toAuthorization(a *autodebit.Authorization) Authorization {
	out := Authorization{
		ID: a.ID, CustomerID: a.CustomerID, Wallet: a.Wallet, Status: string(a.Status), TokenID: a.TokenID,
		FailureCode: a.FailureCode, FailureMessage: a.FailureMessage, ExpiresAt: apiTime(a.ExpiresAt),
		AuthorizedAt: timePtr(a.AuthorizedAt), CreatedAt: apiTime(a.CreatedAt), UpdatedAt: apiTime(a.UpdatedAt),
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

func toToken(t *autodebit.Token) Token {
	return Token{
		ID: t.ID, CustomerID: t.CustomerID, Wallet: t.Wallet, AuthorizationID: t.AuthorizationID, Status: string(t.Status),
		UserLoginID: t.UserLoginID, AccessTokenExpiresAt: timePtr(t.AccessTokenExpiresAt), RevokePending: t.RevokePending,
		RevokeReason: t.RevokeReason, RevokedBy: t.RevokedBy, RevokedAt: timePtr(t.RevokedAt), CreatedAt: apiTime(t.CreatedAt), UpdatedAt: apiTime(t.UpdatedAt),
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

func toCharge(c *autodebit.Charge) Charge {
	out := Charge{
		ID: c.ID, TokenID: c.TokenID, CustomerID: c.CustomerID, Wallet: c.Wallet, Amount: toAmount(c.Amount),
		Description: c.Description, Status: string(c.Status), PaymentRequestID: c.PaymentRequestID, PaymentID: c.PaymentID,
		ResultCode: c.ResultCode, ResultMessage: c.ResultMessage, SettledBy: c.SettledBy,
		RefundedAmount: toAmount(autodebit.Amount{Currency: c.Amount.Currency, Value: c.RefundedValue}),
		ExpiresAt:      apiTime(c.ExpiresAt), InquiryCount: c.InquiryCount, CancelRequestedAt: timePtr(c.CancelRequestedAt),
		CreatedAt: apiTime(c.CreatedAt), UpdatedAt: apiTime(c.UpdatedAt), SettledAt: timePtr(c.SettledAt),
	}
	if !c.Status.Final() {
		out.NextInquiryAt = timePtr(c.NextInquiryAt)
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

func toRefund(r *autodebit.Refund) Refund {
	out := Refund{
		ID: r.ID, ChargeID: r.ChargeID, Amount: toAmount(r.Amount), Reason: r.Reason, Status: string(r.Status),
		RefundRequestID: r.RefundRequestID, RefundID: r.RefundID, ResultCode: r.ResultCode, ResultMessage: r.ResultMessage,
		CreatedAt: apiTime(r.CreatedAt), UpdatedAt: apiTime(r.UpdatedAt), SettledAt: timePtr(r.SettledAt),
	}
	if !r.Status.Final() {
		out.NextInquiryAt = timePtr(r.NextInquiryAt)
	}
	return out
}

// TimelineEntry is one entry of an object's timeline as the API shows it. Request
// and Response are the bodies exchanged with Antom as JSON objects; a body
// that is not a JSON object or array (a state change's note, a transport
// failure's partial answer) is a JSON string.
type TimelineEntry struct {
	ID           string          `json:"id"`
	ObjectID     string          `json:"objectId"`            // an authorization, token, charge or refund ID
	Kind         string          `json:"kind"`                // e.g. "antom.pay", "notify.payment", "state"
	Direction    string          `json:"direction,omitempty"` // out (we called Antom), in (Antom notified us), or empty for a state change
	Request      json.RawMessage `json:"request,omitempty"`
	Response     json.RawMessage `json:"response,omitempty"`
	ResultStatus string          `json:"resultStatus,omitempty"` // Antom's S, F or U
	ResultCode   string          `json:"resultCode,omitempty"`
	Error        string          `json:"error,omitempty"` // transport failure, if any
	DurationMS   int64           `json:"durationMs"`
	CreatedAt    time.Time       `json:"createdAt"`
}

func toTimelineEntry(e *autodebit.TimelineEntry) TimelineEntry {
	return TimelineEntry{
		ID: e.ID, ObjectID: e.ObjectID, Kind: e.Kind, Direction: e.Direction, Request: eventBody(e.Request), Response: eventBody(e.Response),
		ResultStatus: e.ResultStatus, ResultCode: e.ResultCode, Error: e.Error, DurationMS: e.DurationMS, CreatedAt: apiTime(e.CreatedAt),
	}
}

// eventBody is a stored body as JSON: itself when it is a JSON object or
// array, else a JSON string holding it; nil when empty.
func eventBody(body string) json.RawMessage {
	if body == "" {
		return nil
	}
	if t := strings.TrimSpace(body); (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(body)
	return b
}

// Domain returns the event with its bodies as the stored text: the JSON
// of an object or array, the content of a string.
func (e TimelineEntry) Domain() *autodebit.TimelineEntry {
	return &autodebit.TimelineEntry{
		ID: e.ID, ObjectID: e.ObjectID, Kind: e.Kind, Direction: e.Direction, Request: bodyText(e.Request), Response: bodyText(e.Response),
		ResultStatus: e.ResultStatus, ResultCode: e.ResultCode, Error: e.Error, DurationMS: e.DurationMS, CreatedAt: e.CreatedAt,
	}
}

func bodyText(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// List is one page of a list.
type List[T any] struct {
	Data  []T `json:"data"`
	Total int `json:"total"`
}

// apiTime is a time as the API shows every time: UTC, to the second, so
// that it always reads 2006-01-02T15:04:05Z. Seconds are what Antom's times
// carry; durations that need finer measure have fields of their own
// (durationMs).
func apiTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// timePtr is apiTime for an optional time: nil when t is zero.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = apiTime(t)
	return &t
}

func listOf[D any, T any](items []*D, total int, conv func(*D) T) List[T] {
	out := List[T]{Data: make([]T, 0, len(items)), Total: total}
	for _, it := range items {
		out.Data = append(out.Data, conv(it))
	}
	return out
}

// --- handlers ---

type createAuthorizationRequest struct {
	CustomerID string `json:"customerId"`
	Wallet     string `json:"wallet"`
}

func (s *Server) createAuthorization(w http.ResponseWriter, r *http.Request) error {
	var req createAuthorizationRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.CustomerID == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"customerId\" is required.")
	}
	if req.Wallet == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"wallet\" is required.")
	}
	a, err := s.engine.CreateAuthorization(r.Context(), req.CustomerID, req.Wallet)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toAuthorization(a))
}

func (s *Server) getAuthorization(w http.ResponseWriter, r *http.Request) error {
	a, err := s.store.FindAuthorizationByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAuthorization(a))
}

func (s *Server) listAuthorizations(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.AuthorizationFilter{
		Status: autodebit.AuthorizationStatus(q.str("status")), CustomerID: q.str("customerId"), Wallet: q.str("wallet"),
		CreatedAfter: q.time("createdAfter"), CreatedBefore: q.time("createdBefore"), Limit: q.limit(), Offset: q.int("offset"),
	}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "is not an authorization status")
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindAuthorizations(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toAuthorization))
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.TokenFilter{
		Status: autodebit.TokenStatus(q.str("status")), CustomerID: q.str("customerId"), Wallet: q.str("wallet"),
		CreatedAfter: q.time("createdAfter"), CreatedBefore: q.time("createdBefore"), Limit: q.limit(), Offset: q.int("offset"),
	}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "is not a token status")
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindTokens(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toToken))
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.store.FindTokenByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toToken(t))
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.engine.RevokeToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toToken(t))
}

type createChargeRequest struct {
	TokenID     string  `json:"tokenId"`
	Amount      *Amount `json:"amount"`
	Description string  `json:"description"`
}

func (s *Server) createCharge(w http.ResponseWriter, r *http.Request) error {
	var req createChargeRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.TokenID == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"tokenId\" is required.")
	}
	amount, err := req.Amount.domain("amount")
	if err != nil {
		return err
	}
	ctx, replay := engine.WithReplayReport(r.Context())
	c, err := s.engine.CreateCharge(ctx, engine.ChargeInput{
		TokenID: req.TokenID, Amount: amount, Description: req.Description, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	markReplayed(w, *replay)
	return writeJSON(w, http.StatusCreated, toCharge(c))
}

// ReplayedHeader marks the answer to a POST that repeated an earlier
// Idempotency-Key: the object is the one the first request created, and
// nothing was sent to Antom again.
const ReplayedHeader = "Idempotent-Replayed"

// markReplayed sets ReplayedHeader to "true" on a replay.
func markReplayed(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
}

func (s *Server) getCharge(w http.ResponseWriter, r *http.Request) error {
	c, err := s.store.FindChargeByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toCharge(c))
}

func (s *Server) listCharges(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.ChargeFilter{
		Status: autodebit.ChargeStatus(q.str("status")), TokenID: q.str("tokenId"), CustomerID: q.str("customerId"),
		Wallet: q.str("wallet"), CreatedAfter: q.time("createdAfter"), CreatedBefore: q.time("createdBefore"),
		Limit: q.limit(), Offset: q.int("offset"),
	}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "is not a charge status (INIT, SUCCESS, FAIL, CANCELLED)")
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindCharges(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toCharge))
}

func (s *Server) cancelCharge(w http.ResponseWriter, r *http.Request) error {
	c, err := s.engine.CancelCharge(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toCharge(c))
}

type createRefundRequest struct {
	Amount *Amount `json:"amount"`
	Reason string  `json:"reason"`
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) error {
	var req createRefundRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	amount, err := req.Amount.domain("amount")
	if err != nil {
		return err
	}
	ctx, replay := engine.WithReplayReport(r.Context())
	rf, err := s.engine.CreateRefund(ctx, engine.RefundInput{
		ChargeID: r.PathValue("id"), Amount: amount, Reason: req.Reason, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	markReplayed(w, *replay)
	return writeJSON(w, http.StatusCreated, toRefund(rf))
}

func (s *Server) listChargeRefunds(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.store.FindChargeByID(r.Context(), id); err != nil {
		return err
	}
	items, total, err := s.store.FindRefunds(r.Context(), autodebit.RefundFilter{ChargeID: id})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toRefund))
}

func (s *Server) getRefund(w http.ResponseWriter, r *http.Request) error {
	rf, err := s.store.FindRefundByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toRefund(rf))
}

// events serves the audit trail of the object named in the path; the
// object must exist.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var err error
	switch {
	case hasPrefix(id, autodebit.ChargeIDPrefix):
		_, err = s.store.FindChargeByID(ctx, id)
	case hasPrefix(id, autodebit.AuthorizationIDPrefix):
		_, err = s.store.FindAuthorizationByID(ctx, id)
	case hasPrefix(id, autodebit.TokenIDPrefix):
		_, err = s.store.FindTokenByID(ctx, id)
	case hasPrefix(id, autodebit.RefundIDPrefix):
		_, err = s.store.FindRefundByID(ctx, id)
	default:
		err = autodebit.Errorf(autodebit.ENOTFOUND, "No object %q.", id)
	}
	if err != nil {
		return err
	}
	evs, err := s.store.FindTimeline(ctx, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(evs, len(evs), toTimelineEntry))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	b, err := s.store.FindBacklog(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Health{
		OpenCharges:              b.OpenCharges,
		OldestOpenChargeAt:       timePtr(b.OldestOpenChargeAt),
		NextInquiryAt:            timePtr(b.NextInquiryAt),
		ProcessingRefunds:        b.ProcessingRefunds,
		OldestProcessingRefundAt: timePtr(b.OldestProcessingRefundAt),
	})
}
