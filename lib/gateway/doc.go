// Package gateway is the HTTP front of an IPFS Trustless Gateway
// (https://specs.ipfs.tech/http-gateways/trustless-gateway/) served from
// packs and index records.
//
// This part of the package is independent of storage: ParseRequest turns
// an *http.Request into a Request (root CID, path, response format, CAR
// parameters), the header helpers write the response headers the spec and
// the conformance checklist require, ParseRange handles Range on raw
// blocks, and ErrorStatus maps every error to one HTTP status in one place.
//
// Only trustless responses exist here: a raw block
// (application/vnd.ipld.raw) or a CARv1 stream (application/vnd.ipld.car).
// Requests that ask for neither are refused (see ParseRequest).
package gateway
