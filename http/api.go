package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/api"
	"github.com/autodebit/autodebit/engine"
)

// The views of the domain objects live in package api, so that the engine
// can put them in events; these aliases keep the http names callers use.
type (
	Amount        = api.Amount
	QR            = api.QR
	Authorization = api.Authorization
	Token         = api.Token
	Charge        = api.Charge
	Refund        = api.Refund
	Event         = api.Event
	EventData     = api.EventData
)

var (
	toAmount        = api.ToAmount
	toAuthorization = api.ToAuthorization
	toToken         = api.ToToken
	toCharge        = api.ToCharge
	toRefund        = api.ToRefund
	toEvent         = api.ToEvent
	apiTime         = api.Time
	timePtr         = api.TimePtr
)

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
	amount, err := req.Amount.Domain("amount")
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
		Wallet: q.str("wallet"), SubscriptionID: q.str("subscriptionId"), CreatedAfter: q.time("createdAfter"),
		CreatedBefore: q.time("createdBefore"), Limit: q.limit(), Offset: q.int("offset"),
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
	amount, err := req.Amount.Domain("amount")
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
	case hasPrefix(id, autodebit.LinkSessionIDPrefix):
		_, err = s.store.FindLinkSessionByID(ctx, id)
	case hasPrefix(id, autodebit.SubscriptionIDPrefix):
		_, err = s.store.FindSubscriptionByID(ctx, id)
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
