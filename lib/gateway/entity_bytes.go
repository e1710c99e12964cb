package gateway

import (
	"strconv"
	"strings"
)

// EntityBytes is the entity-bytes=from:to query parameter of a CAR
// request: an inclusive byte range of the terminal UnixFS file. A negative
// From or To counts from the end of the file (-1 is the last byte); ToEnd
// stands for "*", the end of the file.
type EntityBytes struct {
	From  int64
	To    int64
	ToEnd bool
}

// parseEntityBytes parses "from:to": from an integer, to an integer or
// "*". It refuses (400) anything else, and ranges that are empty whatever
// the file size (from after to with both of the same sign).
func parseEntityBytes(s string) (EntityBytes, error) {
	fromText, toText, ok := strings.Cut(s, ":")
	if !ok {
		return EntityBytes{}, badRequest("invalid entity-bytes %q: use from:to", s)
	}
	from, ok := parseOffset(fromText)
	if !ok {
		return EntityBytes{}, badRequest("invalid entity-bytes %q: from must be an integer", s)
	}
	if toText == "*" {
		return EntityBytes{From: from, ToEnd: true}, nil
	}
	to, ok := parseOffset(toText)
	if !ok {
		return EntityBytes{}, badRequest("invalid entity-bytes %q: to must be an integer or *", s)
	}
	if (from >= 0) == (to >= 0) && from > to {
		return EntityBytes{}, badRequest("invalid entity-bytes %q: from is after to", s)
	}
	return EntityBytes{From: from, To: to}, nil
}

// parseOffset parses an optionally negative decimal integer without a
// plus sign or spaces.
func parseOffset(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Whole reports whether e selects the whole file (0:*).
func (e EntityBytes) Whole() bool { return e.From == 0 && e.ToEnd }

// String returns e in its query form, from:to.
func (e EntityBytes) String() string {
	to := "*"
	if !e.ToEnd {
		to = strconv.FormatInt(e.To, 10)
	}
	return strconv.FormatInt(e.From, 10) + ":" + to
}

// Resolve turns e into absolute inclusive offsets first..last within a
// file of size bytes. Offsets before the start are clamped to 0 and past
// the end to size-1. ok is false when no byte is selected (an empty file,
// a range entirely outside it, or first after last); the spec then answers
// as for dag-scope=block.
func (e EntityBytes) Resolve(size int64) (first, last int64, ok bool) {
	if size <= 0 {
		return 0, 0, false
	}
	abs := func(n int64) int64 {
		if n < 0 {
			return size + n
		}
		return n
	}
	first = max(abs(e.From), 0)
	last = size - 1
	if !e.ToEnd {
		last = min(abs(e.To), size-1)
	}
	if first > last || first >= size || last < 0 {
		return 0, 0, false
	}
	return first, last, true
}
