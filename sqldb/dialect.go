package sqldb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is the SQL database a Store runs on. The Store's SQL is shared;
// the dialect decides row locking, time encoding and error translation.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// lockSuffix is appended to a SELECT that must lock its rows. SQLite needs
// none: a write transaction (BEGIN IMMEDIATE) already excludes other writers.
func (d Dialect) lockSuffix() string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// boolTrue is the literal for true, written out (not a parameter) so that
// a query matches a partial index's WHERE clause.
func (d Dialect) boolTrue() string {
	if d == Postgres {
		return "TRUE"
	}
	return "1"
}

// timeLayout is how SQLite stores times: UTC, fixed width, microseconds, so
// that text order is time order. PostgreSQL columns are timestamptz, which
// also keep microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// time returns t as a query argument: nil for the zero time (NULL).
func (d Dialect) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.Format(timeLayout)
	}
	return t
}

// timeScanner scans a time column of either dialect into t, leaving the zero
// time for NULL.
type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

func (s timeScanner) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*s.t = t.UTC()
	return nil
}

// nullString returns s as a query argument: nil (NULL) when empty. Used for
// optional columns under a unique constraint, where "" must not collide.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt returns n as a query argument: nil (NULL) when zero.
func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// stringScanner scans a nullable text column, leaving "" for NULL.
type stringScanner struct{ s *string }

func (s stringScanner) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.s = ""
	case string:
		*s.s = v
	case []byte:
		*s.s = string(v)
	default:
		return fmt.Errorf("scan string: unexpected %T", v)
	}
	return nil
}

// isUniqueViolation reports whether err is a unique or primary key
// violation. Both drivers' errors are recognised by their methods, so this
// package imports neither driver.
func isUniqueViolation(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		const constraintPrimaryKey, constraintUnique = 1555, 2067
		return lite.Code() == constraintPrimaryKey || lite.Code() == constraintUnique
	}
	return false
}

// where builds a WHERE clause with $n placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends cond, in which "?" stands for the next placeholder, with arg.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

// addOwner adds the filters every list of a customer's objects takes:
// status, customer and wallet, each when set.
func (w *where) addOwner(status, customerID, wallet string) {
	if status != "" {
		w.add("status = ?", status)
	}
	if customerID != "" {
		w.add("customer_id = ?", customerID)
	}
	if wallet != "" {
		w.add("wallet = ?", wallet)
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page returns LIMIT and OFFSET clauses for limit (zero means none) and
// offset, with their arguments appended to w's.
func (w *where) page(limit, offset int) (string, []any) {
	n := len(w.args)
	l := int64(limit)
	if l <= 0 {
		l = 1<<63 - 1
	}
	return fmt.Sprintf(" LIMIT $%d OFFSET $%d", n+1, n+2), append(append([]any(nil), w.args...), l, max(offset, 0))
}

// inList returns "($1, $2, …)" with one placeholder per value, and the
// values as arguments.
func inList(values []string) (string, []any) {
	ph := make([]string, len(values))
	args := make([]any, len(values))
	for i, v := range values {
		ph[i], args[i] = "$"+strconv.Itoa(i+1), v
	}
	return "(" + strings.Join(ph, ", ") + ")", args
}
