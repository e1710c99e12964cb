package store

// Options are the options every backend shares, defined once here: a
// backend's own options embed them, its stores take them through its
// WithPrefix, WithExtension and WithMaxIndexFileBytes (each the Option of
// the same name below, given to that backend), and each store ignores the
// ones that are not its.
type Options struct {
	// Prefix goes before every pack key (fs, s3) and every index key
	// (s3), as given: end it with "/" for a folder. Default none.
	Prefix string
	// Extension goes after the key of every pack, stored by multihash and
	// read by path alike. Default DefaultPackExtension (".car"); "" means
	// none.
	Extension string
	// MaxIndexFileBytes is the size cap of one index file: Files returns a
	// larger one with an Err wrapping ErrTooLarge, without reading it.
	// Default DefaultMaxIndexFileBytes; 0 or less means the default.
	MaxIndexFileBytes int64
}

// Option sets one of the shared Options.
type Option func(*Options)

// WithPrefix sets Options.Prefix.
func WithPrefix(prefix string) Option { return func(o *Options) { o.Prefix = prefix } }

// WithExtension sets Options.Extension.
func WithExtension(ext string) Option { return func(o *Options) { o.Extension = ext } }

// WithMaxIndexFileBytes sets Options.MaxIndexFileBytes.
func WithMaxIndexFileBytes(n int64) Option { return func(o *Options) { o.MaxIndexFileBytes = n } }

// DefaultOptions returns the Options of a store given none: no prefix,
// DefaultPackExtension, DefaultMaxIndexFileBytes.
func DefaultOptions() Options {
	return Options{Extension: DefaultPackExtension, MaxIndexFileBytes: DefaultMaxIndexFileBytes}
}

// Defaulted returns o with the defaults in place of values that mean
// "the default" (a MaxIndexFileBytes of 0 or less).
func (o Options) Defaulted() Options {
	if o.MaxIndexFileBytes <= 0 {
		o.MaxIndexFileBytes = DefaultMaxIndexFileBytes
	}
	return o
}
