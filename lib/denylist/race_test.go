//go:build race

package denylist_test

// raceEnabled: the race detector slows parsing and inflates memory, so
// the scale test does not measure under it.
const raceEnabled = true
