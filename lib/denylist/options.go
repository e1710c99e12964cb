package denylist

const (
	// DefaultMaxFileSize bounds a list: 256 MiB, room for about three
	// million legacy double-hash lines (67 bytes each).
	DefaultMaxFileSize = 256 << 20
	// DefaultMaxLineLength bounds a line, newline excluded: 4 KiB. The spec
	// allows 2 MiB; no CID and path a gateway serves comes near 4 KiB.
	DefaultMaxLineLength = 4 << 10
	// MaxHeaderSize is the spec's bound on the YAML header: 1 MiB. Past it
	// the list is read as if it had no header.
	MaxHeaderSize = 1 << 20
	// MaxReported bounds List.Errors and List.Warnings; the counts go on.
	MaxReported = 100
	// MaxHashFunctions bounds the distinct hash functions (and lengths) of
	// modern double-hash rules in one list: Match hashes the request once
	// per function.
	MaxHashFunctions = 4
)

// Option changes a limit of Parse or Load.
type Option func(*options)

type options struct {
	maxFileSize   int64
	maxLineLength int
}

// WithMaxFileSize sets the largest list accepted, in bytes; a longer one
// fails with ErrTooLarge.
func WithMaxFileSize(n int64) Option {
	return func(o *options) { o.maxFileSize = n }
}

// WithMaxLineLength sets the longest line accepted, in bytes; a longer one
// is reported as a LineError wrapping ErrLineTooLong and skipped.
func WithMaxLineLength(n int) Option {
	return func(o *options) { o.maxLineLength = n }
}

func applyOptions(opts []Option) options {
	o := options{maxFileSize: DefaultMaxFileSize, maxLineLength: DefaultMaxLineLength}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxLineLength < 1 {
		o.maxLineLength = 1
	}
	return o
}
