package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/engine"
)

func TestClient_WebhookEndpoints(t *testing.T) {
	c, _ := newTestServer(t, func(cfg *engine.Config) { cfg.WebhookURLPolicy = engine.WebhookURLsAny })
	ctx := context.Background()

	created, err := c.CreateWebhookEndpoint(ctx, client.WebhookEndpointParams{URL: "http://127.0.0.1:3000/hooks", EventTypes: []string{"charge.failed"}, IdempotencyKey: "k1"})
	if err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create: %+v, %v", created, err)
	}
	off, types := false, []string{}
	updated, err := c.UpdateWebhookEndpoint(ctx, created.ID, client.WebhookEndpointUpdate{Enabled: &off, EventTypes: &types})
	if err != nil || updated.Enabled || len(updated.EventTypes) != 0 || updated.URL != created.URL {
		t.Fatalf("update: %+v, %v", updated, err)
	}
	if list, err := c.WebhookEndpoints(ctx, client.WebhookEndpointListParams{Enabled: &off}); err != nil || list.Total != 1 {
		t.Fatalf("list disabled: %+v, %v", list, err)
	}
	on := true
	if list, err := c.WebhookEndpoints(ctx, client.WebhookEndpointListParams{Enabled: &on}); err != nil || list.Total != 0 {
		t.Fatalf("list enabled: %+v, %v", list, err)
	}
	rotated, err := c.RotateWebhookEndpointSecret(ctx, created.ID)
	if err != nil || rotated.Secret == created.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotate: %+v, %v", rotated, err)
	}
	if got, err := c.WebhookEndpoint(ctx, created.ID); err != nil || got.ID != created.ID {
		t.Fatalf("read: %+v, %v", got, err)
	}
	if _, err := c.DeleteWebhookEndpoint(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WebhookEndpoint(ctx, created.ID); client.ErrorCode(err) != "not_found" {
		t.Fatalf("read after delete: %v", err)
	}
	tl, err := c.Timeline(ctx, created.ID)
	if err != nil || tl.Total != 4 {
		t.Fatalf("timeline: %+v, %v", tl, err)
	}
}
