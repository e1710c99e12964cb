// Package fetch is a trustless gateway client: it fetches content by CID
// from one or more gateways (ours, through CloudFront, or any trustless
// gateway), verifies every block against its CID before using it, and
// writes a UnixFS file or a CAR of the DAG.
//
// A UnixFS file is fetched as parallel
// ?format=car&dag-scope=entity&entity-bytes=from:to slices. Their
// boundaries are computed from the root node alone (multiples of the slice
// size, rounded down to the start of the leaf they fall in), so the same
// file always asks for the same URLs and a CDN in front of the gateway
// serves the next client from its cache; each slice stays a few MB, under
// the uncapped burst of a Lambda streamed response. A slice that fails (an
// HTTP error, a cut body, a block that does not match its CID, a block
// missing) is asked again of the next gateway, a bounded number of times.
// Files are written in a temporary folder next to the output and renamed
// once complete; a failed fetch leaves nothing under the output's name.
//
// Gateways are not trusted for more than the bytes they prove: every
// walk, entry count, byte count and wait is bounded. A directory tree is
// read first (each distinct block once, however many names lead to it)
// and measured before anything is written, so a DAG that reuses its
// subtrees is refused with a LimitError instead of being expanded; a
// response that sends nothing for the idle timeout, or less than the
// minimum rate over a rate window, is failed over like a cut one.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
)

// Defaults of a Client.
const (
	DefaultSliceSize   = 4 << 20 // bytes of file per slice request
	DefaultParallelism = 8       // slice requests in flight
	DefaultRetries     = 3       // further attempts of a failed request
	// DefaultIdleTimeout is how long a response may send nothing (its
	// headers, or its body between two reads) before it is failed over.
	DefaultIdleTimeout = 30 * time.Second
	// MaxBlockSize bounds one block read from a gateway (a raw root, a
	// CAR section): well above the 1-2 MiB of UnixFS chunks.
	MaxBlockSize = 8 << 20
	// DefaultMaxCARBytes bounds a whole-DAG CAR (--car of a DAG that is
	// not a UnixFS file), which is held in memory to be checked complete
	// and written in order.
	DefaultMaxCARBytes = 1 << 30
	// DefaultMaxEntries bounds the names of a directory tree, counted
	// as written: a subtree that two names share counts twice.
	DefaultMaxEntries = 1_000_000
	// DefaultMaxDepth bounds how many folders deep a tree goes.
	DefaultMaxDepth = 256
	// DefaultMinRate is the bytes per second a response body must
	// average over each rate window: 32 kbit/s, far below a link's
	// share that a slice gets, far above a drip.
	DefaultMinRate = 4 << 10
	// DefaultRateWindow is the span over which the rate is measured.
	DefaultRateWindow = 30 * time.Second
	// heldRootBytes bounds the file root blocks a tree's plan keeps for
	// the writing; the roots past it are fetched again to be written.
	heldRootBytes = 64 << 20
)

// Errors a fetch wraps.
var (
	// ErrIncomplete is a response that lacks a block the DAG needs.
	ErrIncomplete = errors.New("response lacks a block of the DAG")
	// ErrMalformed is a verified DAG that is not a valid UnixFS file.
	ErrMalformed = errors.New("malformed UnixFS file")
	// ErrNotFile is a root that is not a UnixFS file (use a CAR).
	ErrNotFile = errors.New("not a UnixFS file")
	// ErrTooLarge is a response over its bound.
	ErrTooLarge = errors.New("response too large")
	// ErrStalled is a response that sent nothing for the idle timeout.
	ErrStalled = errors.New("response stalled")
	// ErrSlow is a response that sent less than the minimum rate over a
	// rate window.
	ErrSlow = errors.New("response below the minimum rate")
	// ErrSymlink is a symbolic link in a tree of a client that does not
	// write them.
	ErrSymlink = errors.New("symbolic link entry refused")
)

// LimitError is content over one of the client's caps (entries, bytes,
// depth), refused before it is written or when it is reached.
type LimitError struct {
	What  string // "entries", "bytes" or "depth"
	Limit int64
	Got   int64  // at least this much; 0 when not known (more than Limit)
	Where string // what holds it: "the tree", "the folder a/b", "the file <cid>"
	Note  string // why, when it is not plain (a DAG that reuses subtrees)
}

func (e *LimitError) Error() string {
	var msg string
	switch {
	case e.What == "depth":
		msg = fmt.Sprintf("%s goes more than %d folders deep", e.Where, e.Limit)
	case e.Got <= e.Limit:
		msg = fmt.Sprintf("%s holds more than %d %s", e.Where, e.Limit, e.What)
	default:
		msg = fmt.Sprintf("%s holds %d %s, over the limit of %d", e.Where, e.Got, e.What, e.Limit)
	}
	if e.Note != "" {
		msg += " (" + e.Note + ")"
	}
	return msg
}

// StatusError is a gateway's non-200 answer.
type StatusError struct {
	URL    string
	Status int
	Body   string // first line of the body, if any
}

func (e *StatusError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("%s: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Body)
	}
	return fmt.Sprintf("%s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// Option configures a Client.
type Option func(*Client)

// WithSliceSize sets the file bytes per slice request (default
// DefaultSliceSize).
func WithSliceSize(n int64) Option { return func(c *Client) { c.sliceSize = n } }

// WithParallelism sets how many slice requests are in flight (default
// DefaultParallelism).
func WithParallelism(n int) Option { return func(c *Client) { c.parallel = n } }

// WithRetries sets how many more times a failed request is tried, each on
// the next gateway (default DefaultRetries).
func WithRetries(n int) Option { return func(c *Client) { c.retries = n } }

// WithIdleTimeout sets how long a response may send nothing before the
// request fails and is retried (default DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option { return func(c *Client) { c.idle = d } }

// WithHTTPClient sets the HTTP client (default: one without an overall
// timeout, as bodies may be long; the idle timeout catches stalls).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRequestEditor edits each request before it is sent (e.g. signs it).
func WithRequestEditor(fn func(*http.Request) error) Option {
	return func(c *Client) { c.edit = fn }
}

// WithProgress is called with the file bytes each completed slice (or
// root holding the file) adds and the file's size (-1 in a directory
// tree, whose size is not known ahead), from several goroutines.
func WithProgress(fn func(n, total int64)) Option { return func(c *Client) { c.progress = fn } }

// WithLog is called with one line per failed attempt that is retried.
func WithLog(fn func(msg string)) Option { return func(c *Client) { c.log = fn } }

// WithMaxCARBytes bounds a whole-DAG CAR response (default
// DefaultMaxCARBytes).
func WithMaxCARBytes(n int64) Option { return func(c *Client) { c.maxCAR = n } }

// WithMaxEntries bounds the names of a directory tree, counted as written
// (default DefaultMaxEntries).
func WithMaxEntries(n int64) Option { return func(c *Client) { c.maxEntries = n } }

// WithMaxDepth bounds how many folders deep a tree goes (default
// DefaultMaxDepth).
func WithMaxDepth(n int) Option { return func(c *Client) { c.maxDepth = n } }

// WithMaxBytes bounds the bytes of content a fetch writes: a file's
// bytes, the sum of a tree's files, a CAR's blocks. 0, the default, takes
// the size the root declares: a file's UnixFS size, the sum of a
// directory's link sizes (Tsize) when every link has one (a tree whose
// root declares none is bounded by its entries and their files' sizes; a
// whole-DAG CAR by WithMaxCARBytes).
func WithMaxBytes(n int64) Option { return func(c *Client) { c.maxBytes = n } }

// WithMinRate fails a response body that sends less than bytesPerSecond
// on average over any window (counted from its headers, in consecutive
// windows) like a stalled one; 0 turns the check off. Defaults
// DefaultMinRate and DefaultRateWindow.
func WithMinRate(bytesPerSecond int64, window time.Duration) Option {
	return func(c *Client) { c.minRate, c.rateWindow = bytesPerSecond, window }
}

// WithSymlinks makes Fetch write the symbolic links of a tree as they are
// (their targets are not checked and may point anywhere; nothing is
// written through them); by default a tree holding one is refused with
// ErrSymlink.
func WithSymlinks(write bool) Option { return func(c *Client) { c.symlinks = write } }

// Client fetches from a list of gateways. Safe for concurrent use.
type Client struct {
	gateways  []string // base URLs without a trailing slash
	http      *http.Client
	sliceSize int64
	parallel  int
	retries   int
	idle      time.Duration
	maxCAR    int64
	// Caps on what a fetch writes and waits for (see the options).
	maxEntries int64
	maxDepth   int
	maxBytes   int64
	minRate    int64
	rateWindow time.Duration
	symlinks   bool
	slots      chan struct{}  // requests in flight, across files of a tree
	rr         *atomic.Uint64 // round robin of the gateways a request tries first
	edit       func(*http.Request) error
	progress   func(n, total int64)
	log        func(string)
}

// New returns a Client over gateways (base URLs: http or https, with an
// optional path prefix before /ipfs/).
func New(gateways []string, opts ...Option) (*Client, error) {
	if len(gateways) == 0 {
		return nil, errors.New("fetch: no gateway")
	}
	c := &Client{sliceSize: DefaultSliceSize, parallel: DefaultParallelism, retries: DefaultRetries, idle: DefaultIdleTimeout, maxCAR: DefaultMaxCARBytes,
		maxEntries: DefaultMaxEntries, maxDepth: DefaultMaxDepth, minRate: DefaultMinRate, rateWindow: DefaultRateWindow}
	for _, g := range gateways {
		u, err := url.Parse(g)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("fetch: bad gateway URL %q: want http(s)://host[/prefix]", g)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("fetch: bad gateway URL %q: no query or fragment", g)
		}
		c.gateways = append(c.gateways, strings.TrimRight(g, "/"))
	}
	for _, o := range opts {
		o(c)
	}
	if c.sliceSize <= 0 || c.parallel <= 0 || c.retries < 0 || c.maxCAR <= 0 || c.idle <= 0 {
		return nil, fmt.Errorf("fetch: bad options: slice size %d, parallelism %d, retries %d, max CAR %d, idle timeout %s", c.sliceSize, c.parallel, c.retries, c.maxCAR, c.idle)
	}
	if c.maxEntries <= 0 || c.maxDepth <= 0 || c.maxBytes < 0 || c.minRate < 0 || (c.minRate > 0 && c.rateWindow <= 0) {
		return nil, fmt.Errorf("fetch: bad options: max entries %d, max depth %d, max bytes %d, min rate %d B/s over %s", c.maxEntries, c.maxDepth, c.maxBytes, c.minRate, c.rateWindow)
	}
	c.slots = make(chan struct{}, c.parallel)
	c.rr = new(atomic.Uint64)
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(c.parallel, 2)
		c.http = &http.Client{Transport: t}
	}
	return c, nil
}

// Accept headers of the two response kinds.
const (
	acceptRaw = "application/vnd.ipld.raw"
	acceptCAR = "application/vnd.ipld.car;version=1;order=dfs;dups=n"
)

// withRetry calls try with the URL of path+query on gateway (first+i) mod
// n for i = 0..retries, until one succeeds or ctx ends. try must not have
// written anything unverified when it fails.
func (c *Client) withRetry(ctx context.Context, first int, pathQuery string, try func(url string) error) error {
	var errs []error
	for i := 0; i <= c.retries; i++ {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		u := c.gateways[(first+i)%len(c.gateways)] + pathQuery
		err := try(u)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		errs = append(errs, err)
		if permanent(err) {
			break
		}
		if c.log != nil && i < c.retries {
			c.log(fmt.Sprintf("retrying: %v", err))
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("%d attempts failed, the last: %w", len(errs), errs[len(errs)-1])
}

// nextGateway returns the gateway a request other than a slice tries
// first: each in turn, so a tree's many small requests are spread.
func (c *Client) nextGateway() int {
	return int((c.rr.Add(1) - 1) % uint64(len(c.gateways)))
}

// acquire takes one of the client's request slots, for a request and
// the handling of its body.
func (c *Client) acquire(ctx context.Context) (release func(), err error) {
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// permanent reports whether err is about verified content, which no other
// gateway or attempt can change.
func permanent(err error) bool {
	for _, e := range []error{ErrMalformed, ErrNotFile, ErrNoPath, ErrBadName, ErrSymlink} {
		if errors.Is(err, e) {
			return true
		}
	}
	var le *LimitError
	return errors.As(err, &le)
}

// get sends a GET for u and returns the body of a 200 answer. A response
// that sends nothing for the idle timeout (no headers, or a pause in the
// body), or whose body sends less than the minimum rate over a rate
// window, fails (the request is cancelled with ErrStalled or ErrSlow): a
// stalled or dripping gateway is failed over like a cut one.
func (c *Client) get(ctx context.Context, u, accept string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.idle, func() {
		cancel(fmt.Errorf("%w: nothing received for %s", ErrStalled, c.idle))
	})
	fail := func(err error) (io.ReadCloser, error) {
		timer.Stop()
		cancel(nil)
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", accept)
	if c.edit != nil {
		if err := c.edit(req); err != nil {
			return fail(fmt.Errorf("fetch: signing: %w", err))
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
			err = cause
		}
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		line, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		first, _, _ := strings.Cut(strings.TrimSpace(string(line)), "\n")
		return fail(&StatusError{URL: u, Status: resp.StatusCode, Body: first})
	}
	b := &watchedBody{body: resp.Body, ctx: ctx, timer: timer, idle: c.idle, cancel: cancel, done: make(chan struct{})}
	if c.minRate > 0 {
		go b.watchRate(c.minRate, c.rateWindow)
	}
	return b, nil
}

// watchedBody restarts its idle timer on every read, counts the bytes
// read for the rate check, and reports a stall or a drip as such.
type watchedBody struct {
	body   io.ReadCloser
	ctx    context.Context
	timer  *time.Timer
	idle   time.Duration
	cancel context.CancelCauseFunc
	got    atomic.Int64  // bytes read in the current rate window
	done   chan struct{} // closed at the end of the body or on Close
	once   sync.Once
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
		b.got.Add(int64(n))
	}
	if err == io.EOF {
		b.stop() // complete: no rate to keep any more
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); errors.Is(cause, ErrStalled) || errors.Is(cause, ErrSlow) {
			err = cause
		}
	}
	return n, err
}

// watchRate cancels the request when a whole window passes with less than
// rate bytes per second read; it returns when the body ends.
func (b *watchedBody) watchRate(rate int64, window time.Duration) {
	want := int64(float64(rate) * window.Seconds())
	t := time.NewTicker(window)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			if got := b.got.Swap(0); got < want {
				b.cancel(fmt.Errorf("%w: %d bytes in %s, under %d B/s", ErrSlow, got, window, rate))
				return
			}
		}
	}
}

func (b *watchedBody) stop() {
	b.once.Do(func() {
		b.timer.Stop()
		close(b.done)
	})
}

func (b *watchedBody) Close() error {
	b.stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}

// ipfsPath returns /ipfs/<root> with query.
func ipfsPath(root cid.Cid, query string) string {
	return "/ipfs/" + root.String() + "?" + query
}
