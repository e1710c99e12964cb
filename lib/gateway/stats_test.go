package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
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

// requestLine is what the test reads back from a request's log line.
type requestLine struct {
	Msg          string `json:"msg"`
	Status       int    `json:"status"`
	Blocks       int64  `json:"blocks"`
	StorageReads int64  `json:"storage_reads"`
	IndexLookups int64  `json:"index_lookups"`
}

// The request log line counts what the request did: a raw request's block
// is counted through Streamer.Block (an index lookup when cold, none when
// the index cache answers), and so is a CAR's root.
func TestRequestLogStats(t *testing.T) {
	dir, root := indexFixture(t)
	var logs testutil.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	s := streamer.New(index.NewReader(fs.NewIndexStore(filepath.Join(dir, "index"))), fs.NewPackStore(filepath.Join(dir, "pack")))
	srv := httptest.NewServer(gateway.New(s, gateway.WithLogger(log)))
	defer srv.Close()

	get := func(t *testing.T, srv *httptest.Server, query string) (requestLine, []byte) {
		t.Helper()
		before := len(logs.String())
		resp, err := http.Get(srv.URL + "/ipfs/" + root.String() + query)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: status %d, %v", query, resp.StatusCode, err)
		}
		// The line is written once the handler returns, which may be just
		// after the client has the whole body.
		var line requestLine
		l, err := logs.WaitFunc(testutil.WaitContext(t), func(s string) bool { return strings.Contains(s[before:], "\n") })
		if err != nil {
			t.Fatalf("%s: no log line: %v", query, err)
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(l[before:])), &line); err != nil {
			t.Fatalf("log line %q: %v", l[before:], err)
		}
		return line, body
	}
	carBlocks := func(t *testing.T, body []byte) int64 {
		t.Helper()
		_, blocks := testutil.MustReadCAR(t, bytes.NewReader(body))
		return int64(len(blocks))
	}

	for _, tc := range []struct {
		name, query        string
		blocks, reads, idx int64 // reads < 0: the CAR's blocks, at most
	}{
		{"cold raw", "?format=raw", 1, 1, 1},
		{"warm raw", "?format=raw", 1, 1, 0},
		{"warm car", "?format=car", -1, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, body := get(t, srv, tc.query)
			if line.Msg != "request" || line.Status != 200 {
				t.Fatalf("log line %+v", line)
			}
			blocks, reads := tc.blocks, tc.reads
			if blocks < 0 {
				blocks = carBlocks(t, body)
			}
			if reads < 0 {
				if line.StorageReads < 1 || line.StorageReads > blocks {
					t.Errorf("storage_reads %d, want 1 to %d", line.StorageReads, blocks)
				}
			} else if line.StorageReads != reads {
				t.Errorf("storage_reads %d, want %d", line.StorageReads, reads)
			}
			if line.Blocks != blocks {
				t.Errorf("blocks %d, want %d", line.Blocks, blocks)
			}
			if line.IndexLookups != tc.idx {
				t.Errorf("index_lookups %d, want %d", line.IndexLookups, tc.idx)
			}
		})
	}

	// A cold CAR: its root's index read is counted (once: the walk finds
	// every other block in the root's CONTAINING record).
	s2 := streamer.New(index.NewReader(fs.NewIndexStore(filepath.Join(dir, "index"))), fs.NewPackStore(filepath.Join(dir, "pack")))
	srv2 := httptest.NewServer(gateway.New(s2, gateway.WithLogger(log)))
	defer srv2.Close()
	t.Run("cold car", func(t *testing.T) {
		line, body := get(t, srv2, "?format=car")
		blocks := carBlocks(t, body)
		if line.Blocks != blocks || line.IndexLookups != 1 || line.StorageReads < 1 || line.StorageReads > blocks {
			t.Errorf("log line %+v, want %d blocks, 1 index lookup, 1 to %d storage reads", line, blocks, blocks)
		}
	})
}

// With WithViewerFrom, the request log names the viewer's address as the
// trusted proxy's header gives it, clipped; without it, a client's header
// of that name is not logged.
func TestRequestLogViewer(t *testing.T) {
	dir, root := indexFixture(t)
	s := streamer.New(index.NewReader(fs.NewIndexStore(filepath.Join(dir, "index"))), fs.NewPackStore(filepath.Join(dir, "pack")))
	for _, tc := range []struct {
		name, from, sent, want string
	}{
		{"behind CloudFront", "CloudFront-Viewer-Address", "2001:db8::1:443", "2001:db8::1:443"},
		{"clipped", "CloudFront-Viewer-Address", strings.Repeat("9", 200), strings.Repeat("9", 64) + "…"},
		{"no trusted proxy", "", "198.51.100.7:1234", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testutil.Buffer
			srv := httptest.NewServer(gateway.New(s, gateway.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))), gateway.WithViewerFrom(tc.from)))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ipfs/"+root.String()+"?format=raw", nil)
			req.Header.Set("CloudFront-Viewer-Address", tc.sent)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			l, err := logs.WaitFunc(testutil.WaitContext(t), func(s string) bool { return strings.Contains(s, "\n") })
			if err != nil {
				t.Fatal(err)
			}
			var line struct{ Viewer *string }
			if err := json.Unmarshal([]byte(strings.TrimSpace(l)), &line); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && line.Viewer != nil:
				t.Fatalf("viewer %q logged without a trusted proxy", *line.Viewer)
			case tc.want != "" && (line.Viewer == nil || *line.Viewer != tc.want):
				t.Fatalf("viewer %v, want %q", line.Viewer, tc.want)
			}
		})
	}
}
