// Package cache is a size-bounded least-recently-used cache, safe for
// concurrent use. Hash Stream keeps index records and learned blob
// locations in it across requests (and warm Lambda invocations): index
// files are immutable, so entries never go stale and only size evicts them.
package cache

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// Cache maps keys to values, evicting the least recently used entries when
// the sum of their sizes passes the capacity.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	capacity int64
	size     int64
	sizeOf   func(K, V) int64
	ll       *list.List // front = most recent
	items    map[K]*list.Element
	onEvict  func(K, V)

	hits, misses atomic.Int64
}

type entry[K comparable, V any] struct {
	key   K
	value V
	size  int64
}

// New returns a cache holding at most capacity bytes as sizeOf counts
// them. A capacity of 0 or less caches nothing.
func New[K comparable, V any](capacity int64, sizeOf func(K, V) int64) *Cache[K, V] {
	return &Cache[K, V]{capacity: capacity, sizeOf: sizeOf, ll: list.New(), items: make(map[K]*list.Element)}
}

// OnEvict sets a function called with each entry that leaves the cache
// (evicted, replaced by Add, or too large to be stored at all), under the
// cache's lock: it must not call the cache.
func (c *Cache[K, V]) OnEvict(fn func(K, V)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onEvict = fn
}

// Get returns the value of key and marks it recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		c.hits.Add(1)
		return el.Value.(*entry[K, V]).value, true
	}
	c.misses.Add(1)
	var zero V
	return zero, false
}

// Peek returns the value of key without marking it used or counting a hit
// or a miss.
func (c *Cache[K, V]) Peek(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		return el.Value.(*entry[K, V]).value, true
	}
	var zero V
	return zero, false
}

// Add stores value under key. A value larger than the whole capacity is not
// stored.
func (c *Cache[K, V]) Add(key K, value V) {
	size := c.sizeOf(key, value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	if size > c.capacity {
		if c.onEvict != nil {
			c.onEvict(key, value) // never stored: it leaves at once
		}
		return
	}
	c.items[key] = c.ll.PushFront(&entry[K, V]{key, value, size})
	c.size += size
	for c.size > c.capacity {
		c.remove(c.ll.Back())
	}
}

func (c *Cache[K, V]) remove(el *list.Element) {
	e := c.ll.Remove(el).(*entry[K, V])
	delete(c.items, e.key)
	c.size -= e.size
	if c.onEvict != nil {
		c.onEvict(e.key, e.value)
	}
}

// Clear removes every entry (each goes to the OnEvict function).
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.ll.Len() > 0 {
		c.remove(c.ll.Back())
	}
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// Size returns the sum of the entries' sizes.
func (c *Cache[K, V]) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Stats returns the number of hits and misses of Get so far.
func (c *Cache[K, V]) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }
