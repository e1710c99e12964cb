// Package denylist parses and matches content-blocking lists in the Compact
// Denylist Format (IPIP-383; compact-denylist-format.md in the IPFS specs),
// for a gateway that serves /ipfs/ content paths only.
//
// # Format
//
// A list is an optional YAML header (version, name, description, author,
// hints) ended by a "---" line, then one rule per line; blank lines and
// lines starting with # are skipped. The rules applied:
//
//	/ipfs/CID            the multihash of CID, whatever its version, codec or base
//	/ipfs/CID/PATH       exactly that path ("PATH/" is the same rule)
//	/ipfs/CID/PATH*      every path starting with PATH ("PATH/*" is the same
//	                     rule; "/ipfs/CID/*" covers CID itself and every path)
//	//DOUBLE-HASH        modern: a base58btc multihash of "B58_MULTIHASH[/PATH]",
//	                     B58_MULTIHASH the CID's multihash in base58btc, any
//	                     hash function; legacy (bad-bits): the sha256 hex
//	                     digest of "CIDV1_BASE32/PATH", the slash kept when
//	                     PATH is empty
//	!RULE                an exception: a match allows
//
// PATH is %-encoded in the list and compared decoded. /ipns/ rules and
// bare-path rules do not apply to an /ipfs/-only gateway: they are counted
// (List.Ignored) and reported (List.Warnings), never an error. A line that
// does not parse is counted and reported with its line number (List.Errors)
// and skipped; a list without a single rule, applied or ignored, is an
// error (ErrNoRules): an empty or truncated file is never taken for an
// empty list.
//
// # Status and reason hints
//
// A rule's HTTP status and reason are hints, the spec's key-value metadata:
//
//	status   the HTTP status of a match, 400 to 499; DefaultStatus (410 Gone)
//	         when absent; 451 for a legal demand
//	reason   free text for operators, never sent to clients
//
// Hints in the header's hints map apply to every rule of the list; hints
// written after a rule, space-separated, override them for that rule:
//
//	hints:
//	  status: 410
//	  reason: abuse report
//	---
//	/ipfs/bafy... status:451 reason:court%20order%2042
//
// Values after a rule are %-decoded (a reason carries spaces as %20), and
// key=value is read like key:value. Other hints are ignored.
//
// # Matching
//
// A Set holds lists in order (Load: the *.deny files of a directory by
// name). In a list the last matching rule wins; across lists the later
// list wins. Set.MatchMultihash is the per-block check, one map lookup per
// list on the multihash bytes: it applies /ipfs/CID and /ipfs/CID/* rules.
// Set.Match is the request check: the CID itself first (its rules and both
// double-hash forms), then the path. A blocked CID blocks every path under
// it, as the gateway reads the root block to resolve a path: this is the
// spec's block-level model, stricter than its path-only one, under which
// /ipfs/CID did not cover /ipfs/CID/sub. Double-hash rules are applied by
// Match only: the per-block check would have to hash every block's CID
// twice; a walk that must apply them to every block calls Match(c, nil).
//
// # Limits
//
// A list larger than WithMaxFileSize fails with ErrTooLarge; a line longer
// than WithMaxLineLength is skipped without being read into memory; the
// header is looked for in the first MaxHeaderSize bytes; at most
// MaxReported errors and warnings are kept; at most MaxHashFunctions hash
// functions serve modern double-hash rules. Memory grows with the rules
// kept, about 70 bytes per legacy double-hash rule.
package denylist
