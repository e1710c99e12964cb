package pack_test

import (
	"context"
	"io"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/multiformats/go-multihash"
)

// discardPackStore reads every pack and keeps nothing: the writer's own cost.
type discardPackStore struct{}

func (discardPackStore) Put(_ context.Context, _ multihash.Multihash, r io.Reader, _ int64) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (discardPackStore) GetRange(context.Context, store.Location, int64, int64) (io.ReadCloser, error) {
	return nil, store.ErrNotFound
}

// BenchmarkWriteFile writes 256 MiB of generated content as packs.
func BenchmarkWriteFile(b *testing.B) {
	const size = 256 << 20
	for _, bc := range []struct {
		name  string
		store func(b *testing.B) store.PackStore
	}{
		{"discard", func(*testing.B) store.PackStore { return discardPackStore{} }},
		{"fs", func(b *testing.B) store.PackStore { return fs.NewPackStore(b.TempDir()) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data, err := io.ReadAll(testutil.HashStreamReader("bench ", size))
			if err != nil {
				b.Fatal(err)
			}
			tmp := b.TempDir()
			b.SetBytes(size)
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := pack.WriteFile(context.Background(), bc.store(b), bytesReader(data), pack.WithTempDir(tmp)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
