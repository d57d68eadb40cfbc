package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
)

// MaxListLimit caps the page size of list endpoints; it is also the default.
const MaxListLimit = 100

// query reads list parameters, keeping the first error.
type query struct {
	r   *http.Request
	err error
}

func (q *query) fail(name, reason string) {
	if q.err == nil {
		q.err = autodebit.Errorf(autodebit.EINVALID, "Query parameter %q %s.", name, reason)
	}
}

func (q *query) str(name string) string { return q.r.URL.Query().Get(name) }

func (q *query) int(name string) int {
	s := q.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		q.fail(name, "must be a non-negative integer")
	}
	return n
}

func (q *query) limit() int {
	n := q.int("limit")
	if n == 0 {
		return MaxListLimit
	}
	if n > MaxListLimit {
		q.fail("limit", "must be at most "+strconv.Itoa(MaxListLimit))
	}
	return n
}

// time reads an RFC 3339 time or a date (YYYY-MM-DD, UTC).
func (q *query) time(name string) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	q.fail(name, "must be an RFC 3339 time or a YYYY-MM-DD date")
	return time.Time{}
}

func hasPrefix(s, prefix string) bool { return strings.HasPrefix(s, prefix) }
