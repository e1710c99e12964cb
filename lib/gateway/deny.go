package gateway

import (
	"context"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
)

// BlockedMaxAge is how long (seconds) a blocked answer may be cached, by
// CloudFront or a client: short, so that an unblock takes effect soon.
const BlockedMaxAge = 60

// BlockedError is content a denylist blocks. It is answered with the
// rule's status (410 Gone unless the list says otherwise, 451 for a legal
// demand) and the body "blocked": the rule's reason is for the operator's
// log, never for the client.
type BlockedError struct {
	CID  cid.Cid
	Rule denylist.Rule
}

func (e *BlockedError) Error() string { return fmt.Sprintf("%s %s", e.CID, e.Rule) }

// WithDenylist blocks what the Set current returns blocks, checked before
// any byte leaves: the requested CID and path (CID, path and double-hash
// rules), every block a path goes through, and every block a CAR would
// hold, as the walk reaches it (by multihash: every CID form of a block is
// the same). A block found blocked after the first byte cuts the CAR.
// current is called once per request (a denylist.Watcher's Set).
func WithDenylist(current func(context.Context) *denylist.Set) Option {
	return func(h *Handler) { h.denylist = current }
}

type denyKey struct{}

// withDenylist returns ctx carrying the request's Set.
func withDenylist(ctx context.Context, s *denylist.Set) context.Context {
	return context.WithValue(ctx, denyKey{}, s)
}

// checkDenied returns a *BlockedError when the request's Set in ctx blocks
// c at path (nil: c alone, with its double-hash rules).
func checkDenied(ctx context.Context, c cid.Cid, path []string) error {
	s, _ := ctx.Value(denyKey{}).(*denylist.Set)
	if s == nil {
		return nil
	}
	if rule, blocked := s.Match(c, path); blocked {
		return &BlockedError{CID: c, Rule: rule}
	}
	return nil
}

// blockCheck returns the per-block check of a CAR walk (nil when the
// request has no Set): one map lookup per list on the multihash.
func blockCheck(ctx context.Context) func(cid.Cid) error {
	s, _ := ctx.Value(denyKey{}).(*denylist.Set)
	if s == nil {
		return nil
	}
	return func(c cid.Cid) error {
		if rule, blocked := s.MatchMultihash(c.Hash()); blocked {
			return &BlockedError{CID: c, Rule: rule}
		}
		return nil
	}
}

// checkLinksDenied checks, before the status line, the children of the
// terminal block that a dag-scope=all CAR holds: the terminal goes out at
// once (first bytes early), so a blocked child found by the walk could
// only cut the response; found here, it is answered with its status.
// Blocks further down are checked as the walk reaches them.
func checkLinksDenied(ctx context.Context, terminal cid.Cid, data []byte, scope DagScope) error {
	check := blockCheck(ctx)
	if check == nil || scope != ScopeAll {
		return nil
	}
	links, err := dag.Links(terminal, data)
	if err != nil {
		return nil // the walk reports it, with its own status
	}
	for _, l := range links {
		if err := check(l); err != nil {
			return err
		}
	}
	return nil
}
