// Package gateway is the HTTP front of an IPFS Trustless Gateway
// (https://specs.ipfs.tech/http-gateways/trustless-gateway/) served from
// packs and index records.
//
// New returns a Handler, the http.Handler that serves GET and HEAD of
// /ipfs/{cid}[/path] over a dag.Source: a verified raw block
// (application/vnd.ipld.raw, whole or one Range) or a CARv1 stream
// (application/vnd.ipld.car, with the dag-scope, entity-bytes, order and
// dups parameters). Options set its logger, its memory budget and its
// response size cap; each request ends with one log line of what it did.
//
// The handler never sees storage: it reads verified blocks through the
// dag.Source it is given (the streamer, in every server; a fake in
// tests) and walks CARs with package carwalk over the same Source.
//
// The rest is independent of storage: ParseRequest turns an *http.Request
// into a Request (root CID, path, response format, CAR parameters),
// SetHeaders writes the response headers the spec and the conformance
// checklist require, and ErrorStatus maps every error to one HTTP status
// in one place. Requests that ask for neither trustless format are
// refused (see ParseRequest).
package gateway
