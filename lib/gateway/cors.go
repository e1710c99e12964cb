package gateway

import "net/http"

// Trustless responses are public and verified by the client, so any
// origin may read them: browsers run trustless clients too
// (@helia/verified-fetch). These are the headers every response carries,
// and what a CORS preflight (OPTIONS) is answered with.
var (
	corsExposeHeaders = "Content-Length, Content-Range, Content-Disposition, Etag, X-Ipfs-Path, X-Ipfs-Roots, X-Content-Type-Options"
	corsAllowHeaders  = "Accept, Range, If-None-Match, Content-Type, User-Agent, X-Requested-With"
	corsAllowMethods  = "GET, HEAD, OPTIONS"
)

// corsMaxAge is how long (seconds) a browser may keep a preflight answer.
const corsMaxAge = "86400"

// setCORS adds the headers that let any origin read a response.
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// writePreflight answers a CORS preflight (OPTIONS): 204 with what a
// browser may send and for how long it may remember the answer. The
// answer is the same for every path and origin, so caches may keep it.
func writePreflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Set("Allow", corsAllowMethods)
	h.Set("Cache-Control", "public, max-age="+corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}
