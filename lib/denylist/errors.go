package denylist

import (
	"errors"
	"fmt"
)

var (
	// ErrNoRules is returned for a list without a single rule: an empty or
	// truncated file, or one where no line parsed.
	ErrNoRules = errors.New("no valid rule")
	// ErrTooLarge is returned for a list longer than its size limit
	// (WithMaxFileSize).
	ErrTooLarge = errors.New("list too large")
	// ErrLineTooLong is the cause of a LineError for a line longer than its
	// limit (WithMaxLineLength); the line is skipped, not read into memory.
	ErrLineTooLong = errors.New("line too long")
	// ErrHeader is returned for a header that does not parse, or declares a
	// version other than 1.
	ErrHeader = errors.New("invalid header")
)

// LineError is a line of a list that was skipped: a parse error (List.Errors)
// or a rule this gateway does not apply (List.Warnings).
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }
