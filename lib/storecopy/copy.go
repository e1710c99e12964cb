package storecopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// DefaultConcurrency is how many objects Copy copies at once unless
// WithConcurrency says otherwise.
const DefaultConcurrency = 8

// DefaultMaxFailures is how many objects may fail before Copy stops,
// unless WithMaxFailures says otherwise: a missing bucket or refused
// credentials fail every object alike, and need not be tried on all.
const DefaultMaxFailures = 100

// smallPack is the size up to which a pack is read whole into memory and
// verified before it is put: one PutObject instead of a multipart upload
// of one part (three requests), at a memory cost of at most
// concurrency x smallPack. S3 takes no part smaller than 5 MiB but the
// last, so a larger pack streams in parts.
const smallPack = 5 << 20

// Errors of a copy.
var (
	// ErrFailed is wrapped by the error of Copy when some objects failed.
	ErrFailed = errors.New("some objects were not copied")
	// ErrCorrupt is wrapped by the error of a pack whose bytes do not
	// hash to its multihash (it is pack.ErrCorrupt).
	ErrCorrupt = pack.ErrCorrupt
	// ErrConflict is wrapped by the error of an index file whose name is
	// taken at the destination by a file with other bytes, which is left
	// as it is.
	ErrConflict = errors.New("taken at the destination by other bytes")
)

// Stores are the two stores of one side of a copy.
type Stores struct {
	Index store.IndexLister
	Packs store.PackLister
}

// Phase names a phase of a copy.
type Phase string

// The phases, in order.
const (
	PhasePacks Phase = "packs"
	PhaseIndex Phase = "index"
)

// Progress is a snapshot of a copy under way.
type Progress struct {
	Phase Phase
	// Objects and Bytes count the phase's objects listed so far and their
	// size; Listed says the listing is over, so they are the totals (the
	// packs are listed before they are copied, the index files as they
	// are copied).
	Objects int
	Bytes   int64
	Listed  bool
	// Done counts the objects finished (copied, skipped, failed or
	// invalid); BytesDone the bytes read from the source so far, plus the
	// size of the objects skipped.
	Done      int
	BytesDone int64
}

// Count says what became of the objects of one kind.
type Count struct {
	Copied  int   // written to the destination
	Skipped int   // already at the destination
	Failed  int   // not copied for an error (see the error of Copy and the log)
	Invalid int   // not of the layout, or index files that do not decode: skipped with a warning
	Bytes   int64 // bytes written to the destination
}

// Result says what a copy did.
type Result struct {
	Packs, Index Count
	Elapsed      time.Duration
}

// Option configures Copy.
type Option func(*options)

type options struct {
	concurrency int
	maxFailures int
	limits      index.Limits
	log         *slog.Logger
	progress    func(Progress)
}

// WithLimits sets the readers' limits index files are held to (default
// index.DefaultLimits(); a field 0 or less means its default): a file over
// the index file cap, or one with a record giving a block over the block
// limit, is skipped with a warning naming it (and the block), as a file
// that does not decode is: readers with these limits would refuse it.
func WithLimits(l index.Limits) Option { return func(o *options) { o.limits = l } }

// WithConcurrency sets how many objects are copied at once (default
// DefaultConcurrency; less than 1 means 1).
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = max(n, 1) } }

// WithMaxFailures sets how many objects may fail before Copy stops trying
// the others (default DefaultMaxFailures; 0 or less: no limit).
func WithMaxFailures(n int) Option { return func(o *options) { o.maxFailures = n } }

// WithLogger sets the logger of skipped objects (Warn) and failures
// (Error). The default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithProgress has fn called with a snapshot each time bytes go through
// and each time an object is done. Calls never overlap, and hold up the
// copy while they run: fn must be quick.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// maxErrors is how many failures the error of Copy names.
const maxErrors = 3

// errStopped is the cause of the end of a copy stopped by its failures.
var errStopped = errors.New("too many failures")

// copier is one run of Copy.
type copier struct {
	dst, src Stores
	opts     options

	stop func(error) // cancels the copy's context, with errStopped

	mu       sync.Mutex
	progress Progress
	result   Result
	errs     []error
}

// Copy copies every pack, then every index file, of src into dst, and
// says what it did. It returns an error wrapping ErrFailed when some
// objects failed (each is logged, the first few are named in the error),
// having tried every other one, unless as many failed as WithMaxFailures
// allows: then it stops. It returns early too when ctx ends or a listing
// fails. Objects skipped as invalid do not make it fail.
func Copy(ctx context.Context, dst, src Stores, opts ...Option) (Result, error) {
	c := &copier{dst: dst, src: src, opts: options{concurrency: DefaultConcurrency, maxFailures: DefaultMaxFailures, limits: index.DefaultLimits(), log: slog.New(slog.DiscardHandler)}}
	for _, o := range opts {
		o(&c.opts)
	}
	c.opts.limits = c.opts.limits.OrDefault()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.stop = cancel
	start := time.Now()
	err := c.packs(ctx)
	if err == nil {
		err = c.index(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.result.Elapsed = time.Since(start)
	stopped := parent.Err() == nil && errors.Is(context.Cause(ctx), errStopped)
	if err != nil && !stopped {
		return c.result, err
	}
	if n := c.result.Packs.Failed + c.result.Index.Failed; n > 0 {
		how := ""
		if stopped {
			how = ", then the copy stopped"
		}
		return c.result, fmt.Errorf("storecopy: %w: %d packs and %d index files failed%s: %w",
			ErrFailed, c.result.Packs.Failed, c.result.Index.Failed, how, errors.Join(c.errs...))
	}
	return c.result, nil
}

// packs lists the packs of the source, then copies them.
func (c *copier) packs(ctx context.Context) error {
	c.mu.Lock()
	c.progress = Progress{Phase: PhasePacks}
	c.mu.Unlock()
	var entries []store.PackEntry
	err := c.src.Packs.List(ctx, func(e store.PackEntry) error {
		c.mu.Lock()
		c.progress.Objects++
		c.progress.Bytes += max(e.Size, 0)
		c.mu.Unlock()
		if e.Err != nil {
			c.invalid(&c.result.Packs, "pack skipped: not of the layout", e.Key, e.Err)
			return nil
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("storecopy: list the source packs: %w", err)
	}
	c.mu.Lock()
	c.progress.Listed = true
	c.report()
	c.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.concurrency)
	for _, e := range entries {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			c.copyPack(gctx, e)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storecopy: %w", err)
	}
	return nil
}

// copyPack copies one pack unless the destination has it, verifying it.
func (c *copier) copyPack(ctx context.Context, e store.PackEntry) {
	key := store.Key(e.Multihash)
	size, err := c.dst.Packs.Stat(ctx, e.Multihash)
	switch {
	case err == nil && size == e.Size:
		c.done(&c.result.Packs, func(n *Count) { n.Skipped++ }, e.Size)
		return
	case err == nil:
		// Packs are immutable: a pack of another size is a broken copy.
		c.opts.log.WarnContext(ctx, "pack at the destination has the wrong size: copied again", "pack", key, "size", size, "want", e.Size)
	case !errors.Is(err, store.ErrNotFound):
		c.failed(ctx, &c.result.Packs, key, err)
		return
	}
	if err := c.putPack(ctx, e); err != nil {
		c.failed(ctx, &c.result.Packs, key, err)
		return
	}
	c.done(&c.result.Packs, func(n *Count) { n.Copied++; n.Bytes += e.Size }, 0)
}

// putPack streams the pack from the source into the destination through a
// verifier.
func (c *copier) putPack(ctx context.Context, e store.PackEntry) error {
	key := store.Key(e.Multihash)
	rc, err := c.src.Packs.GetRange(ctx, store.Location{Multihash: e.Multihash}, 0, -1)
	if err != nil {
		return fmt.Errorf("storecopy: read pack %s: %w", key, err)
	}
	defer rc.Close()
	v, err := pack.NewVerifier(&counter{r: rc, c: c}, e.Multihash)
	if err != nil {
		return fmt.Errorf("storecopy: pack %s: %w", key, err)
	}
	var body io.Reader = v
	if e.Size <= smallPack {
		// Read and verify it whole first: a body the destination can
		// send in one request.
		data, err := io.ReadAll(store.ExactReader(v, e.Size))
		if err != nil {
			return fmt.Errorf("storecopy: pack %s: %w", key, err)
		}
		body = bytes.NewReader(data)
	}
	if err := c.dst.Packs.Put(ctx, e.Multihash, body, e.Size); err != nil {
		if errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("storecopy: pack %s, nothing stored: %w", key, err)
		}
		return err
	}
	if !v.Verified() {
		// The destination took the pack without reading it to its end:
		// never so with the backends here, whose Put reads one byte past
		// the size.
		return fmt.Errorf("storecopy: pack %s: stored before its end was verified", key)
	}
	return nil
}

// index lists the index files of the source and copies them as they come.
func (c *copier) index(ctx context.Context) error {
	c.mu.Lock()
	c.progress = Progress{Phase: PhaseIndex}
	c.report()
	c.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	entries := make(chan store.IndexEntry, c.opts.concurrency)
	g.Go(func() error {
		defer close(entries)
		err := c.src.Index.List(gctx, func(e store.IndexEntry) error {
			c.mu.Lock()
			c.progress.Objects++
			c.progress.Bytes += max(e.Size, 0)
			c.mu.Unlock()
			select {
			case entries <- e:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		if err != nil {
			return fmt.Errorf("storecopy: list the source index: %w", err)
		}
		c.mu.Lock()
		c.progress.Listed = true
		c.report()
		c.mu.Unlock()
		return nil
	})
	for range c.opts.concurrency {
		g.Go(func() error {
			for e := range entries {
				c.copyIndex(gctx, e)
			}
			return nil
		})
	}
	err := g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("storecopy: %w", cerr)
	}
	return err
}

// copyIndex copies one index file unless the destination has it.
func (c *copier) copyIndex(ctx context.Context, e store.IndexEntry) {
	n := &c.result.Index
	if e.Err != nil {
		c.invalid(n, "index file skipped: not of the layout", e.Key, e.Err)
		return
	}
	name := store.Key(e.Multihash) + "/" + e.Name
	data, err := c.src.Index.Get(ctx, e.Multihash, e.Name)
	if errors.Is(err, store.ErrTooLarge) {
		c.invalid(n, "index file skipped: too large", e.Key, err)
		return
	}
	if err != nil {
		c.failed(ctx, n, name, err)
		return
	}
	c.addBytes(int64(len(data)))
	if limit := c.opts.limits.MaxFileBytes; int64(len(data)) > limit {
		c.invalid(n, "index file skipped: too large", e.Key, store.TooLarge(int64(len(data)), limit))
		return
	}
	_, rec, err := index.Decode(data)
	if err != nil {
		c.invalid(n, "index file skipped: does not decode", e.Key, err)
		return
	}
	if err := c.checkBlocks(&rec); err != nil {
		c.invalid(n, "index file skipped: a block over the block limit", e.Key, err)
		return
	}
	copied, err := c.putIndex(ctx, e, data)
	switch {
	case err != nil:
		c.failed(ctx, n, name, err)
	case copied:
		c.done(n, func(n *Count) { n.Copied++; n.Bytes += int64(len(data)) }, 0)
	default:
		c.done(n, func(n *Count) { n.Skipped++ }, 0)
	}
}

// checkBlocks returns an error naming the first blob of rec over the block
// limit, which readers refuse.
func (c *copier) checkBlocks(rec *index.Record) error {
	var err error
	rec.Blobs(func(b *index.Record) bool {
		if b.Type != index.Blob {
			return true
		}
		if e := c.opts.limits.CheckBlock(b.Length); e != nil {
			err = fmt.Errorf("storecopy: block %s: %w", store.Key(b.Multihash), e)
		}
		return err == nil
	})
	return err
}

// putIndex puts the index file at the destination under its name unless
// the same bytes are there, and says whether it wrote it. A timestamp name
// taken by other bytes (two stores merged, whose writers picked the same
// millisecond for the same multihash) gets a new timestamp, unless a file
// of the multihash already holds the bytes; a k(sub) name taken by other
// bytes fails with ErrConflict and the destination's file is kept.
func (c *copier) putIndex(ctx context.Context, e store.IndexEntry, data []byte) (bool, error) {
	name := store.Key(e.Multihash) + "/" + e.Name
	for range 2 {
		have, err := c.dst.Index.Get(ctx, e.Multihash, e.Name)
		if errors.Is(err, store.ErrNotFound) {
			err = c.dst.Index.PutNamed(ctx, e.Multihash, e.Name, data)
			if errors.Is(err, store.ErrExist) {
				continue // written meanwhile: look again
			}
			return err == nil, err
		}
		if err != nil && !errors.Is(err, store.ErrTooLarge) {
			return false, err
		}
		if err == nil && bytes.Equal(have, data) {
			return false, nil
		}
		if sub, _ := store.ParseIndexName(e.Name); sub != nil {
			return false, fmt.Errorf("storecopy: index file %s: %w; left as it is", name, ErrConflict)
		}
		files, err := c.dst.Index.Files(ctx, e.Multihash)
		if err != nil {
			return false, err
		}
		for _, f := range files {
			if f.Err == nil && bytes.Equal(f.Data, data) {
				return false, nil
			}
		}
		c.opts.log.WarnContext(ctx, "index file name taken at the destination by other bytes: copied under a new timestamp", "file", name)
		return true, c.dst.Index.Put(ctx, e.Multihash, nil, data)
	}
	return false, fmt.Errorf("storecopy: index file %s: written and removed at the destination while copied", name)
}

// report calls the progress func; c.mu is held.
func (c *copier) report() {
	if c.opts.progress != nil {
		c.opts.progress(c.progress)
	}
}

// addBytes counts n bytes read from the source.
func (c *copier) addBytes(n int64) {
	c.mu.Lock()
	c.progress.BytesDone += n
	c.report()
	c.mu.Unlock()
}

// done counts an object finished, with update, and skipped bytes not read.
func (c *copier) done(n *Count, update func(*Count), skippedBytes int64) {
	c.mu.Lock()
	update(n)
	c.progress.Done++
	c.progress.BytesDone += skippedBytes
	c.report()
	c.mu.Unlock()
}

// failed logs and counts an object that failed.
func (c *copier) failed(ctx context.Context, n *Count, name string, err error) {
	if ctx.Err() != nil {
		return // the copy is over: not this object's fault
	}
	c.opts.log.ErrorContext(ctx, "not copied", "object", name, "err", err.Error())
	c.mu.Lock()
	if len(c.errs) < maxErrors {
		c.errs = append(c.errs, err)
	}
	c.mu.Unlock()
	c.done(n, func(n *Count) { n.Failed++ }, 0)
	c.mu.Lock()
	failed := c.result.Packs.Failed + c.result.Index.Failed
	c.mu.Unlock()
	if c.opts.maxFailures > 0 && failed >= c.opts.maxFailures {
		c.stop(errStopped)
	}
}

// invalid logs and counts an object skipped as invalid.
func (c *copier) invalid(n *Count, msg, key string, err error) {
	c.opts.log.Warn(msg, "object", key, "err", err.Error())
	c.done(n, func(n *Count) { n.Invalid++ }, 0)
}

// counter counts the bytes read through it as progress.
type counter struct {
	r io.Reader
	c *copier
}

func (r *counter) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.c.addBytes(int64(n))
	}
	return n, err
}
