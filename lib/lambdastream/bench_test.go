package lambdastream_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
)

// BenchmarkStream measures a response streamed through the adapter and
// read whole, as the runtime client reads it, for several handler write
// sizes.
func BenchmarkStream(b *testing.B) {
	const size = 8 << 20
	for _, chunk := range []int{512, 16 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("write=%d", chunk), func(b *testing.B) {
			buf := make([]byte, chunk)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for n := 0; n < size; n += chunk {
					if _, err := w.Write(buf); err != nil {
						return
					}
				}
			})
			fn := lambdastream.New(h)
			ev := event("GET", "/", "")
			read := make([]byte, 32<<10) // what net/http's transport reads with
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := fn(context.Background(), ev)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, read); err != nil {
					b.Fatal(err)
				}
				_ = resp.Close()
			}
		})
	}
}
