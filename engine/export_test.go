package engine

// SetCleanupBatch makes CleanupEvents delete n events per transaction until
// the returned function restores the batch size, so that a test sees
// several batches without thousands of events.
func SetCleanupBatch(n int) (restore func()) {
	old := cleanupBatch
	cleanupBatch = n
	return func() { cleanupBatch = old }
}
