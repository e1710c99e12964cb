// Package ingest indexes CAR files dropped under an ingest prefix of the
// pack bucket, the objects of one S3 ObjectCreated event at a time: the
// write side of the indexer function (functions/indexer), which turns the
// events into Objects. The package is runtime-free: it knows buckets and
// keys, not Lambda events.
//
// For each object it streams the CAR once (one GET, one block in memory at
// a time) through pack.Scan, which checks every block against its CID and
// the readers' limits (index.Limits: the gateway's block limit and index
// file cap) and hashes the whole file into the pack's multihash; stores the file as that
// pack by a server-side copy conditional on the ETag it read (skipped when
// the pack is stored already); writes the index records with the writers
// `hash-stream pack import` uses; and deletes the ingest object last.
//
// A CAR that fails verification, or that the gateway would refuse to serve
// (a block over its block limit, an index over its file cap), is moved to
// the rejected prefix, logged at
// Error with the block at fault, and nothing of it is stored or indexed;
// that is not an error (retrying cannot fix it). Storage failures are
// errors, so the event is retried; every step can be repeated, which is
// what S3's at-least-once delivery needs (see Indexer.Ingest).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// Defaults of an Indexer.
const (
	DefaultIngestPrefix   = "ingest/"
	DefaultRejectedPrefix = "rejected/"
	DefaultWriters        = index.WritersAll
)

// Source is the bucket the CAR files are dropped in, as the Indexer uses
// it (*s3.Objects implements it).
type Source interface {
	// Bucket returns the bucket's name: events for other buckets are
	// ignored.
	Bucket() string
	// Get opens the object key: its body (the caller closes it), size and
	// ETag. A missing object is an error wrapping store.ErrNotFound.
	Get(ctx context.Context, key string) (body io.ReadCloser, size int64, etag string, err error)
	// Copy copies the object src (size bytes) to dst in the same bucket,
	// server-side, if its ETag is still etag (else an error wrapping
	// store.ErrChanged).
	Copy(ctx context.Context, src, etag string, size int64, dst string) error
	// Delete deletes the object key if its ETag is still etag (else an
	// error wrapping store.ErrChanged). A missing object is no error.
	Delete(ctx context.Context, key, etag string) error
}

// Packs is the pack store as the Indexer uses it (*s3.PackStore
// implements it).
type Packs interface {
	// Stat returns the size of the pack mh, or an error wrapping
	// store.ErrNotFound when it is not stored.
	Stat(ctx context.Context, mh multihash.Multihash) (int64, error)
	// CopyFrom stores the object srcKey of srcBucket as the pack mh, by a
	// server-side copy conditional on its ETag being etag (else an error
	// wrapping store.ErrChanged).
	CopyFrom(ctx context.Context, srcBucket, srcKey, etag string, size int64, mh multihash.Multihash) error
}

// Indexer indexes the CAR files of S3 events. Its methods may be called
// concurrently.
type Indexer struct {
	src        Source
	packs      Packs
	idx        store.IndexStore
	ingest     string
	rejected   string
	packPrefix string
	writers    string
	maxSection int64
	maxBlocks  int
	limits     index.Limits
	log        *slog.Logger
}

// Option configures an Indexer.
type Option func(*Indexer)

// WithIngestPrefix sets the key prefix of the objects to index (default
// DefaultIngestPrefix). Events for keys outside it are ignored.
func WithIngestPrefix(p string) Option { return func(x *Indexer) { x.ingest = p } }

// WithRejectedPrefix sets where a CAR that fails verification is moved
// (default DefaultRejectedPrefix): ingest/a/b.car goes to rejected/a/b.car.
func WithRejectedPrefix(p string) Option { return func(x *Indexer) { x.rejected = p } }

// WithPackPrefix tells the key prefix of the packs in the same bucket
// (default ""), so that New refuses an ingest or rejected prefix that
// pack keys could fall under.
func WithPackPrefix(p string) Option { return func(x *Indexer) { x.packPrefix = p } }

// WithWriters sets the index writers by name (index.NewWriters; default
// DefaultWriters, "all"). "none" is refused: nothing could be found.
func WithWriters(name string) Option { return func(x *Indexer) { x.writers = name } }

// WithMaxSectionBytes bounds one CAR section (default
// pack.DefaultMaxSectionBytes): a CAR with a larger one is rejected.
func WithMaxSectionBytes(n int64) Option { return func(x *Indexer) { x.maxSection = n } }

// WithMaxBlocks bounds the blocks of one CAR (default 0: no bound but the
// limits'): a CAR with more is rejected.
func WithMaxBlocks(n int) Option { return func(x *Indexer) { x.maxBlocks = n } }

// WithLimits sets the readers' limits a CAR is held to (default
// index.DefaultLimits(), the gateway's; a field 0 or less means its
// default): a CAR with a block over the block
// limit, or whose index would need a file over the index file cap (the
// CONTAINING record holds some 210 bytes per block, so about 310,000
// blocks fit the default 64 MiB), is rejected naming the block, before
// anything of it is stored. Give the gateway's own limits
// (HASH_STREAM_MAX_BLOCK_BYTES, HASH_STREAM_MAX_INDEX_FILE_BYTES) when
// they are not the defaults.
func WithLimits(l index.Limits) Option { return func(x *Indexer) { x.limits = l } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(x *Indexer) { x.log = l } }

// New returns an Indexer reading CARs from src, storing packs in packs and
// index records in idx. Every problem of the options is in the error.
func New(src Source, packs Packs, idx store.IndexStore, opts ...Option) (*Indexer, error) {
	x := &Indexer{
		src: src, packs: packs, idx: idx,
		ingest: DefaultIngestPrefix, rejected: DefaultRejectedPrefix, writers: DefaultWriters,
		maxSection: pack.DefaultMaxSectionBytes, limits: index.DefaultLimits(),
		log: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(x)
	}
	var errs []error
	if x.ingest == "" {
		errs = append(errs, errors.New("the ingest prefix is empty: every object of the bucket would be taken for a CAR"))
	}
	if x.rejected == "" {
		errs = append(errs, errors.New("the rejected prefix is empty"))
	}
	if x.ingest != "" && x.rejected != "" && (strings.HasPrefix(x.ingest, x.rejected) || strings.HasPrefix(x.rejected, x.ingest)) {
		errs = append(errs, fmt.Errorf("the ingest prefix %q and the rejected prefix %q overlap: a rejected CAR would come back as a new one", x.ingest, x.rejected))
	}
	for _, p := range []struct{ name, prefix string }{{"ingest", x.ingest}, {"rejected", x.rejected}} {
		if p.prefix != "" && overlapsPacks(p.prefix, x.packPrefix) {
			errs = append(errs, fmt.Errorf("the %s prefix %q overlaps the pack keys (%sk(mh)/k(mh).car)", p.name, p.prefix, x.packPrefix))
		}
	}
	if x.writers == index.WritersNone {
		errs = append(errs, errors.New(`index writer "none": the CARs would be stored but never found`))
	} else if _, err := index.NewWriters(x.writers, idx); err != nil {
		errs = append(errs, err)
	}
	if x.maxSection <= 0 || x.maxBlocks < 0 {
		errs = append(errs, fmt.Errorf("bounds must be positive (blocks: 0 for none): section %d bytes, %d blocks", x.maxSection, x.maxBlocks))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ingest: %w", errors.Join(errs...))
	}
	return x, nil
}

// overlapsPacks reports whether keys under prefix may be pack keys,
// packPrefix + k(mh) + "/" + ...: pack keys start with packPrefix and
// then a multibase "b" (base32).
func overlapsPacks(prefix, packPrefix string) bool {
	if strings.HasPrefix(packPrefix, prefix) {
		return true
	}
	rest, ok := strings.CutPrefix(prefix, packPrefix)
	return ok && strings.HasPrefix(rest, "b")
}

// Object names one object to index, as an S3 ObjectCreated event names
// it: its bucket and its key, decoded (an event's keys are URL-encoded:
// the function that receives the event decodes them).
type Object struct {
	Bucket, Key string
}

// Handle indexes objs, the objects of one event, in turn. It returns an
// error when any of them failed in a way a retry may fix (the Lambda
// runtime then retries the event; every object is safe to do again); a
// rejected CAR, an ignored object and an object already processed are no
// error. An object of another bucket or outside the ingest prefix is
// ignored with a warning (misrouted or hostile), a folder placeholder
// (a key ending in "/") with an Info line.
func (x *Indexer) Handle(ctx context.Context, objs ...Object) error {
	var errs []error
	for _, o := range objs {
		if !x.accept(ctx, o) {
			continue
		}
		if _, err := x.Ingest(ctx, o.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// accept reports whether o is one to index, and logs why not otherwise.
func (x *Indexer) accept(ctx context.Context, o Object) bool {
	var level slog.Level
	var why string
	switch {
	case o.Bucket != x.src.Bucket():
		level, why = slog.LevelWarn, "another bucket than "+x.src.Bucket()
	case !strings.HasPrefix(o.Key, x.ingest):
		level, why = slog.LevelWarn, "key outside the ingest prefix "+x.ingest
	case strings.HasSuffix(o.Key, "/"):
		level, why = slog.LevelInfo, "a folder placeholder, not a CAR"
	default:
		return true
	}
	LogIgnored(ctx, x.log, level, why, "bucket", o.Bucket, "key", o.Key)
	return false
}

// LogIgnored logs, at level, that an event record is ignored and why;
// attrs name it. Handle logs the objects it ignores with it, and the
// function that translates S3 events to Objects the records it cannot
// translate, so that every ignored record is one line of one shape.
func LogIgnored(ctx context.Context, log *slog.Logger, level slog.Level, why string, attrs ...any) {
	log.Log(ctx, level, "event record ignored", append([]any{"reason", why}, attrs...)...)
}

// Result is what Ingest did with one object.
type Result struct {
	Key     string
	Outcome Outcome
	Pack    multihash.Multihash // the pack's multihash (nil unless scanned whole)
	Blocks  int
	Bytes   int64
	// SkippedCopy says that the pack was stored already: no copy was made
	// and only missing index records were written.
	SkippedCopy    bool
	RecordsWritten int64
	RejectedTo     string // the key a rejected CAR was moved to
	Duration       time.Duration
}

// Outcome is how the processing of one object ended.
type Outcome string

// Outcomes of Ingest.
const (
	Indexed  Outcome = "indexed"  // stored (or found stored) and indexed, ingest object deleted
	Rejected Outcome = "rejected" // not a valid CAR: moved to the rejected prefix
	Gone     Outcome = "gone"     // no such object: processed already (a redelivered event)
	Replaced Outcome = "replaced" // the object changed while it was processed: its own event will do the new one
	Failed   Outcome = "failed"   // an error a retry may fix
)

// Ingest indexes the CAR at key, logs one line of what it did (a failure
// is returned instead, for the caller to log once) and returns it. The steps, each safe to repeat after a failure or a
// redelivered event:
//
//  1. GET the object (missing: already processed, done) and scan it:
//     every block verified, the file hashed. An invalid CAR is moved to
//     the rejected prefix (copy if the ETag is still the one read, then
//     delete) and logged at Error naming the block.
//  2. If the pack is not stored (HEAD), copy the object to its pack key,
//     on the condition that its ETag is still the one scanned.
//  3. Write the index records. When the pack was stored already (a
//     redelivery, a retry after a partial write, the same CAR dropped
//     twice), the single-level writer writes only the records missing
//     (index.SkipStored); the multiple-level writer's file is named after
//     its first sub-record and replaces itself with the same bytes.
//  4. Delete the ingest object, if its ETag is still the one scanned.
//
// An object replaced while it is processed (a failed If-Match) is left to
// the event of its new version.
func (x *Indexer) Ingest(ctx context.Context, key string) (Result, error) {
	start := time.Now()
	res, err := x.ingestKey(ctx, key)
	res.Key, res.Duration = key, time.Since(start)
	if err != nil {
		res.Outcome = Failed
	}
	x.logResult(ctx, res, err)
	return res, err
}

func (x *Indexer) ingestKey(ctx context.Context, key string) (Result, error) {
	var res Result
	body, size, etag, err := x.src.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		res.Outcome = Gone
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", key, err)
	}
	res.Bytes = size
	info, err := pack.Scan(store.ExactReader(body, size), pack.WithMaxSectionBytes(x.maxSection), pack.WithMaxBlocks(x.maxBlocks), pack.WithLimits(x.limits))
	_ = body.Close()
	if err != nil && ctx.Err() == nil && errors.Is(err, pack.ErrInvalidCAR) {
		return x.reject(ctx, key, etag, size, err)
	}
	if err != nil {
		return res, fmt.Errorf("ingest %s: scan: %w", key, err)
	}
	res.Pack, res.Blocks = info.Multihash, len(info.Blobs)

	stored, err := x.packs.Stat(ctx, info.Multihash)
	switch {
	case err == nil && stored == info.Size:
		res.SkippedCopy = true
	case err == nil:
		// A pack key names its bytes: one of another size is damaged.
		x.log.WarnContext(ctx, "stored pack has the wrong size: replacing it", "key", key,
			"pack", store.Key(info.Multihash), "stored_bytes", stored, "bytes", info.Size)
	case !errors.Is(err, store.ErrNotFound):
		return res, fmt.Errorf("ingest %s: %w", key, err)
	}
	if !res.SkippedCopy {
		err := x.packs.CopyFrom(ctx, x.src.Bucket(), key, etag, size, info.Multihash)
		if errors.Is(err, store.ErrChanged) {
			res.Outcome = Replaced
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("ingest %s: store pack: %w", key, err)
		}
	}

	counted := &countingIndex{IndexStore: x.idx}
	var opts []index.SingleLevelOption
	if res.SkippedCopy {
		opts = append(opts, index.SkipStored())
	}
	writers, err := index.NewWriters(x.writers, counted, opts...)
	if err != nil {
		return res, err // checked by New
	}
	var containing multihash.Multihash
	if len(info.Roots) == 1 {
		containing = info.Roots[0].Hash()
	}
	err = pack.AddToIndex(ctx, writers, []pack.Info{info}, containing)
	res.RecordsWritten = counted.n.Load()
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", key, err)
	}

	if err := x.src.Delete(ctx, key, etag); errors.Is(err, store.ErrChanged) {
		res.Outcome = Replaced
		return res, nil
	} else if err != nil {
		return res, fmt.Errorf("ingest %s: indexed, but: %w", key, err)
	}
	res.Outcome = Indexed
	return res, nil
}

// reject moves the invalid CAR at key to the rejected prefix. cause is
// the scan's error, logged (with the result) naming the block at fault.
func (x *Indexer) reject(ctx context.Context, key, etag string, size int64, cause error) (Result, error) {
	res := Result{Key: key, Bytes: size, RejectedTo: x.rejected + strings.TrimPrefix(key, x.ingest)}
	if err := x.src.Copy(ctx, key, etag, size, res.RejectedTo); errors.Is(err, store.ErrChanged) {
		res.Outcome = Replaced
		return res, nil
	} else if err != nil {
		return res, fmt.Errorf("ingest %s: invalid CAR (%v), and moving it to %s failed: %w", key, cause, res.RejectedTo, err)
	}
	if err := x.src.Delete(ctx, key, etag); err != nil && !errors.Is(err, store.ErrChanged) {
		return res, fmt.Errorf("ingest %s: invalid CAR copied to %s, but: %w", key, res.RejectedTo, err)
	}
	res.Outcome = Rejected
	x.logRejected(ctx, res, cause)
	return res, nil
}

// logRejected logs a rejected CAR at Error, with the block at fault.
func (x *Indexer) logRejected(ctx context.Context, res Result, cause error) {
	attrs := []any{"key", res.Key, "rejected_key", res.RejectedTo, "bytes", res.Bytes, "err", cause.Error()}
	var be *pack.BlockError
	if errors.As(cause, &be) {
		attrs = append(attrs, "block", be.Index, "block_offset", be.Offset)
		if be.CID.Defined() {
			attrs = append(attrs, "block_cid", be.CID.String())
		}
	}
	x.log.ErrorContext(ctx, "CAR rejected", attrs...)
}

// logResult logs the one line of an object: a rejected CAR gets its Error
// line from reject, with the block, and a failure is not logged here but
// returned (the caller logs it once).
func (x *Indexer) logResult(ctx context.Context, res Result, err error) {
	if err != nil || res.Outcome == Rejected {
		return
	}
	attrs := []any{"key", res.Key, "outcome", string(res.Outcome), "bytes", res.Bytes,
		"duration_ms", res.Duration.Milliseconds()}
	if res.Pack != nil {
		attrs = append(attrs, "pack", store.Key(res.Pack), "blocks", res.Blocks,
			"skipped_copy", res.SkippedCopy, "records_written", res.RecordsWritten)
	}
	if s := res.Duration.Seconds(); s > 0 && res.Bytes > 0 {
		attrs = append(attrs, "mb_per_s", float64(int64(float64(res.Bytes)/1e6/s*10))/10)
	}
	switch res.Outcome {
	case Gone:
		x.log.InfoContext(ctx, "no such object: processed already", attrs...)
	case Replaced:
		x.log.InfoContext(ctx, "object replaced while processed: its own event indexes the new one", attrs...)
	default:
		x.log.InfoContext(ctx, "CAR indexed", attrs...)
	}
}

// countingIndex counts the index files written through it.
type countingIndex struct {
	store.IndexStore
	n atomic.Int64
}

func (c *countingIndex) Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error {
	err := c.IndexStore.Put(ctx, mh, sub, data)
	if err == nil {
		c.n.Add(1)
	}
	return err
}
