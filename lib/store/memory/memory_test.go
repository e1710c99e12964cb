package memory_test

import (
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

func TestIndexStore(t *testing.T) {
	storetest.RunIndexStore(t, func(t *testing.T, maxFile int64) store.IndexStore {
		return memory.NewIndexStore(memory.WithMaxIndexFileBytes(maxFile))
	})
}

func TestPackStore(t *testing.T) {
	storetest.RunPackStore(t, func(t *testing.T) (store.PackStore, storetest.WritePath) {
		s := memory.NewPackStore()
		return s, func(t *testing.T, path string, data []byte) {
			if err := s.PutPath(path, data); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestIndexLister(t *testing.T) {
	storetest.RunIndexLister(t, func(t *testing.T) store.IndexLister { return memory.NewIndexStore() })
}

func TestPackLister(t *testing.T) {
	storetest.RunPackLister(t, func(t *testing.T) (store.PackLister, storetest.WritePath) {
		s := memory.NewPackStore()
		return s, func(t *testing.T, path string, data []byte) {
			if err := s.PutPath(path, data); err != nil {
				t.Fatal(err)
			}
		}
	})
}
