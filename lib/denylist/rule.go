package denylist

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// DefaultStatus is the HTTP status of a rule without a status hint.
const DefaultStatus = http.StatusGone

// Rule is the line of a list that decided a match.
type Rule struct {
	// Status is the HTTP status to answer with: DefaultStatus unless a
	// status hint says otherwise (451 for a court order, for instance).
	Status int
	// Reason is the reason hint, for logs and operators; it is never meant
	// for the client.
	Reason string
	// Allow is set for a negated rule (!): the match un-blocks.
	Allow bool
	// File and Line locate the rule.
	File string
	Line int
}

func (r Rule) String() string {
	verb := "blocked"
	if r.Allow {
		verb = "allowed"
	}
	s := fmt.Sprintf("%s by %s:%d (status %d", verb, r.File, r.Line, r.Status)
	if r.Reason != "" {
		s += ", reason " + strconv.Quote(r.Reason)
	}
	return s + ")"
}

// meta is what rules share: most lines of a list have the same.
type meta struct {
	status int
	reason string
	allow  bool
}

// ref is a rule as stored: its line and its meta in List.metas.
type ref struct {
	line uint32
	meta uint32
}

// pathRule is an /ipfs/CID/PATH rule, PATH %-decoded and without its
// trailing "/" or "*".
type pathRule struct {
	path   string
	prefix bool
	ref
}

func (p *pathRule) matches(path string) bool {
	if p.prefix {
		return strings.HasPrefix(path, p.path)
	}
	return path == p.path
}

// legacyKey is the first 128 bits of a legacy double-hash (a sha256
// digest): half the memory of a bad-bits sized list, and a false match
// would take a second preimage of 128 bits.
type legacyKey [16]byte

// hashFunc is the hash function and digest length of modern double-hash
// rules.
type hashFunc struct {
	code   uint64
	length int
}

// Hint names understood in the header's hints map and after a rule.
const (
	hintStatus = "status"
	hintReason = "reason"
)

// applyHint sets m's status or reason from one hint; other hints are
// ignored, as the spec asks.
func applyHint(m *meta, key, value string) error {
	switch key {
	case hintStatus:
		n, err := strconv.Atoi(value)
		if err != nil || n < 400 || n > 499 {
			return fmt.Errorf("status hint %q: want an HTTP status from 400 to 499", value)
		}
		m.status = n
	case hintReason:
		m.reason = value
	}
	return nil
}
