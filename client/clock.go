package client

import (
	"context"
	"time"

	adhttp "github.com/autodebit/autodebit/http"
)

// Clock reads the one clock of simulator mode: GET /v1/clock. Against an
// engine on a real Antom it is an *Error with code not_found.
func (c *Client) Clock(ctx context.Context) (*adhttp.Clock, error) {
	var out adhttp.Clock
	return &out, c.do(ctx, "GET", "/v1/clock", nil, nil, "", &out)
}

// AdvanceClock moves the one clock forward by by ("1h", "30d", "720h") and
// returns once everything that fell due has run and settled, or the server
// gave up after timeout (zero means the server's 60s): POST
// /v1/clock/advance.
func (c *Client) AdvanceClock(ctx context.Context, by string, timeout time.Duration) (*adhttp.ClockAdvance, error) {
	body := struct {
		By      string `json:"by"`
		Timeout string `json:"timeout,omitempty"`
	}{By: by}
	if timeout > 0 {
		body.Timeout = timeout.String()
	}
	var out adhttp.ClockAdvance
	return &out, c.do(ctx, "POST", "/v1/clock/advance", nil, body, "", &out)
}
