package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// TestMaxResponseBytes checks the response cap at its edge: a file (or
// part) whose CAR, counted whole (leaves in full, section framing), is over
// the cap is refused with 413 before the first byte, not cut after it; a
// CAR of exactly the cap is served whole.
func TestMaxResponseBytes(t *testing.T) {
	ctx := context.Background()
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	const size = 3<<20 + 12345 // leaves of 1, 1, 1 MiB and 12345 bytes
	root, infos, err := pack.WriteFile(ctx, packs, testutil.HashStreamReader("gateway max response ", size))
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.AddToIndex(ctx, []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	s := streamer.New(index.NewReader(idx), packs)
	// serve answers a CAR request; aborted reports a response cut after
	// its status line.
	serve := func(max int64, query string) (code int, body []byte, aborted bool) {
		t.Helper()
		h := gateway.New(s, gateway.WithMaxResponseBytes(max))
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
						panic(v)
					}
					aborted = true
				}
			}()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ipfs/"+root.String()+"?format=car&"+query, nil))
		}()
		return rec.Code, rec.Body.Bytes(), aborted
	}
	for _, tt := range []struct {
		name, query string
	}{
		{"whole file", "dag-scope=all"},
		{"first leaf", "dag-scope=entity&entity-bytes=0:1048575"},
		{"a few bytes of two leaves", "dag-scope=entity&entity-bytes=1048570:1048580"},
		{"last bytes", "dag-scope=entity&entity-bytes=-100:*"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, full, aborted := serve(0, tt.query)
			if code != http.StatusOK || aborted {
				t.Fatalf("no cap: status %d, aborted %v", code, aborted)
			}
			n := int64(len(full))
			if code, body, aborted := serve(n, tt.query); code != http.StatusOK || aborted || int64(len(body)) != n {
				t.Errorf("cap = CAR size %d: status %d, %d bytes, aborted %v; want the whole CAR", n, code, len(body), aborted)
			}
			code, body, aborted := serve(n-1, tt.query)
			if code != http.StatusRequestEntityTooLarge || aborted {
				t.Errorf("cap = CAR size - 1: status %d, %d bytes, aborted %v; want 413 before the first byte", code, len(body), aborted)
			}
			// The refusal says how to get the file anyway.
			for _, want := range []string{"hash-stream fetch", "entity-bytes=from:to"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("413 body %q does not name %q", body, want)
				}
			}
		})
	}
	// The bytes asked for fit the cap, the leaves holding them do not: 413,
	// not a cut after most of the body went out.
	const limit = 1 << 20
	code, body, aborted := serve(limit, "dag-scope=entity&entity-bytes=0:"+strconv.Itoa(limit-1))
	if code != http.StatusRequestEntityTooLarge || aborted {
		t.Errorf("a part of exactly the cap: status %d, %d bytes, aborted %v; want 413", code, len(body), aborted)
	}
}
