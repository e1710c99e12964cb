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

// Option configures an IndexStore or a PackStore.
type Option func(*options)

type options struct {
	prefix      string
	ext         string
	conditional bool
	partSize    int64
	resumes     int
	// maxIndexFile is the size cap of one index file.
	maxIndexFile int64
	// copyAbove and copyPartSize shape server-side copies (copy.go).
	copyAbove, copyPartSize int64
}

func newOptions(opts []Option) options {
	o := options{ext: store.DefaultPackExtension, conditional: true, partSize: DefaultPartSize, resumes: DefaultResumes, maxIndexFile: store.DefaultMaxIndexFileBytes, copyPartSize: DefaultCopyPartSize}
	for _, opt := range opts {
		opt(&o)
	}
	o.partSize = max(o.partSize, MinPartSize)
	o.resumes = max(o.resumes, 0)
	if o.maxIndexFile <= 0 {
		o.maxIndexFile = store.DefaultMaxIndexFileBytes
	}
	return o
}

// WithPrefix puts prefix before every object key, of both stores. It is
// used as given: end it with "/" to get a folder-like prefix. The default is
// none.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithExtension sets the extension of pack objects, stored by multihash
// and read by path alike. The default is store.DefaultPackExtension
// (".car"); "" means none. The index store ignores it.
func WithExtension(ext string) Option {
	return func(o *options) { o.ext = ext }
}

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

// WithMaxIndexFileBytes sets the size cap of one index file (default
// store.DefaultMaxIndexFileBytes; 0 or less means the default).
// IndexStore.Files returns a larger object with an Err wrapping
// store.ErrTooLarge, without reading it. The pack store ignores it.
func WithMaxIndexFileBytes(n int64) Option {
	return func(o *options) { o.maxIndexFile = n }
}
