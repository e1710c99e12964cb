package lambdastream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrBodyTooLarge ends a response body that would exceed the cap set by
	// WithMaxBytes; the Write that would cross it fails with it too.
	ErrBodyTooLarge = errors.New("lambdastream: response body exceeds the size limit")

	// ErrShortBody ends a response body when the handler returns having
	// written fewer bytes than the Content-Length it declared.
	ErrShortBody = errors.New("lambdastream: handler wrote less than its Content-Length")

	// ErrBodyClosed is the cause of the request context's cancellation, and
	// the error of later writes, once the runtime has closed the response
	// body before its end (the invocation is over or the client went away).
	ErrBodyClosed = errors.New("lambdastream: response body closed")

	// ErrDeadline is the cause of the request context's end when the
	// invocation's deadline is near (see WithDeadlineMargin). It wraps
	// context.DeadlineExceeded.
	ErrDeadline = fmt.Errorf("lambdastream: the invocation's deadline is near: %w", context.DeadlineExceeded)
)

// AbortError ends a response the handler aborted, with Abort or by
// panicking with http.ErrAbortHandler. Its type name is what the runtime
// reports in the Lambda-Runtime-Function-Error-Type trailer.
type AbortError struct {
	// Err is the error given to Abort, or http.ErrAbortHandler.
	Err error
}

func (e *AbortError) Error() string {
	return "lambdastream: response aborted: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *AbortError) Unwrap() error { return e.Err }

// PanicError ends a response whose handler panicked with a value other than
// http.ErrAbortHandler.
type PanicError struct {
	// Value is the value the handler panicked with.
	Value any
	// Stack is the panicking goroutine's stack trace.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("lambdastream: handler panic: %v", e.Value)
}

// Unwrap returns Value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// abortCause turns a recovered panic value into the error that ends the
// response.
func abortCause(v any, stack []byte) error {
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		return &AbortError{Err: err}
	}
	return &PanicError{Value: v, Stack: stack}
}
