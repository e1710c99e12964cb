package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// A CID whose codec does not fit its block (the JS CLI prints a raw file's
// root as dag-pb) gets a clear error status, before any body byte, whether
// the CAR starts there or a path goes through it.
func TestUndecodableBlock(t *testing.T) {
	js := filepath.Join(testutil.Shared(t), "interop", "js-fs-store")
	s := streamer.New(index.NewReader(fs.NewIndexStore(filepath.Join(js, "index"))), fs.NewPackStore(filepath.Join(js, "pack")))
	srv := httptest.NewServer(gateway.New(s))
	defer srv.Close()
	const dagpbLabel = "bafybeif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4" // hello.txt's raw block
	for _, path := range []string{"/ipfs/" + dagpbLabel + "?format=car", "/ipfs/" + dagpbLabel + "/x?format=car"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "does not decode") {
			t.Errorf("%s: %d %q, want 502 saying the block does not decode", path, resp.StatusCode, body)
		}
	}
	// The same block under its real (raw) CID is served.
	resp, err := http.Get(srv.URL + "/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4?format=car")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("raw CID: status %d", resp.StatusCode)
	}
}
