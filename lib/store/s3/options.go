package s3

import "github.com/hash-stream/hash-stream-aws/lib/store"

// filesConcurrency is how many index files IndexStore.Files reads at once.
const filesConcurrency = 8

// DefaultPartSize is the part size of the multipart uploads that
// PackStore.Put uses for readers it cannot seek.
const DefaultPartSize = 16 << 20

// MinPartSize is the smallest part S3 takes (but for the last one).
const MinPartSize = 5 << 20

// DefaultResumes is how many times a pack read that fails part-way (a
// reset connection, a body that ends early or stalls) is resumed from the
// first byte not yet received, before the error reaches the reader. Each
// resume is one more GetObject, itself retried by the SDK.
const DefaultResumes = 3

// Option configures an IndexStore, a PackStore or Objects; each ignores
// the options that are not its.
type Option func(*options)

type options struct {
	store.Options // the prefix, extension and index file cap (shared)
	conditional   bool
	partSize      int64
	resumes       int
	// copyAbove and copyPartSize shape server-side copies (copy.go).
	copyAbove, copyPartSize int64
}

func newOptions(opts []Option) options {
	o := options{Options: store.DefaultOptions(), conditional: true, partSize: DefaultPartSize, resumes: DefaultResumes, copyPartSize: DefaultCopyPartSize}
	for _, opt := range opts {
		opt(&o)
	}
	o.Options = o.Options.Defaulted()
	o.partSize = max(o.partSize, MinPartSize)
	o.resumes = max(o.resumes, 0)
	return o
}

// shared makes a shared store.Option one of this backend.
func shared(set store.Option) Option { return func(o *options) { set(&o.Options) } }

// WithPrefix puts prefix before every object key, of both stores
// (store.Options.Prefix).
func WithPrefix(prefix string) Option { return shared(store.WithPrefix(prefix)) }

// WithExtension sets the extension of pack objects
// (store.Options.Extension). The index store ignores it.
func WithExtension(ext string) Option { return shared(store.WithExtension(ext)) }

// WithMaxIndexFileBytes sets the size cap of one index file
// (store.Options.MaxIndexFileBytes). The pack store ignores it.
func WithMaxIndexFileBytes(n int64) Option { return shared(store.WithMaxIndexFileBytes(n)) }

// WithConditionalWrites says whether the server honours If-None-Match: *
// on PutObject (the default, true, as Amazon S3 and versitygw do). With
// false, IndexStore.Put checks with HeadObject that a timestamp name is free
// before writing it, which leaves a short window in which two writers can
// pick the same name. The pack store ignores it.
func WithConditionalWrites(ok bool) Option {
	return func(o *options) { o.conditional = ok }
}

// WithPartSize sets the part size of the multipart uploads of packs read
// from a reader that cannot seek (default DefaultPartSize, at least
// MinPartSize). Each part is streamed, not buffered. The index store ignores
// it.
func WithPartSize(n int64) Option {
	return func(o *options) { o.partSize = n }
}

// WithResumes sets how many times PackStore.GetRange resumes a read that
// fails part-way (default DefaultResumes; 0: never). The index store
// ignores it.
func WithResumes(n int) Option {
	return func(o *options) { o.resumes = n }
}

// WithMultipartCopyAbove sets the size above which a server-side copy
// (PackStore.CopyFrom, Objects.Copy) is a multipart copy rather than one
// CopyObject (default, and at most, MaxCopyObjectBytes; 0 or less means
// the default). Tests lower it to exercise the multipart path.
func WithMultipartCopyAbove(n int64) Option {
	return func(o *options) { o.copyAbove = n }
}

// WithCopyPartSize sets the part size of a multipart copy (default
// DefaultCopyPartSize, at least MinPartSize, raised when an object would
// need more than 10,000 parts).
func WithCopyPartSize(n int64) Option {
	return func(o *options) { o.copyPartSize = n }
}

// copyAboveOrDefault returns the multipart copy threshold of o.
func (o options) copyAboveOrDefault() int64 {
	if o.copyAbove <= 0 || o.copyAbove > MaxCopyObjectBytes {
		return MaxCopyObjectBytes
	}
	return o.copyAbove
}
