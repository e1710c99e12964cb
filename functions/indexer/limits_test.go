package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// Issue 21, "the indexer of a CAR with a 6 MiB block": the gateway
// answers 502 for such a block (over HASH_STREAM_MAX_BLOCK_BYTES, 4 MiB),
// so the indexer rejects the CAR and stores nothing of it. With the
// variable raised on both functions it is indexed and served.
func TestIndexerRefusesWhatTheGatewayRefuses(t *testing.T) {
	data := bytes.Repeat([]byte("six mebibytes "), 6<<20/14+1)[:6<<20]
	car, c, err := fixture.RawBlockCAR(data)
	if err != nil {
		t.Fatal(err)
	}

	r := newRig(t)
	r.put(t, "ingest/six.car", car)
	if msg := r.invoke(t, "ingest/six.car"); msg != "" {
		t.Fatalf("function error: %s", msg)
	}
	r.wantRejected(t, "rejected/six.car")

	raised := 8 << 20
	r = newRig(t, index.EnvMaxBlockBytes+"="+strconv.Itoa(raised))
	r.put(t, "ingest/six.car", car)
	if msg := r.invoke(t, "ingest/six.car"); msg != "" {
		t.Fatalf("function error: %s", msg)
	}
	info, err := pack.Scan(bytes.NewReader(car), pack.WithLimits(index.Limits{MaxBlockBytes: int64(raised)}))
	if err != nil {
		t.Fatal(err)
	}
	if keys := s3srv.Keys(t, r.pack, ""); len(keys) != 1 || keys[0] != "packs/"+store.Key(info.Multihash)+"/"+store.Key(info.Multihash)+".car" {
		t.Errorf("pack bucket holds %q, want the pack", keys)
	}
	idx := s3.NewIndexStore(r.client, r.index, s3.WithPrefix("idx/"))
	packs := s3.NewPackStore(r.client, r.pack, s3.WithPrefix("packs/"))
	for _, tc := range []struct {
		limit  int
		status int
	}{{raised, http.StatusOK}, {streamer.DefaultMaxBlockBytes, http.StatusBadGateway}} {
		h := gateway.New(streamer.New(index.NewReader(idx), packs, streamer.WithMaxBlockBytes(int64(tc.limit))))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ipfs/"+c.String()+"?format=raw", nil))
		if w.Code != tc.status || tc.status == http.StatusOK && !bytes.Equal(w.Body.Bytes(), data) {
			t.Errorf("gateway with a %d-byte block limit: %d, %d bytes", tc.limit, w.Code, w.Body.Len())
		}
	}
}
