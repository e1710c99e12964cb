//go:build !race

package denylist_test

const raceEnabled = false
