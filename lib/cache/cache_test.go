package cache_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/cache"
)

func size(_ string, v []byte) int64 { return int64(len(v)) }

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := cache.New[string, []byte](10, size)
	c.Add("a", make([]byte, 4))
	c.Add("b", make([]byte, 4))
	c.Get("a") // a is now more recent than b
	c.Add("c", make([]byte, 4))
	if _, ok := c.Get("b"); ok {
		t.Error("b should have been evicted")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	if c.Size() != 8 || c.Len() != 2 {
		t.Errorf("size %d len %d", c.Size(), c.Len())
	}
	c.Add("huge", make([]byte, 11))
	if _, ok := c.Get("huge"); ok || c.Len() != 2 {
		t.Error("a value larger than the cache was stored")
	}
	c.Add("a", make([]byte, 6)) // replace: size follows
	if c.Size() != 10 {
		t.Errorf("size %d after replace", c.Size())
	}
	hits, misses := c.Stats()
	if hits != 3 || misses != 2 {
		t.Errorf("hits %d misses %d", hits, misses)
	}
}

func TestConcurrent(t *testing.T) {
	c := cache.New[string, []byte](1000, size)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprint(g, i%50)
				c.Add(k, make([]byte, 10))
				c.Get(k)
			}
		}()
	}
	wg.Wait()
	if c.Size() > 1000 {
		t.Errorf("size %d over capacity", c.Size())
	}
}

func ExampleCache() {
	c := cache.New[string, string](8, func(k, v string) int64 { return int64(len(v)) })
	c.Add("greeting", "hello")
	c.Add("name", "hash")
	_, ok := c.Get("greeting")
	fmt.Println(ok, c.Len())
	// Output: false 1
}

func TestOnEvict(t *testing.T) {
	c := cache.New(10, func(_ string, v int) int64 { return int64(v) })
	var left []string
	c.OnEvict(func(k string, _ int) { left = append(left, k) })
	c.Add("a", 4)
	c.Add("b", 4)
	c.Add("a", 3)    // replaces a
	c.Add("c", 4)    // evicts b, the least recently used
	c.Add("big", 11) // never stored
	want := []string{"a", "b", "big"}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Fatalf("left the cache: %v, want %v", left, want)
	}
	if c.Size() != 7 {
		t.Fatalf("size = %d, want 7", c.Size())
	}
}

func TestPeek(t *testing.T) {
	c := cache.New[string, []byte](8, size)
	c.Add("a", make([]byte, 4))
	c.Add("b", make([]byte, 4))
	if _, ok := c.Peek("a"); !ok { // does not make a more recent than b
		t.Fatal("a not found")
	}
	if _, ok := c.Peek("x"); ok {
		t.Fatal("x found")
	}
	c.Add("c", make([]byte, 4))
	if _, ok := c.Peek("a"); ok {
		t.Error("a was kept: Peek marked it used")
	}
	if hits, misses := c.Stats(); hits != 0 || misses != 0 {
		t.Errorf("Peek counted %d hits, %d misses", hits, misses)
	}
}

func TestClear(t *testing.T) {
	c := cache.New(10, func(_ string, v int) int64 { return int64(v) })
	var left []string
	c.OnEvict(func(k string, _ int) { left = append(left, k) })
	c.Add("a", 4)
	c.Add("b", 4)
	c.Clear()
	if fmt.Sprint(left) != "[a b]" || c.Len() != 0 || c.Size() != 0 {
		t.Fatalf("after Clear: left %v, %d entries of %d bytes", left, c.Len(), c.Size())
	}
	c.Add("c", 4) // still usable
	if _, ok := c.Get("c"); !ok {
		t.Fatal("c not stored after Clear")
	}
}
