package heal_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/heal"
	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
)

// brokenSource holds a root block and fails on every other block, as a
// pack with a corrupt block does: a CAR of the root is cut after its first
// block.
type brokenSource struct {
	root   []byte
	rootMH multihash.Multihash
}

var errBroken = errors.New("block failed verification (test)")

func (s *brokenSource) Block(_ context.Context, mh, _ multihash.Multihash, _ *dag.Stats) ([]byte, error) {
	if string(mh) == string(s.rootMH) {
		return s.root, nil
	}
	return nil, errBroken
}

func (s *brokenSource) Stream(ctx context.Context, cids []cid.Cid, _ multihash.Multihash, _ *dag.Stats) dag.Stream {
	return &brokenStream{ctx: ctx, src: s, cids: cids}
}

type brokenStream struct {
	ctx  context.Context
	src  *brokenSource
	cids []cid.Cid
}

func (s *brokenStream) Next() (dag.Block, error) {
	if len(s.cids) == 0 {
		return dag.Block{}, io.EOF
	}
	c := s.cids[0]
	s.cids = s.cids[1:]
	data, err := s.src.Block(s.ctx, c.Hash(), nil, nil)
	return dag.Block{CID: c, Data: data}, err
}

func (s *brokenStream) Recycle(dag.Block) {}
func (s *brokenStream) Close()            {}

// The chain end to end but for CloudWatch: the gateway cuts a CAR after its
// first block, on Lambda (lambdastream) and under net/http's server (serve,
// ECS); the line it logs, handed to a Healer, invalidates that path on the
// fake CloudFront API.
func TestGatewayCutIsInvalidated(t *testing.T) {
	leafMH, _ := multihash.Sum([]byte("a leaf the store lost"), multihash.SHA2_256, -1)
	root, err := testutil.CBORLinks(cid.NewCidV1(cid.Raw, leafMH))
	if err != nil {
		t.Fatal(err)
	}
	rootMH, _ := multihash.Sum(root, multihash.SHA2_256, -1)
	rootCID := cid.NewCidV1(cid.DagCBOR, rootMH)
	path := "/ipfs/" + rootCID.String()

	for _, on := range []string{"lambda", "serve"} {
		t.Run(on, func(t *testing.T) {
			var l logs
			gw := gateway.New(&brokenSource{root: root, rootMH: rootMH}, gateway.WithLogger(l.logger()))
			var status int
			var body []byte
			switch on {
			case "lambda":
				ev := &events.LambdaFunctionURLRequest{
					RawPath: path, RawQueryString: "format=car",
					Headers: map[string]string{"host": "abc.lambda-url.us-east-1.on.aws"},
					RequestContext: events.LambdaFunctionURLRequestContext{
						RequestID: "r1", DomainName: "abc.lambda-url.us-east-1.on.aws",
						HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET", Path: path, SourceIP: "203.0.113.7"},
					},
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				resp, err := lambdastream.New(gw)(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				status = resp.StatusCode
				body, err = io.ReadAll(resp.Body)
				_ = resp.Close()
				var abort *lambdastream.AbortError
				if !errors.As(err, &abort) {
					t.Fatalf("body ended with %v, want an abort (error trailers)", err)
				}
			case "serve":
				srv := httptest.NewServer(gw)
				defer srv.Close()
				resp, err := http.Get(srv.URL + path + "?format=car")
				if err != nil {
					t.Fatal(err)
				}
				status = resp.StatusCode
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					t.Fatal("the cut response read as complete")
				}
			}
			if status != http.StatusOK || len(body) == 0 {
				t.Fatalf("status %d, %d bytes before the cut: want a cut after the first byte", status, len(body))
			}

			cutLines := l.lines(t, heal.AbortedMessage)
			if len(cutLines) != 1 {
				t.Fatalf("%d %q lines logged", len(cutLines), heal.AbortedMessage)
			}
			cf, inv := startCloudFront(t)
			lines := strings.Split(strings.TrimSpace(l.String()), "\n")
			r := heal.New(inv).Handle(context.Background(), lines)
			want := [][]string{{path + "*"}}
			if got := cf.paths(); !reflect.DeepEqual(got, want) || r.Cuts != 1 {
				t.Fatalf("invalidations %q (report %+v), want %q", got, r, want)
			}
		})
	}
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
