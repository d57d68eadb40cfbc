package http

import (
	"sync"
	"time"
)

// RejectedLogInterval is how often, at most, the server logs a rejected
// notification for one reason of one kind: whoever can reach the public
// notification receivers, signed or not, must not be able to fill the log.
// The metric still counts every rejection.
const RejectedLogInterval = time.Minute

// logLimiter lets through at most one log line per interval for each key
// and counts the lines it holds back, so the next line can say how many
// there were. Keys must come from a small fixed set (the map is never
// pruned). It is safe for concurrent use.
type logLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*limitedKey
}

type limitedKey struct {
	last       time.Time // when a line was last let through
	suppressed int       // lines held back since then
}

func newLogLimiter(interval time.Duration, now func() time.Time) *logLimiter {
	if now == nil {
		now = time.Now
	}
	return &logLimiter{interval: interval, now: now, keys: map[string]*limitedKey{}}
}

// allow reports whether a line for key may be written now and, if so, how
// many lines for key were held back since the previous one.
func (l *logLimiter) allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		l.keys[key] = &limitedKey{last: now}
		return true, 0
	}
	if d := now.Sub(k.last); d >= 0 && d < l.interval {
		k.suppressed++
		return false, 0
	}
	suppressed, k.last, k.suppressed = k.suppressed, now, 0
	return true, suppressed
}
