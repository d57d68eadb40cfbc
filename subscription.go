package autodebit

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones for Subscription.TimeZone even where the system has none
	"unicode/utf8"
)

// SubscriptionStatus is the state of a subscription.
type SubscriptionStatus string

// Subscription statuses. cancelled and completed are final.
const (
	// SubscriptionActive: charging on schedule, the latest period paid (or
	// none due yet).
	SubscriptionActive SubscriptionStatus = "active"
	// SubscriptionPastDue: this period's charge failed with a retryable
	// code and a retry is scheduled.
	SubscriptionPastDue SubscriptionStatus = "past_due"
	// SubscriptionUnpaid: the latest period could not be paid (retries
	// exhausted, or a failure that retrying cannot fix). The next period
	// is charged on schedule; its success makes the subscription active.
	SubscriptionUnpaid SubscriptionStatus = "unpaid"
	// SubscriptionPaused: nothing is charged until it is resumed; resuming
	// continues with the first period that starts at or after that moment.
	SubscriptionPaused SubscriptionStatus = "paused"
	// SubscriptionCancelled: by the merchant, or because its token was
	// revoked or expired (CancelReason says which).
	SubscriptionCancelled SubscriptionStatus = "cancelled"
	// SubscriptionCompleted: its Cycles periods are over.
	SubscriptionCompleted SubscriptionStatus = "completed"
)

var subscriptionTransitions = map[SubscriptionStatus][]SubscriptionStatus{
	SubscriptionActive:  {SubscriptionPastDue, SubscriptionUnpaid, SubscriptionPaused, SubscriptionCancelled, SubscriptionCompleted},
	SubscriptionPastDue: {SubscriptionActive, SubscriptionUnpaid, SubscriptionPaused, SubscriptionCancelled, SubscriptionCompleted},
	SubscriptionUnpaid:  {SubscriptionActive, SubscriptionPastDue, SubscriptionPaused, SubscriptionCancelled, SubscriptionCompleted},
	SubscriptionPaused:  {SubscriptionActive, SubscriptionCancelled, SubscriptionCompleted},
}

// SubscriptionStatuses returns every subscription status, in lifecycle order.
func SubscriptionStatuses() []SubscriptionStatus {
	return []SubscriptionStatus{SubscriptionActive, SubscriptionPastDue, SubscriptionUnpaid, SubscriptionPaused,
		SubscriptionCancelled, SubscriptionCompleted}
}

// Valid reports whether s is a known status.
func (s SubscriptionStatus) Valid() bool { return contains(SubscriptionStatuses(), s) }

// Final reports whether s can never change.
func (s SubscriptionStatus) Final() bool { return s.Valid() && len(subscriptionTransitions[s]) == 0 }

// CanTransition reports whether a subscription may move from s to to.
// Staying in the same status is not a transition.
func (s SubscriptionStatus) CanTransition(to SubscriptionStatus) bool {
	return contains(subscriptionTransitions[s], to)
}

// Charging reports whether a subscription in status s charges on its
// schedule (NextChargeAt).
func (s SubscriptionStatus) Charging() bool {
	return s == SubscriptionActive || s == SubscriptionPastDue || s == SubscriptionUnpaid
}

// Interval is the unit of a subscription's period.
type Interval string

// Intervals.
const (
	IntervalDay   Interval = "day"
	IntervalWeek  Interval = "week"
	IntervalMonth Interval = "month"
	IntervalYear  Interval = "year"
)

// Intervals returns every interval, shortest first.
func Intervals() []Interval {
	return []Interval{IntervalDay, IntervalWeek, IntervalMonth, IntervalYear}
}

// Valid reports whether i is a known interval.
func (i Interval) Valid() bool { return contains(Intervals(), i) }

// maxIntervalCount bounds IntervalCount per interval: a period is at most
// three years long, as Stripe's prices allow.
var maxIntervalCount = map[Interval]int{IntervalDay: 3 * 365, IntervalWeek: 3 * 52, IntervalMonth: 36, IntervalYear: 3}

// Limits on a subscription's fields.
const (
	MaxSubscriptionCycles  = 10000
	MaxRetryScheduleLength = 10
	MaxRetryDelay          = 90 * 24 * time.Hour
	MaxSubscriptionReason  = 256 // characters
)

// DefaultRetrySchedule is the wait after each failed attempt of a period
// before the next, when a subscription does not give its own: a day, then
// three days, then a week (four attempts over eleven days).
var DefaultRetrySchedule = []time.Duration{24 * time.Hour, 72 * time.Hour, 168 * time.Hour}

// Period is one billing period of a subscription: [Start, End), numbered
// from 1. Its charge is due at Start.
type Period struct {
	Number int       `json:"number"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Subscription charges a token on a schedule: one charge per period, each
// due at its period's start, with retries (dunning) when a charge fails
// with a code that a later attempt may overcome.
type Subscription struct {
	ID          string
	TokenID     string
	CustomerID  string // the token's
	Wallet      string // the token's
	Amount      Amount
	Description string

	Interval      Interval
	IntervalCount int
	// TimeZone is the IANA zone whose calendar the periods follow (a month
	// keeps the day of the month and the time of day there); empty is UTC.
	TimeZone string
	// StartAt is the anchor: period 1 starts here, and period n at StartAt
	// plus n-1 intervals, computed from StartAt each time (never chained,
	// so that Jan 31 gives Feb 28 and then Mar 31).
	StartAt time.Time
	// Cycles is how many periods to charge; zero means until cancelled.
	Cycles int
	// RetrySchedule is the wait after each failed attempt of a period
	// before the next attempt; once every wait is spent the period is
	// unpaid. Empty means no retries.
	RetrySchedule []time.Duration

	Status SubscriptionStatus
	// Period is the number of the period being charged, or to be charged
	// next: it moves on when a period is paid or given up.
	Period int
	// Attempt counts the charges made for Period so far.
	Attempt int
	// NextChargeAt is when the next charge is due: Period's start, or its
	// next retry. Zero while a charge is in flight (its settlement sets the
	// next one) and when nothing is scheduled (paused, cancelled,
	// completed).
	NextChargeAt    time.Time
	CyclesCompleted int    // periods paid
	LastChargeID    string // the latest charge made, if any
	// FailureCode and FailureMessage are those of the latest failed
	// charge, until a charge succeeds.
	FailureCode    string
	FailureMessage string
	CancelReason   string
	PausedAt       time.Time
	CancelledAt    time.Time

	// IdempotencyKey is the merchant's Idempotency-Key, unique across
	// subscriptions when set; RequestHash is a digest of the create request.
	IdempotencyKey string
	RequestHash    string

	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Location returns the subscription's time zone: UTC when none is named.
func (s *Subscription) Location() (*time.Location, error) {
	return LoadTimeZone(s.TimeZone)
}

// LoadTimeZone returns the IANA zone name names: UTC for "" (or "UTC").
// Returns EINVALID for an unknown or malformed name.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if name == "Local" || len(name) > 64 || !IsPrintable(name) || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, Errorf(EINVALID, "Time zone %q is not an IANA time zone name such as Asia/Manila.", clipText(name, 64))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(EINVALID, "Time zone %q is not an IANA time zone name such as Asia/Manila.", clipText(name, 64))
	}
	return loc, nil
}

// PeriodStart returns when period n (from 1) starts, by the calendar of
// the subscription's time zone; a zone that does not load counts as UTC
// (Validate refuses it). Days and weeks add calendar days (the time of day
// stays put across daylight saving changes); months and years keep
// StartAt's day of the month, clamped to the month's last day.
func (s *Subscription) PeriodStart(n int) time.Time {
	loc, err := s.Location()
	if err != nil {
		loc = time.UTC
	}
	return PeriodStart(s.StartAt.In(loc), s.Interval, s.IntervalCount, n).UTC()
}

// PeriodStart returns the start of period n (from 1) of a schedule that
// starts at anchor (in the zone whose calendar it follows) and repeats
// every count intervals. Each start is computed from the anchor, never
// from the previous start.
func PeriodStart(anchor time.Time, interval Interval, count, n int) time.Time {
	if n <= 1 {
		// The anchor itself, even when its wall time is ambiguous (a
		// daylight saving fold), which time.Date would resolve either way.
		return anchor
	}
	k := (n - 1) * count
	switch interval {
	case IntervalDay:
		return anchor.AddDate(0, 0, k)
	case IntervalWeek:
		return anchor.AddDate(0, 0, 7*k)
	case IntervalYear:
		k *= 12
	}
	return addMonthsClamped(anchor, k)
}

// addMonthsClamped adds k months to t, keeping t's day of the month unless
// the target month is shorter, then its last day; the time of day is kept
// (time.Date normalises a wall time that a daylight saving gap skips).
func addMonthsClamped(t time.Time, k int) time.Time {
	y, m, d := t.Date()
	months := int(m) - 1 + k
	ty, tm := y+floorDiv(months, 12), time.Month(floorMod(months, 12)+1)
	d = min(d, DaysIn(ty, tm))
	return time.Date(ty, tm, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// DaysIn returns the number of days in month m of year y.
func DaysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// PeriodOf returns period n of the subscription.
func (s *Subscription) PeriodOf(n int) Period {
	return Period{Number: n, Start: s.PeriodStart(n), End: s.PeriodStart(n + 1)}
}

// FirstPeriodFrom returns the number of the first period that starts at or
// after t (1 if t is before StartAt).
func (s *Subscription) FirstPeriodFrom(t time.Time) int {
	if !s.PeriodStart(1).Before(t) {
		return 1
	}
	// PeriodStart grows with n: find a bound, then bisect.
	lo, hi := 1, 2
	for s.PeriodStart(hi).Before(t) {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // PeriodStart(lo) < t <= PeriodStart(hi)
		mid := lo + (hi-lo)/2
		if s.PeriodStart(mid).Before(t) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// LastPeriod reports whether period n is the subscription's last.
func (s *Subscription) LastPeriod(n int) bool { return s.Cycles > 0 && n >= s.Cycles }

// RetryDelay returns the wait after the subscription's attempt-th failed
// attempt of a period (from 1) before the next, and false when the
// retries are spent.
func (s *Subscription) RetryDelay(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(s.RetrySchedule) {
		return 0, false
	}
	return s.RetrySchedule[attempt-1], true
}

// Validate returns EINVALID, naming the field, if a field is missing or
// malformed.
func (s *Subscription) Validate() error {
	if s.TokenID == "" {
		return Errorf(EINVALID, "Subscription tokenId is required.")
	} else if err := validateCustomer(s.CustomerID, s.Wallet); err != nil {
		return err
	} else if err := s.Amount.Validate(); err != nil {
		return err
	} else if utf8.RuneCountInString(s.Description) > 256 || !IsPrintable(s.Description) {
		return Errorf(EINVALID, "Subscription description must be printable text of at most 256 characters.")
	}
	if err := ValidateSchedule(s.Interval, s.IntervalCount, s.Cycles, s.RetrySchedule); err != nil {
		return err
	}
	if _, err := LoadTimeZone(s.TimeZone); err != nil {
		return err
	}
	switch {
	case s.StartAt.IsZero():
		return Errorf(EINVALID, "Subscription startAt is required.")
	case !s.Status.Valid():
		return Errorf(EINVALID, "Subscription status %q is not valid.", s.Status)
	case s.Period < 1:
		return Errorf(EINVALID, "Subscription period must be at least 1.")
	case s.Attempt < 0 || s.CyclesCompleted < 0 || s.CyclesCompleted > s.Period:
		return Errorf(EINVALID, "Subscription attempt and cyclesCompleted must be between zero and the period.")
	case len(s.FailureCode) > 64 || len(s.FailureMessage) > 256:
		return Errorf(EINVALID, "Subscription failure code and message must be at most 64 and 256 characters.")
	case utf8.RuneCountInString(s.CancelReason) > MaxSubscriptionReason || !IsPrintable(s.CancelReason):
		return Errorf(EINVALID, "Subscription cancel reason must be printable text of at most %d characters.", MaxSubscriptionReason)
	case len(s.IdempotencyKey) > 255:
		return Errorf(EINVALID, "Idempotency-Key must be at most 255 characters.")
	}
	return nil
}

// ValidateSchedule returns EINVALID, naming the field, unless interval is
// known, count is between 1 and the interval's maximum (three years in
// all), cycles is zero (no end) or at most MaxSubscriptionCycles, and the
// retry schedule has at most MaxRetryScheduleLength positive waits of at
// most MaxRetryDelay each.
func ValidateSchedule(interval Interval, count, cycles int, retries []time.Duration) error {
	if !interval.Valid() {
		return Errorf(EINVALID, "Subscription interval %q is not one of day, week, month or year.", clipText(string(interval), 32))
	}
	if maxN := maxIntervalCount[interval]; count < 1 || count > maxN {
		return Errorf(EINVALID, "Subscription intervalCount must be between 1 and %d for interval %s (a period is at most three years).", maxN, interval)
	}
	if cycles < 0 || cycles > MaxSubscriptionCycles {
		return Errorf(EINVALID, "Subscription cycles must be between 1 and %d, or left out for no end.", MaxSubscriptionCycles)
	}
	if len(retries) > MaxRetryScheduleLength {
		return Errorf(EINVALID, "Subscription retrySchedule lists %d waits; at most %d.", len(retries), MaxRetryScheduleLength)
	}
	for i, d := range retries {
		if d <= 0 || d > MaxRetryDelay {
			return Errorf(EINVALID, "Subscription retrySchedule[%d] is %s; each wait must be positive and at most %s, such as \"24h\".", i, d, FormatDuration(MaxRetryDelay))
		}
	}
	return nil
}

// ParseRetrySchedule parses waits such as "24h", "90m" or "3d" (days are
// a convenience; Go durations otherwise).
func ParseRetrySchedule(values []string) ([]time.Duration, error) {
	out := make([]time.Duration, 0, len(values))
	for i, v := range values {
		d, err := ParseDuration(v)
		if err != nil {
			return nil, Errorf(EINVALID, "Subscription retrySchedule[%d] %q is not a duration such as \"24h\" or \"3d\".", i, clipText(v, 32))
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseDuration parses a Go duration ("36h", "90m") or a whole number of
// days ("30d").
func ParseDuration(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok && n != "" && strings.Trim(n, "0123456789") == "" && len(n) <= 5 {
		var days int
		fmt.Sscan(n, &days)
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// FormatDuration writes d as Go does, without trailing zero units:
// "24h", "1h30m", "90s" is "1m30s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// SubscriptionFilter selects subscriptions. Zero fields match everything.
type SubscriptionFilter struct {
	Status        SubscriptionStatus
	TokenID       string
	CustomerID    string
	Wallet        string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // zero means no limit
	Offset        int
}
