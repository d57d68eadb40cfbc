package http

import (
	"net/http"
	"time"

	"github.com/autodebit/autodebit"
)

// Delivery is a webhook delivery as the API shows it: one event to one
// endpoint, with its attempts.
type Delivery struct {
	ID         string `json:"id"`
	EventID    string `json:"eventId"`
	EndpointID string `json:"endpointId"`
	// Status is pending (attempts left), delivered (a 2xx) or failed (the
	// retry schedule ran out, or the endpoint was disabled).
	Status       string `json:"status"`
	AttemptCount int    `json:"attemptCount"`
	// NextAttemptAt is when a pending delivery is tried next.
	NextAttemptAt  *time.Time `json:"nextAttemptAt,omitempty"`
	LastStatusCode int        `json:"lastStatusCode,omitempty"`
	LastError      string     `json:"lastError,omitempty"`
	DeliveredAt    *time.Time `json:"deliveredAt,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	// Attempts are the tries, the first first.
	Attempts []DeliveryAttempt `json:"attempts"`
}

// DeliveryAttempt is one try of a delivery.
type DeliveryAttempt struct {
	Attempt   int       `json:"attempt"`
	StartedAt time.Time `json:"startedAt"`
	// FinishedAt is absent while the attempt is in flight.
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	DurationMS int64      `json:"durationMs"`
	// StatusCode is the receiver's HTTP status; absent when there was no
	// answer (see error).
	StatusCode int    `json:"statusCode,omitempty"`
	Error      string `json:"error,omitempty"`
	// Response is the start (at most 1 KiB) of the receiver's body.
	Response string `json:"response,omitempty"`
}

func toDelivery(d *autodebit.Delivery, attempts []*autodebit.DeliveryAttempt) Delivery {
	v := Delivery{
		ID: d.ID, EventID: d.EventID, EndpointID: d.EndpointID, Status: string(d.Status), AttemptCount: d.Attempts,
		NextAttemptAt: timePtr(d.NextAttemptAt), LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		DeliveredAt: timePtr(d.DeliveredAt), CreatedAt: apiTime(d.CreatedAt), UpdatedAt: apiTime(d.UpdatedAt),
		Attempts: make([]DeliveryAttempt, 0, len(attempts)),
	}
	for _, a := range attempts {
		v.Attempts = append(v.Attempts, DeliveryAttempt{
			Attempt: a.Attempt, StartedAt: apiTime(a.StartedAt), FinishedAt: timePtr(a.FinishedAt),
			DurationMS: a.Duration.Milliseconds(), StatusCode: a.StatusCode, Error: a.Error, Response: a.Response,
		})
	}
	return v
}

// withAttempts reads the attempts of each delivery for its view.
func (s *Server) withAttempts(r *http.Request, ds []*autodebit.Delivery) ([]Delivery, error) {
	out := make([]Delivery, 0, len(ds))
	for _, d := range ds {
		as, err := s.store.FindDeliveryAttempts(r.Context(), d.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, toDelivery(d, as))
	}
	return out, nil
}

// eventDeliveries serves GET /v1/events/{id}/deliveries: the event's
// deliveries, oldest first, each with its attempts.
func (s *Server) eventDeliveries(w http.ResponseWriter, r *http.Request) error {
	ev, err := s.store.FindEventByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, total, err := s.store.FindDeliveries(r.Context(), autodebit.DeliveryFilter{EventID: ev.ID})
	if err != nil {
		return err
	}
	views, err := s.withAttempts(r, ds)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, List[Delivery]{Data: views, Total: total})
}

type redeliverRequest struct {
	// EndpointID is the one endpoint to redeliver to; absent means every
	// enabled endpoint subscribed to the event's type.
	EndpointID string `json:"endpointId,omitempty"`
}

// redeliverEvent serves POST /v1/events/{id}/redeliver: the body is
// optional.
func (s *Server) redeliverEvent(w http.ResponseWriter, r *http.Request) error {
	var req redeliverRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	ds, err := s.engine.Redeliver(r.Context(), r.PathValue("id"), req.EndpointID)
	if err != nil {
		return err
	}
	views, err := s.withAttempts(r, ds)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, List[Delivery]{Data: views, Total: len(views)})
}

// deliveryOperations document the delivery routes; OpenAPI adds them to
// apiOperations.
var deliveryOperations = []apiOperation{
	{Pattern: "GET /v1/events/{id}/deliveries", ID: "listEventDeliveries", Summary: "Webhook deliveries of an event, oldest first, with their attempts",
		Description: "One delivery per endpoint the event was sent to: pending (attempts left; nextAttemptAt), delivered (a 2xx) or failed (the retry schedule ran out, or the endpoint was disabled).",
		Status:      200, Response: List[Delivery]{}},
	{Pattern: "POST /v1/events/{id}/redeliver", ID: "redeliverEvent", Summary: "Send an event again",
		Description: "To endpointId, or (body absent or endpointId omitted) to every enabled endpoint subscribed to the event's type. Each delivery is created, or moved from delivered or failed back to pending, and sent at once; the receiver gets the same webhook-id, so it can dedupe. " +
			"409 if a delivery is still pending (it will be retried on its schedule); 400 for a disabled or unsubscribed endpoint.",
		Body: redeliverRequest{}, BodyOptional: true, Status: 202, Response: List[Delivery]{}},
}
