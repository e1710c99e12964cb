package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
)

// TestErrorBodiesAreShort sends paths and query values of 900 KB where
// every error message quotes them: the body must stay short, with the
// echoed text cut and marked. A CAR path that names nothing is answered
// with a short CAR instead (as boxo), which quotes nothing.
func TestErrorBodiesAreShort(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	for _, f := range conformanceFiles(t) {
		importCAR(t, idx, packs, f)
	}
	srv := newServer(t, idx, packs, nil)
	const size = 900 << 10
	long := strings.Repeat("a", size)
	utf := strings.Repeat("é", size/6) // sent as %C3%A9: 900 KB; cut on a rune boundary
	segments := strings.Repeat("/"+strings.Repeat("s", 299), size/300)
	for _, tc := range []struct {
		name, target string
		status       int
	}{
		{"CID", "/ipfs/" + long, 400},
		{"escaped CID", "/ipfs/" + strings.Repeat("%C3%A9", size/6), 400},
		{"missing name", "/ipfs/" + twoFilesRoot + "/" + long + "?format=car", 200},
		{"missing UTF-8 name", "/ipfs/" + twoFilesRoot + "/" + utf + "?format=car", 200},
		{"many segments", "/ipfs/" + twoFilesRoot + segments + "?format=car", 200},
		{"path in a raw block", "/ipfs/" + twoFilesRoot + "/subdir/hello.txt" + segments + "?format=car", 200},
		{"dag-cbor field", "/ipfs/" + cborRoot + "/document/" + long + "?format=car", 200},
		{"format", "/ipfs/" + twoFilesRoot + "?format=" + long, 406},
		{"dag-scope", "/ipfs/" + twoFilesRoot + "?format=car&dag-scope=" + long, 400},
		{"entity-bytes", "/ipfs/" + twoFilesRoot + "?format=car&entity-bytes=" + long, 400},
		{"car-dups", "/ipfs/" + twoFilesRoot + "?format=car&car-dups=" + long, 400},
		{"car-version", "/ipfs/" + twoFilesRoot + "?format=car&car-version=" + long, 406},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := try(srv, http.MethodGet, tc.target)
			if err != nil {
				t.Fatalf("%.100s…: %.300v", tc.target, err)
			}
			if r.status != tc.status {
				t.Fatalf("status %d (%.300q), want %d", r.status, r.body, tc.status)
			}
			if tc.status == 200 {
				// A path that names nothing: the blocks that resolve it as
				// far as it exists (missing_path.go), none of the path.
				if body := mustCAR(t, r); len(r.body) > 4096 || len(body.blocks) == 0 {
					t.Errorf("a CAR of %d bytes, %d blocks", len(r.body), len(body.blocks))
				}
				return
			}
			if len(r.body) > gateway.MaxMessageBytes+len("…\n") {
				t.Errorf("error body of %d bytes: %.300q…", len(r.body), r.body)
			}
			if !strings.Contains(string(r.body), "…") {
				t.Errorf("the echoed text is not marked as cut: %q", r.body)
			}
			if !utf8.Valid(r.body) {
				t.Errorf("the body is not valid UTF-8: %q", r.body)
			}
			t.Logf("%d bytes: %.120q", len(r.body), r.body)
		})
	}
}
