package testutil

import "time"

// Timeouts that tests provoke on purpose (a stalled S3 response, a
// blackholed connection) are set from here, so that all of them have the
// same headroom for -race on a loaded 2-core machine. A test asserts that
// the provoked failure comes, and not before its timeout; it never asserts
// how soon after.
const (
	// ProvokedTimeout is the timeout a test waits out on purpose: long
	// beside the gaps of a healthy exchange on loopback even on a busy
	// machine (300 ms was seen to cut a healthy body under -race on two
	// loaded cores), short enough that a test with a few of them stays
	// quick.
	ProvokedTimeout = time.Second
	// Slack is how much later than its timeouts a provoked failure may
	// come: a bound that tells "it ended" from "it hung", not a
	// measurement.
	Slack = 10 * time.Second
)
