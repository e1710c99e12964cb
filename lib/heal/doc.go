// Package heal turns the gateway's "response aborted" log lines into
// CloudFront invalidations, so that no cache keeps a response cut after its
// first byte.
//
// A response cut after its status line must look cut to every cache, but
// behind CloudFront that cannot be relied on: a Lambda Function URL renames
// Content-Length (so a short body cannot be told), and Lambda treats a
// stream ended with error trailers as a successful response ("Building a
// custom runtime for AWS Lambda", Implementing response streaming in a
// custom runtime). Every such cut is logged by the gateway
// (lib/gateway, msg AbortedMessage, with the request's path); the stack
// sends those lines, through a CloudWatch Logs subscription filter, to a
// small function (functions/invalidator) that hands them to a Healer.
//
// What a Healer invalidates: for each cut, Path gives one wildcard path,
// the request's path followed by "*", which covers every query string and
// Accept variant CloudFront caches under that path (CloudFront Developer
// Guide, "Invalidating files": with query strings in the cache key, a path
// without them invalidates nothing, a trailing * covers them all). Several
// cuts under one CID in one delivery become one path, /ipfs/<cid>*.
//
// Bounds: a Healer invalidates at most its hourly limit of paths (each past
// CloudFront's free 1,000 a month is billed), in invalidations of at most
// MaxWildcardPaths paths (CloudFront allows 15 wildcard paths in progress
// at a time), waiting a bounded time while earlier ones are in progress.
// What it cannot invalidate it logs (DroppedMessage, with the paths), and
// the stack counts and alarms on those lines. Log lines are untrusted
// input: each is bounded in size, anything but a well-formed cut of an
// /ipfs/<cid> path is ignored, and no line can widen an invalidation
// beyond its CID.
package heal
