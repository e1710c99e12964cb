package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data/builder"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// buildFile returns the root of content laid out with chunk-byte leaves
// and width-link nodes, and its blocks.
func buildFile(t *testing.T, content []byte, chunk, width int) (*File, map[string][]byte) {
	t.Helper()
	blocks := map[string][]byte{}
	var rootRaw []byte
	root, _, err := unixfs.BuildFile(bytes.NewReader(content), func(b unixfs.Block) error {
		blocks[b.CID.KeyString()] = bytes.Clone(b.Data)
		rootRaw = blocks[b.CID.KeyString()] // the root is emitted last
		return nil
	}, unixfs.WithChunkSize(chunk), unixfs.WithWidth(width))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(root, rootRaw)
	if err != nil {
		t.Fatal(err)
	}
	return f, blocks
}

func TestSlices(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 1000) // 10000 bytes
	for _, tt := range []struct {
		name         string
		chunk, width int
		slice        int64
		want         []Range
	}{
		// Multiples of 2500 moved back to the starts of 1000-byte leaves.
		{"leaf-aligned", 1000, 1024, 2500, []Range{{0, 1999}, {2000, 4999}, {5000, 6999}, {7000, 9999}}},
		// Slices smaller than a leaf: one slice per leaf, none empty.
		{"leaf over slice", 3000, 1024, 1000, []Range{{0, 2999}, {3000, 5999}, {6000, 8999}, {9000, 9999}}},
		// Inner nodes of 4 leaves (4000 bytes): the multiples stay.
		{"two levels", 1000, 4, 2500, []Range{{0, 2499}, {2500, 4999}, {5000, 7499}, {7500, 9999}}},
		// One slice for the whole file.
		{"one slice", 1000, 1024, 1 << 20, []Range{{0, 9999}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, blocks := buildFile(t, content, tt.chunk, tt.width)
			got := f.Slices(tt.slice)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("slices %v, want %v", got, tt.want)
			}
			// Every slice's walk writes exactly its bytes, and together
			// they are the file.
			out := make([]byte, len(content))
			for _, r := range got {
				var n int64
				err := walkFile(blocks, f.CID, f.Raw, 0, f.Size, r, 0, nil, func(off int64, b []byte) error {
					n += int64(copy(out[off:], b))
					return nil
				})
				if err != nil || n != r.Len() {
					t.Fatalf("slice %v: %d bytes, %v", r, n, err)
				}
			}
			if !bytes.Equal(out, content) {
				t.Fatal("slices do not rebuild the file")
			}
		})
	}
	// A file in one block has no slices.
	f, _ := buildFile(t, []byte("small"), 1000, 1024)
	if s := f.Slices(1); s != nil || f.Size != 5 {
		t.Errorf("one-block file: slices %v, size %d", s, f.Size)
	}
}

// A slice missing a block, or a DAG whose sizes disagree, is refused.
func TestWalkFileRefuses(t *testing.T) {
	content := bytes.Repeat([]byte("abcdefgh"), 1000)
	f, blocks := buildFile(t, content, 1000, 4)
	for k := range blocks {
		if k == f.CID.KeyString() {
			continue
		}
		less := map[string][]byte{}
		for k2, v := range blocks {
			if k2 != k {
				less[k2] = v
			}
		}
		err := walkFile(less, f.CID, f.Raw, 0, f.Size, Range{0, f.Size - 1}, 0, nil, nil)
		if !errors.Is(err, ErrIncomplete) {
			t.Fatalf("a block left out: %v, want ErrIncomplete", err)
		}
	}
	// The root's size, not the one its parent would say.
	err := walkFile(blocks, f.CID, f.Raw, 0, f.Size+1, Range{0, f.Size - 1}, 0, nil, nil)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong size: %v, want ErrMalformed", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		gateways []string
		opts     []Option
	}{
		{nil, nil},
		{[]string{"ftp://x"}, nil},
		{[]string{"http://"}, nil},
		{[]string{"http://x?y=1"}, nil},
		{[]string{"http://x"}, []Option{WithSliceSize(0)}},
		{[]string{"http://x"}, []Option{WithParallelism(0)}},
		{[]string{"http://x"}, []Option{WithRetries(-1)}},
	} {
		if _, err := New(tt.gateways, tt.opts...); err == nil {
			t.Errorf("New(%v) accepted", tt.gateways)
		}
	}
}

// readCAR stops at its limit, refuses a block that does not match its
// CID, and a CAR cut inside a section.
func TestReadCAR(t *testing.T) {
	content := bytes.Repeat([]byte("x"), 5000)
	f, blocks := buildFile(t, content, 1000, 1024)
	var car bytes.Buffer
	h, _ := dag.CARHeader(f.CID)
	car.Write(h)
	for k, v := range blocks {
		c, _ := cid.Cast([]byte(k))
		dag.WriteSection(&car, c, v)
	}
	if got, err := readCAR(bytes.NewReader(car.Bytes()), int64(car.Len())); err != nil || len(got) != len(blocks) {
		t.Fatalf("whole CAR: %d blocks, %v", len(got), err)
	}
	if _, err := readCAR(bytes.NewReader(car.Bytes()), int64(car.Len()-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := readCAR(bytes.NewReader(car.Bytes()[:car.Len()-1]), 1<<20); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("cut in a section: %v", err)
	}
	bad := bytes.Clone(car.Bytes())
	bad[len(bad)-1] ^= 1
	if _, err := readCAR(bytes.NewReader(bad), 1<<20); err == nil || !strings.Contains(err.Error(), "verification") {
		t.Errorf("corrupt block: %v", err)
	}
}

// SigV4 signs what the SDK's signer, run again on the received request
// with the same credentials and time, signs the same; a wrong secret
// gives another signature.
func TestSigV4(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "token")
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		_, signed, _ := strings.Cut(auth, "SignedHeaders=")
		signed, _, _ = strings.Cut(signed, ",")
		re, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
		for _, h := range strings.Split(signed, ";") {
			if h != "host" {
				re.Header.Set(h, r.Header.Get(h))
			}
		}
		when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			http.Error(w, "no date", 400)
			return
		}
		for _, secret := range []string{"secret", "other"} {
			re.Header.Del("Authorization")
			c := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, SessionToken: "token"}
			if err := v4.NewSigner().SignHTTP(r.Context(), c, re, emptyPayloadHash, "lambda", "eu-west-1", when); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			got = append(got, fmt.Sprint(re.Header.Get("Authorization") == auth))
		}
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/lambda/aws4_request") || r.Header.Get("X-Amz-Security-Token") != "token" {
			got = append(got, "bad header "+auth)
		}
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	c, err := New([]string{srv.URL}, WithRequestEditor(SigV4(creds, "lambda", "eu-west-1")))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("hello"))
	if b, err := c.Block(context.Background(), root); err != nil || string(b) != "hello" {
		t.Fatalf("block: %q %v", b, err)
	}
	if !slices.Equal(got, []string{"true", "false"}) {
		t.Errorf("re-signed with the secret, then another: %v, want [true false]", got)
	}
}

// rawGateway serves ?format=raw for the blocks it holds, 404 otherwise.
func rawGateway(t *testing.T, blocks map[string][]byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cid.Decode(strings.TrimPrefix(r.URL.Path, "/ipfs/"))
		b, ok := blocks[c.KeyString()]
		if err != nil || !ok || r.URL.Query().Get("format") != "raw" {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A directory entry named to escape the output ("..", "a/b") is refused
// and nothing is left; a safe one is written.
func TestFetchRefusesUnsafeNames(t *testing.T) {
	for _, name := range []string{"..", "a/b", ".", "", "ok.txt"} {
		blocks := map[string][]byte{}
		ls := cidlink.DefaultLinkSystem()
		ls.StorageWriteOpener = func(ipld.LinkContext) (io.Writer, ipld.BlockWriteCommitter, error) {
			var buf bytes.Buffer
			return &buf, func(l ipld.Link) error {
				blocks[l.(cidlink.Link).Cid.KeyString()] = buf.Bytes()
				return nil
			}, nil
		}
		file, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("x"))
		blocks[file.KeyString()] = []byte("x")
		e, err := builder.BuildUnixFSDirectoryEntry(name, 1, cidlink.Link{Cid: file})
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := builder.BuildUnixFSDirectory([]dagpb.PBLink{e}, &ls)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New([]string{rawGateway(t, blocks)})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "tree")
		err = c.Fetch(context.Background(), root.(cidlink.Link).Cid, out)
		left, _ := os.ReadDir(dir)
		if name == "ok.txt" {
			if b, rerr := os.ReadFile(filepath.Join(out, name)); err != nil || rerr != nil || string(b) != "x" {
				t.Errorf("safe name: %v %v %q", err, rerr, b)
			}
			continue
		}
		if !errors.Is(err, ErrBadName) || len(left) != 0 {
			t.Errorf("entry %q: %v, left %d entries; want ErrBadName and nothing", name, err, len(left))
		}
	}
}

// A gateway that stalls mid-body is given up after the idle timeout and
// the next one answers; alone, it fails with ErrStalled.
func TestIdleTimeout(t *testing.T) {
	content := []byte("a block whose body stalls half way")
	root, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(content)
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.Write(content[:10])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer stall.Close()
	good := rawGateway(t, map[string][]byte{root.KeyString(): content})
	c, err := New([]string{stall.URL, good}, WithIdleTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if b, err := c.Block(context.Background(), root); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("with a good second gateway: %q %v", b, err)
	}
	c, _ = New([]string{stall.URL}, WithIdleTimeout(200*time.Millisecond), WithRetries(1))
	if _, err := c.Block(context.Background(), root); !errors.Is(err, ErrStalled) {
		t.Errorf("stalled alone: %v, want ErrStalled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: the idle timeout did not end the stalls", d)
	}
}

// The slices of a CIDv0 file of dag-pb leaves (the conformance fixture:
// three 1024-byte leaves) start at its leaves too.
func TestSlicesDagPBLeaves(t *testing.T) {
	f, err := os.Open(filepath.Join(testutil.Shared(t), "conformance", "file-3k-and-3-blocks-missing-block.car"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks, err := readCAR(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := cid.Decode("QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk")
	file, err := ParseFile(root, blocks[root.KeyString()])
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{0, 1023}, {1024, 2047}, {2048, 3071}}
	if got := file.Slices(1500); !slices.Equal(got, want) {
		t.Errorf("slices %v, want %v", got, want)
	}
}
