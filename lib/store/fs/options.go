package fs

import "github.com/hash-stream/hash-stream-aws/lib/store"

// Option configures an IndexStore or a PackStore; each ignores the options
// that are not its (as the S3 store's options do).
type Option func(*options)

type options struct {
	store.Options // the prefix, extension and index file cap (shared)
	noSync        bool
}

func newOptions(opts []Option) options {
	o := options{Options: store.DefaultOptions()}
	for _, opt := range opts {
		opt(&o)
	}
	o.Options = o.Options.Defaulted()
	return o
}

// shared makes a shared store.Option one of this backend.
func shared(set store.Option) Option { return func(o *options) { set(&o.Options) } }

// WithPrefix puts prefix before every pack file name
// (store.Options.Prefix); a prefix ending in "/" is a subfolder. The index
// store ignores it.
func WithPrefix(prefix string) Option { return shared(store.WithPrefix(prefix)) }

// WithExtension sets the extension after every pack file name
// (store.Options.Extension). The index store ignores it.
func WithExtension(ext string) Option { return shared(store.WithExtension(ext)) }

// WithMaxIndexFileBytes sets the size cap of one index file
// (store.Options.MaxIndexFileBytes). The pack store ignores it.
func WithMaxIndexFileBytes(n int64) Option { return shared(store.WithMaxIndexFileBytes(n)) }

// WithSync says whether Put syncs each file to disk before it becomes
// visible (default true): then a pack or an index file survives a crash,
// and a pack the index points at is there. Without it, writing is bound by
// the page cache rather than the disk; use it for scratch stores or file
// systems that sync otherwise.
func WithSync(sync bool) Option {
	return func(o *options) { o.noSync = !sync }
}
