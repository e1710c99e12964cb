package gateway

import (
	"context"
	"net"
	"net/http"
	"time"
)

type connKey struct{}

// ConnContext is meant for http.Server.ConnContext: it keeps each
// connection in the contexts of its requests, so that a response cut after
// its status line on an HTTP/1.0 connection ends with a TCP reset. Without
// chunked encoding (HTTP/1.0) and without Content-Length, a body ends where
// the connection closes, and a plain close would make a cut body look
// complete to the client and to any proxy or cache in between.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// resetOnClose makes the coming close of r's connection a reset (SO_LINGER
// 0) when r is an HTTP/1.0 request served under ConnContext. HTTP/1.1
// responses need none: a chunked body without its last chunk, or one
// shorter than its Content-Length, is already seen as cut.
func resetOnClose(r *http.Request) {
	if r.ProtoAtLeast(1, 1) {
		return
	}
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	linger0(c)
}

// linger0 makes the coming close of c a reset, when c (or the connection
// it wraps) is a TCP connection.
func linger0(c net.Conn) {
	for c != nil {
		switch t := c.(type) {
		case interface{ SetLinger(sec int) error }:
			_ = t.SetLinger(0) // best effort: the close still ends the body
			return
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = t.NetConn()
		default:
			return
		}
	}
}

// cutConnection ends r's response from another goroutine, now: under
// ConnContext its connection is reset (a write under way fails at once,
// the client sees the response cut, and the kernel drops what it held for
// it); otherwise the write deadline is moved to now, which a writer that
// supports it (net/http's) obeys. One response per connection is assumed
// (HTTP/1), as `hash-stream serve` speaks.
func cutConnection(w http.ResponseWriter, r *http.Request) {
	if c, _ := r.Context().Value(connKey{}).(net.Conn); c != nil {
		linger0(c)
		_ = c.Close()
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now())
}

// closeAfterChunkedRequest makes net/http close r's connection after the
// response when r came with a body in chunked transfer coding. RFC 9112
// section 6.3: a request with both Transfer-Encoding and Content-Length
// may be an attempt at request smuggling, and the server must close the
// connection after responding to it. net/http frames such a request by its
// chunked body and removes the Content-Length before a handler sees it, so
// here the two cannot be told apart: every chunked request closes its
// connection, which costs the clients of a gateway that reads no request
// body (GET, HEAD) nothing. On HTTP/1.0 net/http removes and ignores a
// Transfer-Encoding, framing the request by its Content-Length, so it
// cannot be seen here.
func closeAfterChunkedRequest(w http.ResponseWriter, r *http.Request) {
	if len(r.TransferEncoding) > 0 {
		w.Header().Set("Connection", "close")
	}
}
