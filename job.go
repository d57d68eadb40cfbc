package autodebit

import "time"

// JobArgs are the arguments of a background job: a JSON-serialisable struct
// with a stable Kind. This is River's JobArgs shape, so the jobs package
// hands them to River unchanged.
type JobArgs interface {
	Kind() string
}

// Job is background work to enqueue in the same transaction as the state
// change that needs it, so that both commit or neither does.
type Job struct {
	Args        JobArgs
	ScheduledAt time.Time // zero means as soon as possible
	Queue       string    // empty means the default queue
}
