package antom

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is the schedule Retry waits on between attempts. The zero value is
// usable: it means DefaultBackoff.
type Backoff struct {
	// Initial is the first wait. Zero means 200ms.
	Initial time.Duration
	// Max caps each wait. Zero means 5s.
	Max time.Duration
	// Multiplier grows the wait after each attempt. Zero means 2.
	Multiplier float64
	// Jitter is the fraction of each wait that is randomised, in [0, 1].
	// Zero means 0.2; a negative value means none.
	Jitter float64
	// MaxAttempts bounds the number of calls. Zero means no bound other than
	// the context.
	MaxAttempts int
}

// DefaultBackoff waits 200ms, 400ms, 800ms, … up to 5s, ±20%, until the
// context ends.
var DefaultBackoff = Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}

func (b Backoff) normalized() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoff.Jitter
	} else if b.Jitter < 0 {
		b.Jitter = 0
	} else if b.Jitter > 1 {
		b.Jitter = 1
	}
	return b
}

// Delay returns the wait after the given attempt (1 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.normalized()
	d := float64(b.Initial)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d += d * b.Jitter * (2*rand.Float64() - 1)
	}
	return time.Duration(d)
}

// Retryable reports whether a call that ended with resp and err should be
// sent again unchanged: no answer (ErrNotSent from the transport, or
// ErrMaybeSent), or a U result other than PAYMENT_IN_PROCESS and
// REFUND_IN_PROCESS. Those two mean Antom has the request and is working on
// it: inquire instead. A validation error is never retryable.
func Retryable(resp Response, err error) bool {
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return false
		}
		return errors.Is(err, ErrNotSent) || errors.Is(err, ErrMaybeSent)
	}
	r := resp.GetResult()
	return r.Unknown() && r.ResultCode != CodePaymentInProcess && r.ResultCode != CodeRefundInProcess
}

// Retry calls send until its outcome is not Retryable, the context ends or
// the backoff's MaxAttempts is reached, waiting on b between calls. send must
// resend the same request (same paymentRequestId or refundRequestId); the
// Client re-signs it with a new Request-Time on every call.
//
// It returns the last response and error, with two adjustments so that the
// result still tells the truth about the whole sequence:
//
//   - When the last attempt certainly did not reach Antom but an earlier one
//     may have (an ErrMaybeSent error or a U result), the error is a
//     *RetryError, which matches ErrMaybeSent and not ErrNotSent.
//   - When the context ends while waiting, a last U response is returned as
//     is with a nil error (U already says "unknown"); a last error is
//     returned joined with the context's error.
func Retry[R Response](ctx context.Context, b Backoff, send func(context.Context) (R, error)) (R, error) {
	b = b.normalized()
	reached := false // an earlier attempt may have reached Antom
	for attempt := 1; ; attempt++ {
		resp, err := send(ctx)
		var r Response
		if err == nil {
			r = resp
		}
		if !Retryable(r, err) || (b.MaxAttempts > 0 && attempt >= b.MaxAttempts) {
			return resp, retryErr(err, reached, attempt)
		}
		if err == nil || errors.Is(err, ErrMaybeSent) {
			reached = true
		}
		t := time.NewTimer(b.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				return resp, nil
			}
			return resp, errors.Join(retryErr(err, reached, attempt), ctx.Err())
		case <-t.C:
		}
	}
}

func retryErr(err error, reached bool, attempts int) error {
	if err == nil || !reached || errors.Is(err, ErrMaybeSent) {
		return err
	}
	// Even a validation error (a PaymentExpiryTime that has passed by the
	// time of a resend) does not undo an earlier attempt.
	return &RetryError{Attempts: attempts, Last: err}
}

// RetryError is returned by Retry when its last attempt certainly did not
// reach Antom but an earlier attempt may have, so the request as a whole may
// have been acted on. It matches ErrMaybeSent and never ErrNotSent;
// errors.Is for other targets and errors.As look at Last.
type RetryError struct {
	Attempts int
	Last     error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("antom: %d attempts, an earlier one may have reached Antom; last: %v", e.Attempts, e.Last)
}

// Is matches ErrMaybeSent, and otherwise whatever Last matches except ErrNotSent.
func (e *RetryError) Is(target error) bool {
	switch target {
	case ErrMaybeSent:
		return true
	case ErrNotSent:
		return false
	}
	return errors.Is(e.Last, target)
}

// As finds target in Last.
func (e *RetryError) As(target any) bool { return errors.As(e.Last, target) }
