package client

import (
	"context"
	"net/url"

	adhttp "github.com/autodebit/autodebit/http"
)

// EventDeliveries lists the webhook deliveries of an event, oldest first,
// each with its attempts: GET /v1/events/{id}/deliveries.
func (c *Client) EventDeliveries(ctx context.Context, eventID string) (*adhttp.List[adhttp.Delivery], error) {
	var out adhttp.List[adhttp.Delivery]
	return &out, c.do(ctx, "GET", "/v1/events/"+url.PathEscape(eventID)+"/deliveries", nil, nil, "", &out)
}

// Redeliver sends an event again: to endpointID, or, when it is empty, to
// every enabled endpoint subscribed to the event's type. It returns the
// deliveries queued (pending, due now): POST /v1/events/{id}/redeliver.
func (c *Client) Redeliver(ctx context.Context, eventID, endpointID string) (*adhttp.List[adhttp.Delivery], error) {
	body := struct {
		EndpointID string `json:"endpointId,omitempty"`
	}{endpointID}
	var out adhttp.List[adhttp.Delivery]
	return &out, c.do(ctx, "POST", "/v1/events/"+url.PathEscape(eventID)+"/redeliver", nil, body, "", &out)
}
