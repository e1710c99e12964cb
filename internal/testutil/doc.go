// Package testutil is a test rig: the helpers the tests of several
// packages share: where the fixtures are (the repository's testdata/ and
// the ones shared with the JavaScript Hash Stream project, ../shared beside
// the repository), a buffer safe for concurrent writers that a test can
// wait on, waits on events with one generous deadline (WaitTimeout) and
// the timeouts tests provoke (ProvokedTimeout), and reading a CARv1 with
// every block checked against its CID.
package testutil
