package fs

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

// TestTimestampCollision pins the clock so every put wants the same name.
func TestTimestampCollision(t *testing.T) {
	s := NewIndexStore(t.TempDir())
	now := time.UnixMilli(1700000000000)
	s.now = func() time.Time { return now }
	mh := storetest.RandomMultihash(t)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := s.Put(context.Background(), mh, nil, []byte(strconv.Itoa(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	files, err := s.Files(context.Background(), mh)
	if err != nil {
		t.Fatal(err)
	}
	var names, data []string
	for _, f := range files {
		names = append(names, f.Name)
		data = append(data, string(f.Data))
	}
	var want []string
	for i := range 10 {
		want = append(want, store.Key(mh)+"/"+strconv.FormatInt(now.UnixMilli()+int64(i), 10))
	}
	if !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	slices.Sort(data)
	if !slices.Equal(data, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}) {
		t.Errorf("data %q", data)
	}
}
