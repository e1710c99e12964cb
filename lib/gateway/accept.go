package gateway

import (
	"mime"
	"strconv"
	"strings"
)

const (
	// RawContentType is the media type of a raw block response.
	RawContentType = "application/vnd.ipld.raw"
	// CARContentType is the media type of a CAR response, without
	// parameters.
	CARContentType = "application/vnd.ipld.car"
)

// acceptance is the outcome of Accept negotiation.
type acceptance struct {
	// format is the chosen format, 0 when Accept names none we serve.
	format Format
	// car holds the parameters of the best acceptable CAR entry (also
	// when raw won: ?format=car may still use them).
	car  map[string]string
	carQ float64
	// rawWithPath is set when raw was acceptable but the request has a
	// path, which raw responses do not support.
	rawWithPath bool
}

// negotiate picks a response format from Accept header values (RFC 9110
// section 12.5.1): entries naming application/vnd.ipld.raw or
// application/vnd.ipld.car are ranked by q (ties: first listed wins);
// q=0 entries, CAR entries with parameters we cannot honour (version other
// than 1, an order other than dfs or unk, dups other than y or n) and
// unparsable entries are skipped, so a client can list a preferred
// variant and a fallback. Wildcards (*/*, application/*) choose nothing:
// the gateway has no default format. Unknown parameters are ignored.
func negotiate(values []string, hasPath bool) acceptance {
	var a acceptance
	bestQ := 0.0
	for _, v := range values {
		for _, entry := range splitList(v) {
			mt, params, err := mime.ParseMediaType(entry)
			if err != nil {
				continue
			}
			q, ok := quality(params)
			if !ok || q == 0 {
				continue
			}
			var f Format
			switch mt {
			case RawContentType:
				if hasPath {
					a.rawWithPath = true
					continue
				}
				f = FormatRaw
			case CARContentType:
				if !carVariantOK(params) {
					continue
				}
				f = FormatCAR
			default:
				continue
			}
			if q > bestQ {
				bestQ, a.format = q, f
			}
			if f == FormatCAR && (a.car == nil || q > a.carQ) {
				a.car, a.carQ = params, q
			}
		}
	}
	return a
}

// quality removes the q parameter from params and returns its value (1
// when absent); ok is false for a malformed q.
func quality(params map[string]string) (q float64, ok bool) {
	s, has := params["q"]
	if !has {
		return 1, true
	}
	delete(params, "q")
	if !validQ(s) {
		return 0, false
	}
	q, err := strconv.ParseFloat(s, 64)
	return q, err == nil
}

// validQ reports whether s is an RFC 9110 qvalue: 0[.ddd] or 1[.000].
func validQ(s string) bool {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return false
	}
	if len(s) == 1 {
		return true
	}
	if s[1] != '.' {
		return false
	}
	for _, c := range s[2:] {
		if c < '0' || c > '9' || (s[0] == '1' && c != '0') {
			return false
		}
	}
	return true
}

// splitList splits an Accept header value at the commas that separate its
// entries, keeping commas inside quoted strings, and drops empty entries.
func splitList(v string) []string {
	var out []string
	inQuote, escaped, start := false, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			if e := strings.TrimSpace(v[start:i]); e != "" {
				out = append(out, e)
			}
			start = i + 1
		}
	}
	if e := strings.TrimSpace(v[start:]); e != "" {
		out = append(out, e)
	}
	return out
}

// carVariantOK reports whether the CAR parameters of an Accept entry can
// be honoured.
func carVariantOK(p map[string]string) bool {
	if v, ok := p["version"]; ok && v != "1" {
		return false
	}
	if v, ok := p["order"]; ok && v != "dfs" && v != "unk" {
		return false
	}
	if v, ok := p["dups"]; ok && v != "y" && v != "n" {
		return false
	}
	return true
}
