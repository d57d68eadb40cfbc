package client

import (
	"context"
	"net/url"
)

// Get calls GET path with query q and decodes the answer into out, with the
// same key and errors as the typed methods. It is for callers that keep the
// server's JSON as it is, such as `autodebit listen`, which forwards each
// event's bytes unchanged.
func (c *Client) Get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, "GET", path, q, nil, "", out)
}
