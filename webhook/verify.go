package webhook

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Why a delivery was refused. Match them with errors.Is; the *Error that
// wraps one says what exactly was wrong. Answer a refused delivery with a
// 4xx status and change nothing: autodebit retries a genuine one.
var (
	ErrMissingHeaders = errors.New("webhook: missing header")
	ErrBadTimestamp   = errors.New("webhook: unreadable timestamp")
	ErrStaleTimestamp = errors.New("webhook: timestamp outside the tolerance")
	ErrBadSignature   = errors.New("webhook: bad signature")
	ErrBadBody        = errors.New("webhook: malformed body")
	ErrBodyTooLarge   = errors.New("webhook: body too large")
)

// Error reports why a delivery was refused. It wraps one of the sentinels
// above.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return "webhook delivery refused: " + e.Reason }

func (e *Error) Unwrap() error { return e.Err }

func refusef(sentinel error, format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// DefaultTolerance is how far a delivery's webhook-timestamp may be from the
// receiver's clock, either way, unless Verifier.Tolerance says otherwise:
// room for clocks that disagree by minutes, not for a replay hours later.
// Each retry is signed anew with its own timestamp, so a genuine retry is
// never refused for its age.
const DefaultTolerance = 5 * time.Minute

// MaxBodyBytes is the largest body Verify reads unless Verifier.MaxBodyBytes
// says otherwise. An event carries one object's API view: far smaller.
const MaxBodyBytes = 1 << 20

// Event is a verified event, as PRODUCT.md's contract shows it:
//
//	{"id":"evt_…","type":"charge.succeeded","createdAt":"…","objectId":"chg_…","sequence":7,"data":{"object":{…}}}
//
// Data.Object is the object as its GET returns it after the change; decode
// it into the type that Type names. Sequence increases per object, so a
// receiver can ignore an event older than one it has already applied.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	ObjectID  string    `json:"objectId"`
	Sequence  int64     `json:"sequence"`
	Data      struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// Verifier checks deliveries. Set Secrets; the rest has defaults. It is safe
// for concurrent use.
type Verifier struct {
	// Secrets are the endpoint's signing secrets (whsec_…): the current one
	// and, during a rotation, the one it replaces. A delivery signed with
	// any of them is accepted.
	Secrets []string
	// Tolerance is how far webhook-timestamp may be from NowFunc, in the
	// past or the future. Zero or negative means DefaultTolerance: the check
	// cannot be turned off, as without it a captured delivery could be
	// replayed forever.
	Tolerance time.Duration
	// NowFunc returns the current time. Nil means time.Now.
	NowFunc func() time.Time
	// MaxBodyBytes bounds the body. Zero means MaxBodyBytes.
	MaxBodyBytes int64
}

// Verify reads the body of r (at most MaxBodyBytes), verifies it as
// VerifyBody does and puts the body back, so the handler can read it again
// whatever the outcome. Errors are *Error wrapping a sentinel, except for a
// Verifier without a usable secret.
func (v *Verifier) Verify(r *http.Request) (*Event, error) {
	if r.Body == nil || r.Body == http.NoBody {
		r.Body = http.NoBody
		return v.VerifyBody(r.Header, nil)
	}
	limit := v.maxBody()
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body = restoredBody{Reader: io.MultiReader(bytes.NewReader(body), r.Body), Closer: r.Body}
	if err != nil {
		return nil, refusef(ErrBadBody, "reading the body failed: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, refusef(ErrBodyTooLarge, "the body is over %d bytes", limit)
	}
	return v.VerifyBody(r.Header, body)
}

// restoredBody gives back what Verify read, then the rest of the original.
type restoredBody struct {
	io.Reader
	io.Closer
}

// VerifyBody verifies a delivery whose body was already read, exactly as
// received (a body decoded and encoded again no longer matches its
// signature), and decodes its event.
//
// The checks run in this order: the three headers are present and the
// timestamp is a Unix time; a v1 entry of webhook-signature matches one of
// Secrets (compared in constant time); the timestamp is within Tolerance;
// the body is an event whose id is webhook-id. The signature comes before
// freshness, as in antom.NotificationVerifier, so that "stale" is only ever
// said of a genuine delivery (a replay), and before the body is parsed, so
// that no unauthenticated input reaches the JSON decoder.
func (v *Verifier) VerifyBody(h http.Header, body []byte) (*Event, error) {
	keys, err := v.keys()
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > v.maxBody() {
		return nil, refusef(ErrBodyTooLarge, "the body is over %d bytes", v.maxBody())
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	var missing []string
	for _, p := range []struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, tsText}, {HeaderSignature, sigs}} {
		if strings.TrimSpace(p.value) == "" {
			missing = append(missing, p.name)
		}
	}
	if len(missing) > 0 {
		return nil, refusef(ErrMissingHeaders, "the %s header%s missing; a Standard Webhooks delivery has webhook-id, webhook-timestamp and webhook-signature", strings.Join(missing, " and "), plural(len(missing), " is", "s are"))
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts < 0 {
		return nil, refusef(ErrBadTimestamp, "webhook-timestamp %q is not a time in Unix seconds", clip(tsText, 32))
	}
	if err := checkSignature(keys, id, ts, body, sigs); err != nil {
		return nil, err
	}
	if err := v.checkFresh(ts); err != nil {
		return nil, err
	}
	return decodeEvent(id, body)
}

// keys parses Secrets. A bad secret is the receiver's configuration error,
// not the sender's fault, so it is a plain error, never a refusal.
func (v *Verifier) keys() ([][]byte, error) {
	if len(v.Secrets) == 0 {
		return nil, errors.New("webhook: Verifier has no Secrets; set the endpoint's signing secret (whsec_…)")
	}
	keys := make([][]byte, 0, len(v.Secrets))
	for i, s := range v.Secrets {
		k, err := ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("Verifier.Secrets[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBodyBytes > 0 {
		return v.MaxBodyBytes
	}
	return MaxBodyBytes
}

// checkSignature accepts the delivery when any v1 entry of the header
// equals the MAC under any key. Entries of other versions (v1a, a future v2)
// are skipped, as the specification asks; every comparison is hmac.Equal on
// the decoded bytes, so timing says nothing about how close a forgery was.
// Decoding is strict (padding bits must be zero), so that one signature has
// one spelling, as for a receiver comparing the base64 text.
func checkSignature(keys [][]byte, id string, ts int64, body []byte, header string) error {
	want := make([][]byte, len(keys))
	for i, k := range keys {
		want[i] = mac(k, id, ts, body)
	}
	v1 := 0
	for _, entry := range strings.Fields(header) {
		version, enc, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		v1++
		got, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	if v1 == 0 {
		return refusef(ErrBadSignature, "webhook-signature has no v1 signature (want \"v1,<base64>\", space-separated)")
	}
	return refusef(ErrBadSignature, "no v1 signature of webhook-signature matches the body under any of the %d secret%s: check the secret, and that the body is passed exactly as received", len(keys), plural(len(keys), "", "s"))
}

func (v *Verifier) checkFresh(ts int64) error {
	now := time.Now
	if v.NowFunc != nil {
		now = v.NowFunc
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	t := time.Unix(ts, 0)
	d := now().Sub(t)
	if d > tol {
		return refusef(ErrStaleTimestamp, "webhook-timestamp %d is %s old, more than the %s allowed (a replay, or a clock that is wrong)", ts, d.Round(time.Second), tol)
	}
	if -d > tol {
		return refusef(ErrStaleTimestamp, "webhook-timestamp %d is %s ahead of our clock, more than the %s allowed", ts, (-d).Round(time.Second), tol)
	}
	return nil
}

// decodeEvent parses an authenticated body and checks that it is the event
// the headers name.
func decodeEvent(id string, body []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, refusef(ErrBadBody, "the body is not an event: %v", err)
	}
	switch {
	case e.ID == "":
		return nil, refusef(ErrBadBody, "the event has no id")
	case e.Type == "":
		return nil, refusef(ErrBadBody, "event %s has no type", clip(e.ID, 64))
	case e.ID != id:
		return nil, refusef(ErrBadBody, "the event's id %q is not the webhook-id %q", clip(e.ID, 64), clip(id, 64))
	}
	return &e, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
