package s3

import "time"

// SetNow sets the clock of an index store, for tests.
func SetNow(s *IndexStore, now func() time.Time) { s.now = now }
