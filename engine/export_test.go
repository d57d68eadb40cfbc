package engine

import (
	"context"

	"github.com/autodebit/autodebit"
)

// SetCleanupBatch makes CleanupEvents delete n events per transaction until
// the returned function restores the batch size, so that a test sees
// several batches without thousands of events.
func SetCleanupBatch(n int) (restore func()) {
	old := cleanupBatch
	cleanupBatch = n
	return func() { cleanupBatch = old }
}

// Publish is publish, for tests that check what an event brings with it in
// its transaction (deliveries, their jobs).
func (e *Engine) Publish(ctx context.Context, tx autodebit.Tx, typ autodebit.EventType, objectID string, view any) error {
	return e.publish(ctx, tx, typ, objectID, view)
}
