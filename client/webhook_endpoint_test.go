package client_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/storetest"
)

func TestClient_WebhookEndpoints(t *testing.T) {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ac, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "client_1", PrivateKey: kp.PrivateKey,
		AntomPublicKey: &kp.PrivateKey.PublicKey, ObserveFunc: engine.Observe})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: storetest.OpenSQLite(t, storetest.Config()), Antom: ac, PublicURL: "http://127.0.0.1",
		WebhookURLPolicy: engine.WebhookURLsAny})
	if err != nil {
		t.Fatal(err)
	}
	const key = "client-test-api-key-0123"
	srv, err := adhttp.NewServer(adhttp.Config{Engine: eng, APIKey: key, Verifier: &antom.NotificationVerifier{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, ctx := client.New(hs.URL, key), context.Background()

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
