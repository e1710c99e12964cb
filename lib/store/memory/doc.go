// Package memory keeps an index store and a pack store in memory, for tests
// and examples. Both are safe for concurrent use and follow the same naming
// rules as the persistent backends.
package memory
