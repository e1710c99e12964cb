// Package abort ends an HTTP response already under way with an error,
// through the ResponseWriter that can carry it: the one place that finds
// such a writer behind the wrappers around it. The gateway (lib/gateway)
// aborts a response that fails after its status line with it, and the
// Lambda streaming adapter (lib/lambdastream), whose writer carries the
// error to the client as the error trailers, gives its handlers it as
// lambdastream.Abort. Under net/http's server no writer can: the handler
// cuts the response with panic(http.ErrAbortHandler) instead.
package abort

import "net/http"

// Aborter is a ResponseWriter that can end its response with an error,
// so that the client sees it cut short, never a clean end.
type Aborter interface {
	Abort(err error)
}

// Response ends the response being written to w with err, and reports
// true, if w or a writer it wraps (through an Unwrap() http.ResponseWriter
// method, as http.ResponseController follows) is an Aborter. It reports
// false otherwise.
func Response(w http.ResponseWriter, err error) bool {
	for {
		switch t := w.(type) {
		case Aborter:
			t.Abort(err)
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
