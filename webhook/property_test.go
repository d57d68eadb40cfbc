package webhook_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/autodebit/autodebit/webhook"
)

// TestPropertySignVerify: whatever the event, secrets and clock, a delivery
// signed by SetHeaders verifies and decodes to the event sent, and changing
// any one byte of its body, ID, timestamp or signature gets it refused.
func TestPropertySignVerify(t *testing.T) {
	secrets := []string{newSecret(t), newSecret(t), newSecret(t)}
	rapid.Check(t, func(t *rapid.T) {
		var in webhook.Event
		in.ID = "evt_" + rapid.StringMatching(`[A-Za-z0-9_]{1,24}`).Draw(t, "id")
		in.Type = rapid.SampledFrom([]string{"charge.succeeded", "charge.failed", "token.revoked", "refund.succeeded"}).Draw(t, "type")
		in.ObjectID = rapid.String().Draw(t, "objectId")
		in.Sequence = rapid.Int64Min(1).Draw(t, "sequence")
		in.CreatedAt = time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "createdAt"), 0).UTC()
		obj, _ := json.Marshal(map[string]string{"note": rapid.String().Draw(t, "note")})
		in.Data.Object = obj
		body, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "sent"), 0)
		lag := time.Duration(rapid.Int64Range(-300, 300).Draw(t, "lag")) * time.Second
		signWith := rapid.SliceOfNDistinct(rapid.IntRange(0, 2), 1, 3, rapid.ID).Draw(t, "signWith")
		holds := rapid.IntRange(0, 2).Draw(t, "holds")
		var with []string
		for _, i := range signWith {
			with = append(with, secrets[i])
		}
		v := &webhook.Verifier{Secrets: []string{secrets[holds]}, NowFunc: func() time.Time { return sent.Add(lag) }}
		h := http.Header{}
		if err := webhook.SetHeaders(h, with, in.ID, sent, body); err != nil {
			t.Fatal(err)
		}

		out, err := v.VerifyBody(h, body)
		holdsOne := false
		for _, i := range signWith {
			holdsOne = holdsOne || i == holds
		}
		if !holdsOne {
			if !errors.Is(err, webhook.ErrBadSignature) {
				t.Fatalf("signed with %v, receiver holds %d: error = %v, want ErrBadSignature", signWith, holds, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("VerifyBody: %v", err)
		}
		if out.ID != in.ID || out.Type != in.Type || out.ObjectID != in.ObjectID || out.Sequence != in.Sequence ||
			!out.CreatedAt.Equal(in.CreatedAt) || string(out.Data.Object) != string(in.Data.Object) {
			t.Fatalf("decoded %+v, sent %+v", out, in)
		}

		// One byte changed anywhere in what is signed or in the signature.
		what := rapid.SampledFrom([]string{"body", webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature}).Draw(t, "what")
		b2, h2 := body, h.Clone()
		switch what {
		case "body":
			b2 = flipByte(t, body)
		case webhook.HeaderSignature:
			// The receiver's entry: the others are not its to check.
			entries := strings.Fields(h.Get(what))
			mine := slices.Index(signWith, holds)
			entries[mine] = string(flipByte(t, []byte(entries[mine])))
			h2.Set(what, strings.Join(entries, " "))
		default:
			h2.Set(what, string(flipByte(t, []byte(h.Get(what)))))
		}
		if _, err := v.VerifyBody(h2, b2); err == nil {
			t.Fatalf("a one-byte change to the %s was accepted", what)
		} else if what == "body" && !errors.Is(err, webhook.ErrBadSignature) {
			t.Fatalf("a changed body: error = %v, want ErrBadSignature", err)
		}
	})
}

// flipByte returns a copy of b with one byte replaced by a different one.
func flipByte(t *rapid.T, b []byte) []byte {
	out := append([]byte(nil), b...)
	i := rapid.IntRange(0, len(out)-1).Draw(t, "at")
	out[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "xor"))
	return out
}
