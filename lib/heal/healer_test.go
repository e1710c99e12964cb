package heal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/cdntest"
	"github.com/hash-stream/hash-stream-aws/lib/cdn"
	"github.com/hash-stream/hash-stream-aws/lib/heal"
)

// cloudFront is the fake CloudFront API (cdntest) on loopback behind a
// switch that answers the next calls with an error first: busy ones with
// TooManyInvalidationsInProgress, denied ones with AccessDenied, as the
// service does (REST-XML error bodies).
type cloudFront struct {
	fake *cdntest.CloudFront
	mu   sync.Mutex
	busy int
	deny int
	// calls counts the requests, errors included.
	calls int
}

func (c *cloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.calls++
	code, status := "", 0
	switch {
	case c.busy > 0:
		c.busy--
		code, status = "TooManyInvalidationsInProgress", http.StatusBadRequest
	case c.deny > 0:
		c.deny--
		code, status = "AccessDenied", http.StatusForbidden
	}
	c.mu.Unlock()
	if code == "" {
		c.fake.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>injected</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, code)
}

// paths returns the paths of each invalidation made (once the calls that
// made them have returned).
func (c *cloudFront) paths() [][]string { return c.fake.Paths }

// startCloudFront serves a fake CloudFront on 127.0.0.1 and returns it
// with an Invalidator of its distribution EDIST.
func startCloudFront(t *testing.T) (*cloudFront, *cdn.Invalidator) {
	t.Helper()
	cf := &cloudFront{fake: &cdntest.CloudFront{}}
	srv := httptest.NewServer(cf)
	t.Cleanup(srv.Close)
	client := cloudfront.NewFromConfig(cdntest.Config(), func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return cf, cdn.NewInvalidator(client, "EDIST")
}

// cutLine is the gateway's log line of a cut response (lib/gateway,
// ServeHTTP), as slog's JSON handler writes it.
func cutLine(path string) string {
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Error(heal.AbortedMessage, "method", "GET", "path", path,
		"status", 200, "bytes", 4096, "blocks", 3, "ttfb_ms", 12, "duration_ms", 900, "err", "block failed verification")
	return strings.TrimSuffix(b.String(), "\n")
}

// logs collects JSON log lines.
type logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logs) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// lines returns the logged lines whose msg is msg, decoded.
func (l *logs) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func cidN(i int) string {
	mh, _ := multihash.Sum([]byte(fmt.Sprint("block ", i)), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, mh).String()
}

func TestHandle(t *testing.T) {
	cf, inv := startCloudFront(t)
	var l logs
	h := heal.New(inv, heal.WithLogger(l.logger()))
	lines := []string{
		cutLine("/ipfs/" + leafCID),
		cutLine("/ipfs/" + leafCID), // the same response cut twice
		cutLine("/ipfs/" + rootCID + "/a.txt"),
		cutLine("/ipfs/" + rootCID + "/b/ünï.txt"), // two paths of one CID: one path
		cutLine("/ipfs/" + v0CID + "/x y"),
		// Lines the filter should not have passed, or hostile ones.
		`{"msg":"request","path":"/ipfs/` + leafCID + `"}`,
		`{"msg":"response aborted"}`,
		`{"msg":"response aborted","path":42}`,
		`{"msg":"response aborted","path":"/*"}`,
		`{"msg":"response aborted","path":"/ipfs/*"}`,
		`{"msg":"response aborted","path":"/ipfs/b*"}`,
		`{"msg":"response aborted","path":"/ipns/example.org"}`,
		`not json`,
		``,
		`{"msg":"response aborted","path":"/ipfs/` + leafCID + `"`, // truncated
		`{"msg":"response aborted","path":"/ipfs/` + leafCID + `","pad":"` + strings.Repeat("x", heal.MaxLineBytes) + `"}`,
		strings.Repeat("[", 100000),
		strings.Repeat("[", 60000), // under the size bound, past the JSON decoder's depth
	}
	r := h.Handle(context.Background(), lines)
	want := []string{"/ipfs/" + leafCID + "*", "/ipfs/" + rootCID + "*", "/ipfs/" + v0CID + "/x*"}
	if got := cf.paths(); !reflect.DeepEqual(got, [][]string{want}) {
		t.Fatalf("invalidations %q, want one of %q", got, want)
	}
	if r.Cuts != 5 || r.Ignored != len(lines)-5 || !reflect.DeepEqual(r.Invalidated, want) || !reflect.DeepEqual(r.Invalidations, []string{"I1"}) || len(r.Dropped) != 0 {
		t.Errorf("report %+v", r)
	}
	inval := l.lines(t, heal.InvalidatedMessage)
	if len(inval) != 1 || inval[0]["paths"] != float64(3) || inval[0]["id"] != "I1" || len(inval[0]["list"].([]any)) != 3 {
		t.Errorf("invalidation log lines %v", inval)
	}
	// Ignored lines are logged, at most 10 a delivery.
	if n := len(l.lines(t, heal.IgnoredMessage)); n != 10 {
		t.Errorf("%d ignored lines logged, want 10", n)
	}
	// Nothing to do: no call.
	if r := h.Handle(context.Background(), []string{`{"msg":"request"}`}); r.Cuts != 0 || len(cf.paths()) != 1 {
		t.Errorf("a delivery without cuts: %+v, %d invalidations", r, len(cf.paths()))
	}
}

// Paths go in invalidations of at most MaxWildcardPaths (CloudFront's
// limit on wildcard paths in progress), one after the other.
func TestHandleBatches(t *testing.T) {
	cf, inv := startCloudFront(t)
	h := heal.New(inv, heal.WithHourlyLimit(100))
	var lines, want []string
	for i := range 40 {
		lines = append(lines, cutLine("/ipfs/"+cidN(i)))
		want = append(want, "/ipfs/"+cidN(i)+"*")
	}
	r := h.Handle(context.Background(), lines)
	got := cf.paths()
	if len(got) != 3 || len(got[0]) != 15 || len(got[1]) != 15 || len(got[2]) != 10 {
		t.Fatalf("invalidations of %d paths, want 15, 15, 10", lens(got))
	}
	if all := append(append(got[0], got[1]...), got[2]...); !reflect.DeepEqual(all, want) || !reflect.DeepEqual(r.Invalidated, want) {
		t.Errorf("paths %q, want %q", all, want)
	}
	if !reflect.DeepEqual(r.Invalidations, []string{"I1", "I2", "I3"}) {
		t.Errorf("ids %q", r.Invalidations)
	}
	// A smaller batch size.
	cf2, inv2 := startCloudFront(t)
	heal.New(inv2, heal.WithBatchSize(4)).Handle(context.Background(), lines[:10])
	if got := lens(cf2.paths()); !reflect.DeepEqual(got, []int{4, 4, 2}) {
		t.Errorf("batch size 4: invalidations of %d paths", got)
	}
	// A batch size above CloudFront's limit is the limit.
	cf3, inv3 := startCloudFront(t)
	heal.New(inv3, heal.WithBatchSize(cdn.MaxPathsPerInvalidation), heal.WithHourlyLimit(100)).Handle(context.Background(), lines)
	if got := lens(cf3.paths()); !reflect.DeepEqual(got, []int{15, 15, 10}) {
		t.Errorf("batch size %d: invalidations of %d paths", cdn.MaxPathsPerInvalidation, got)
	}
}

func lens(pp [][]string) []int {
	var out []int
	for _, p := range pp {
		out = append(out, len(p))
	}
	return out
}

// Past the hourly limit paths are dropped and logged; an hour later the
// limit is whole again.
func TestHandleHourlyLimit(t *testing.T) {
	cf, inv := startCloudFront(t)
	var l logs
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	h := heal.New(inv, heal.WithHourlyLimit(5), heal.WithLogger(l.logger()), heal.WithClock(func() time.Time { return now }))
	var lines []string
	for i := range 8 {
		lines = append(lines, cutLine("/ipfs/"+cidN(i)))
	}
	r := h.Handle(context.Background(), lines)
	if len(r.Invalidated) != 5 || len(r.Dropped) != 3 || r.Dropped[0] != "/ipfs/"+cidN(5)+"*" {
		t.Fatalf("report %+v", r)
	}
	dropped := l.lines(t, heal.DroppedMessage)
	if len(dropped) != 1 || dropped[0]["paths"] != float64(3) || dropped[0]["reason"] != heal.ReasonHourlyLimit || dropped[0]["level"] != "ERROR" {
		t.Fatalf("drop log lines %v", dropped)
	}
	now = now.Add(59 * time.Minute)
	if r := h.Handle(context.Background(), lines[:1]); len(r.Dropped) != 1 {
		t.Fatalf("59 minutes later: %+v", r)
	}
	now = now.Add(2 * time.Minute)
	if r := h.Handle(context.Background(), lines); len(r.Invalidated) != 5 || len(r.Dropped) != 3 {
		t.Fatalf("an hour later: %+v", r)
	}
	if n := len(cf.paths()); n != 2 {
		t.Errorf("%d invalidations, want 2", n)
	}
}

// While CloudFront has too many invalidations in progress, the Healer
// waits and tries again, within its maximum wait; past it the paths are
// dropped, and not counted against the hourly limit.
func TestHandleInProgress(t *testing.T) {
	cf, inv := startCloudFront(t)
	var l logs
	var waits []time.Duration
	wait := func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	h := heal.New(inv, heal.WithLogger(l.logger()), heal.WithWait(wait), heal.WithHourlyLimit(2))
	cf.busy = 3
	r := h.Handle(context.Background(), []string{cutLine("/ipfs/" + leafCID)})
	if !reflect.DeepEqual(waits, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}) {
		t.Errorf("waits %v", waits)
	}
	if len(r.Invalidated) != 1 || len(cf.paths()) != 1 || cf.calls != 4 {
		t.Fatalf("report %+v after %d calls", r, cf.calls)
	}

	// Busy beyond the maximum wait (2 minutes: 10+20+40+50 s).
	waits = nil
	cf.busy = 100
	r = h.Handle(context.Background(), []string{cutLine("/ipfs/" + rootCID)})
	if !reflect.DeepEqual(waits, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 50 * time.Second}) {
		t.Errorf("waits %v", waits)
	}
	if len(r.Dropped) != 1 || len(r.Invalidated) != 0 {
		t.Fatalf("report %+v", r)
	}
	dropped := l.lines(t, heal.DroppedMessage)
	if len(dropped) != 1 || dropped[0]["reason"] != heal.ReasonInProgress || !strings.Contains(dropped[0]["err"].(string), "TooManyInvalidationsInProgress") {
		t.Fatalf("drop log lines %v", dropped)
	}
	// The dropped path was refunded: the limit of 2 still has 1 left.
	cf.busy = 0
	if r := h.Handle(context.Background(), []string{cutLine("/ipfs/" + rootCID)}); len(r.Invalidated) != 1 {
		t.Fatalf("after a drop: %+v", r)
	}

	// The invocation's context ends while waiting: dropped.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cf.busy = 1
	h2 := heal.New(inv, heal.WithWait(wait))
	if r := h2.Handle(ctx, []string{cutLine("/ipfs/" + v0CID)}); len(r.Dropped) != 1 {
		t.Fatalf("cancelled: %+v", r)
	}
}

// Another failure drops that invalidation's paths and goes on with the
// next one.
func TestHandleFailure(t *testing.T) {
	cf, inv := startCloudFront(t)
	var l logs
	h := heal.New(inv, heal.WithLogger(l.logger()), heal.WithBatchSize(2))
	cf.deny = 1
	var lines []string
	for i := range 3 {
		lines = append(lines, cutLine("/ipfs/"+cidN(i)))
	}
	r := h.Handle(context.Background(), lines)
	if len(r.Dropped) != 2 || len(r.Invalidated) != 1 || r.Invalidated[0] != "/ipfs/"+cidN(2)+"*" {
		t.Fatalf("report %+v", r)
	}
	dropped := l.lines(t, heal.DroppedMessage)
	if len(dropped) != 1 || dropped[0]["reason"] != heal.ReasonFailed || !strings.Contains(dropped[0]["err"].(string), "AccessDenied") {
		t.Fatalf("drop log lines %v", dropped)
	}
}

// Handle may be called from several goroutines; the hourly limit holds
// across them.
func TestHandleConcurrent(t *testing.T) {
	cf, inv := startCloudFront(t)
	h := heal.New(inv, heal.WithHourlyLimit(10))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var lines []string
			for i := range 5 {
				lines = append(lines, cutLine("/ipfs/"+cidN(g*5+i)))
			}
			h.Handle(context.Background(), lines)
		})
	}
	wg.Wait()
	n := 0
	for _, p := range cf.paths() {
		n += len(p)
	}
	if n != 10 {
		t.Errorf("%d paths invalidated, want the limit of 10", n)
	}
}

func ExampleHealer_Handle() {
	// A stand-in for cdn.NewInvalidator(cloudfront.NewFromConfig(cfg), distributionID).
	inv := printer{}
	h := heal.New(inv)
	r := h.Handle(context.Background(), []string{
		`{"level":"ERROR","msg":"response aborted","method":"GET","path":"/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4","status":200,"err":"block failed verification"}`,
		`{"level":"INFO","msg":"request","method":"GET","path":"/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4","status":200}`,
	})
	fmt.Println(r.Cuts, r.Ignored)
	// Output:
	// invalidate [/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4*]
	// 1 1
}

type printer struct{}

func (printer) Invalidate(_ context.Context, paths []string) (string, error) {
	fmt.Println("invalidate", paths)
	return "I1", nil
}

var _ io.Writer = (*logs)(nil)
