package denylist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// header is the optional YAML header of a list.
type header struct {
	name, description, author string
	hints                     map[string]string
}

// parseHeader reads the header's lines (the "---" excluded). It
// understands the YAML a header holds: top-level "key: value" lines with
// plain, single- or double-quoted values, block scalars (| and >) and the
// one-level hints map. Other nested content is skipped; anything else is
// an error, as the spec asks for a header that is not valid YAML.
func parseHeader(lines []string) (header, error) {
	h := header{hints: map[string]string{}}
	var key string    // the current top-level key
	var block *string // the block scalar being read, if any
	var folded bool
	for i, line := range lines {
		line = strings.TrimRight(line, " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed != line { // indented: a value of the current key
			switch {
			case block != nil:
				*block = joinBlock(*block, trimmed, folded)
			case key == "hints":
				k, v, err := keyValue(trimmed)
				if err != nil {
					return h, fmt.Errorf("line %d: %w", i+1, err)
				}
				h.hints[k] = v
			}
			continue
		}
		block = nil
		k, v, err := keyValue(line)
		if err != nil {
			return h, fmt.Errorf("line %d: %w", i+1, err)
		}
		key = k
		var field *string
		switch k {
		case "version":
			if v != "" && v != "1" {
				return h, fmt.Errorf("line %d: version %q: only version 1 is supported", i+1, v)
			}
		case "name":
			field = &h.name
		case "description":
			field = &h.description
		case "author":
			field = &h.author
		case "hints":
			if v != "" && v != "{}" {
				return h, fmt.Errorf("line %d: hints: want an indented map", i+1)
			}
		}
		if isBlockScalar(v) {
			if field == nil {
				field = new(string) // an unknown field's block: read, dropped
			}
			*field = ""
			block, folded = field, v[0] == '>'
			continue
		}
		if field != nil {
			*field = v
		}
	}
	return h, nil
}

// isBlockScalar tells a YAML block scalar indicator (|, >, |-, >+ ...).
func isBlockScalar(v string) bool {
	if v == "" || (v[0] != '|' && v[0] != '>') {
		return false
	}
	return len(v) == 1 || (len(v) == 2 && (v[1] == '-' || v[1] == '+'))
}

func joinBlock(s, line string, folded bool) string {
	switch {
	case s == "":
		return line
	case folded:
		return s + " " + line
	default:
		return s + "\n" + line
	}
}

var errNotKeyValue = errors.New(`want "key: value"`)

// keyValue splits a "key: value" line and decodes its scalar value.
func keyValue(line string) (key, value string, err error) {
	i := strings.Index(line, ": ")
	switch {
	case i > 0:
		key, value = line[:i], strings.TrimSpace(line[i+2:])
	case strings.HasSuffix(line, ":") && len(line) > 1:
		key = line[:len(line)-1]
	default:
		return "", "", errNotKeyValue
	}
	if strings.HasPrefix(key, "- ") || strings.ContainsAny(key, "{}[]") {
		return "", "", errNotKeyValue
	}
	value, err = scalar(value)
	return key, value, err
}

// scalar decodes a YAML flow scalar: quoted or plain, with an optional
// " #" comment after it.
func scalar(v string) (string, error) {
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		return v, nil
	}
	end := closingQuote(v)
	if end < 0 {
		return "", fmt.Errorf("unterminated quoted value %s", v)
	}
	if rest := strings.TrimSpace(v[end+1:]); rest != "" && rest[0] != '#' {
		return "", fmt.Errorf("text after quoted value %s", v)
	}
	if v[0] == '\'' {
		return strings.ReplaceAll(v[1:end], "''", "'"), nil
	}
	s, err := strconv.Unquote(v[:end+1])
	if err != nil {
		return "", fmt.Errorf("bad double-quoted value %s", v)
	}
	return s, nil
}

// closingQuote returns the index of the quote closing v's first byte, or
// -1: a double-quoted value escapes with \, a single-quoted one doubles '.
func closingQuote(v string) int {
	q := v[0]
	for i := 1; i < len(v); i++ {
		switch {
		case q == '"' && v[i] == '\\':
			i++
		case v[i] != q:
		case q == '\'' && i+1 < len(v) && v[i+1] == '\'':
			i++
		default:
			return i
		}
	}
	return -1
}
