package fs

import "github.com/hash-stream/hash-stream-aws/lib/store"

// Option configures an IndexStore or a PackStore; each ignores the options
// that are not its (as the S3 store's options do).
type Option func(*options)

type options struct {
	prefix       string
	ext          string
	noSync       bool
	maxIndexFile int64
}

func newOptions(opts []Option) options {
	o := options{ext: store.DefaultPackExtension, maxIndexFile: store.DefaultMaxIndexFileBytes}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxIndexFile <= 0 {
		o.maxIndexFile = store.DefaultMaxIndexFileBytes
	}
	return o
}

// WithPrefix puts prefix before every pack file name. A prefix ending in
// "/" is a subfolder. The default is none. The index store ignores it.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithExtension sets the extension after every pack file name, of packs
// stored by multihash and of path locations alike. The default is
// store.DefaultPackExtension (".car"); "" means none. The index store
// ignores it.
func WithExtension(ext string) Option {
	return func(o *options) { o.ext = ext }
}

// WithSync says whether Put syncs each file to disk before it becomes
// visible (default true): then a pack or an index file survives a crash,
// and a pack the index points at is there. Without it, writing is bound by
// the page cache rather than the disk; use it for scratch stores or file
// systems that sync otherwise.
func WithSync(sync bool) Option {
	return func(o *options) { o.noSync = !sync }
}

// WithMaxIndexFileBytes sets the size cap of one index file (default
// store.DefaultMaxIndexFileBytes; 0 or less means the default).
// IndexStore.Files returns a larger file with an Err wrapping
// store.ErrTooLarge, without reading it. The pack store ignores it.
func WithMaxIndexFileBytes(n int64) Option {
	return func(o *options) { o.maxIndexFile = n }
}
