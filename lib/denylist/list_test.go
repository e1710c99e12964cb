package denylist_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/multiformats/go-multihash"
)

const goodRule = "/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768"

// errorLines lists the line numbers of errs.
func errorLines(errs []*denylist.LineError) string {
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	return fmt.Sprint(lines)
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		name, line string
		want       string // in the error
	}{
		{"not a rule", "ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768", "not a rule"},
		{"bad CID", "/ipfs/notacid", "CID"},
		{"bad CID with path", "/ipfs/bafynotacid/a*", "CID"},
		{"bad escape", "/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/a%zz", "path"},
		{"bad double-hash", "//not-a-hash", "double-hash"},
		{"short hex", "//d9d295bde21f422d", "double-hash"},
		{"identity double-hash", "//" + identityB58(t), "identity"},
		{"bad status", goodRule + " status:200", "status"},
		{"status not a number", goodRule + " status:gone", "status"},
		{"lone negation", "!", "not a rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := parse(t, "# list\n"+goodRule+"\n"+tt.line+"\n")
			if l.Invalid != 1 || len(l.Errors) != 1 || l.Rules != 1 {
				t.Fatalf("invalid %d, errors %v, rules %d: want one error, one rule", l.Invalid, l.Errors, l.Rules)
			}
			e := l.Errors[0]
			if e.Line != 3 || e.File != "test.deny" || !strings.Contains(e.Error(), tt.want) ||
				!strings.HasPrefix(e.Error(), "test.deny:3: ") {
				t.Errorf("error %q (line %d), want line 3 and %q", e, e.Line, tt.want)
			}
		})
	}
}

func identityB58(t *testing.T) string {
	mh, err := multihash.Sum([]byte("abc"), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	return mh.B58String()
}

func TestParseWarnings(t *testing.T) {
	l := parse(t, strings.Join([]string{
		goodRule,
		"/ipns/domain.example",
		"!/ipns/k51qzi5uqu5dhmzyv3zac033i7rl9hkgczxyl81lwoukda2htteop7d3x0y1mf/path",
		"/my/path*",
		"/ipld/bafybeihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq",
	}, "\n"))
	if l.Rules != 1 || l.Ignored != 4 || l.Invalid != 0 || errorLines(l.Warnings) != "[2 3 4 5]" {
		t.Errorf("rules %d, ignored %d, invalid %d, warnings %v", l.Rules, l.Ignored, l.Invalid, l.Warnings)
	}
	if !strings.Contains(l.Warnings[0].Error(), "/ipns/") || !strings.Contains(l.Warnings[2].Error(), "bare path") {
		t.Errorf("warnings: %v", l.Warnings)
	}
	// Ignored rules only: a list still, with nothing to apply.
	if l := parse(t, "/ipns/domain.example\n"); l.Ignored != 1 {
		t.Errorf("ignored %d, want 1", l.Ignored)
	}
}

func TestParseNoRules(t *testing.T) {
	for name, text := range map[string]string{
		"empty":           "",
		"comments":        "# a\n\n   \n# b\n",
		"header only":     "name: x\n---\n",
		"bad lines only":  "garbage\n/ipfs/notacid\n",
		"an HTML page":    "<html><body>Access Denied</body></html>\n",
		"one line, no LF": "/ipfs/x",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := denylist.Parse(strings.NewReader(text), "test.deny")
			if !errors.Is(err, denylist.ErrNoRules) {
				t.Fatalf("err = %v, want ErrNoRules", err)
			}
			if strings.Contains(text, "/ipfs/") && !strings.Contains(err.Error(), "test.deny:") {
				t.Errorf("err %q does not name the first bad line", err)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name, header string
		wantErr      bool
	}{
		{"just the separator", "---\n", false},
		{"version 1", "version: 1\n---\n", false},
		{"comments and quotes", "# c\nname: \"a \\\"b\\\"\" # not a comment\ndescription: plain # comment\n---\n", false},
		{"custom fields, nested", "x-custom:\n  - a\n  - b\nother: {a: 1}\n---\n", false},
		{"literal block", "description: |\n  one\n  two\n---\n", false},
		{"version 2", "version: 2\n---\n", true},
		{"not a mapping", "just text\n---\n", true},
		{"a list", "- a\n---\n", true},
		{"bad quote", "name: \"open\n---\n", true},
		{"hints not a map", "hints: 451\n---\n", true},
		{"bad status hint", "hints:\n  status: 302\n---\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := denylist.Parse(strings.NewReader(tt.header+goodRule+"\n"), "test.deny")
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, denylist.ErrHeader) {
				t.Errorf("err = %v, want ErrHeader", err)
			}
		})
	}
	l := parse(t, "name: \"a \\\"b\\\"\" # c\ndescription: |\n  one\n  two\n---\n"+goodRule+"\n")
	if l.Name != `a "b"` || l.Description != "one\ntwo" {
		t.Errorf("name %q, description %q", l.Name, l.Description)
	}
	// Line numbers count the header.
	l = parse(t, "name: x\n---\n"+goodRule+"\nbad\n")
	if errorLines(l.Errors) != "[4]" {
		t.Errorf("errors on lines %s, want [4]", errorLines(l.Errors))
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("long line skipped", func(t *testing.T) {
		long := "/ipfs/" + strings.Repeat("a", 1<<20)
		l, err := denylist.Parse(strings.NewReader(goodRule+"\n"+long+"\n"+goodRule+"/x\n"), "test.deny",
			denylist.WithMaxLineLength(100))
		if err != nil {
			t.Fatal(err)
		}
		if l.Rules != 2 || len(l.Errors) != 1 || l.Errors[0].Line != 2 || !errors.Is(l.Errors[0], denylist.ErrLineTooLong) {
			t.Errorf("rules %d, errors %v: want 2 rules and line 2 too long", l.Rules, l.Errors)
		}
	})
	t.Run("long last line without newline", func(t *testing.T) {
		l, err := denylist.Parse(strings.NewReader(goodRule+"\n"+strings.Repeat("b", 300)), "test.deny",
			denylist.WithMaxLineLength(100))
		if err != nil || errorLines(l.Errors) != "[2]" {
			t.Errorf("err %v, errors %v", err, l.Errors)
		}
	})
	t.Run("file too large", func(t *testing.T) {
		text := strings.Repeat(goodRule+"\n", 100)
		_, err := denylist.Parse(strings.NewReader(text), "test.deny", denylist.WithMaxFileSize(int64(len(text)-1)))
		if !errors.Is(err, denylist.ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge", err)
		}
		if _, err := denylist.Parse(strings.NewReader(text), "test.deny", denylist.WithMaxFileSize(int64(len(text)))); err != nil {
			t.Errorf("at the limit: %v", err)
		}
	})
	t.Run("errors reported are bounded", func(t *testing.T) {
		text := goodRule + "\n" + strings.Repeat("bad\n", 3*denylist.MaxReported)
		l := parse(t, text)
		if l.Invalid != 3*denylist.MaxReported || len(l.Errors) != denylist.MaxReported {
			t.Errorf("invalid %d, errors kept %d", l.Invalid, len(l.Errors))
		}
	})
	t.Run("no header in the first MiB", func(t *testing.T) {
		// Past MaxHeaderSize the list has no header: a later "---" is a bad line.
		comments := strings.Repeat("# "+strings.Repeat("c", 1000)+"\n", denylist.MaxHeaderSize/1000+1)
		l := parse(t, comments+goodRule+"\n---\n")
		n := strings.Count(comments, "\n")
		if l.Rules != 1 || errorLines(l.Errors) != fmt.Sprintf("[%d]", n+2) {
			t.Errorf("rules %d, errors %v", l.Rules, l.Errors)
		}
	})
	t.Run("hash functions bounded", func(t *testing.T) {
		var b strings.Builder
		for _, length := range []int{32, 31, 30, 29, 28} {
			mh, err := multihash.Sum([]byte("x"), multihash.SHA2_256, length)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("//" + mh.B58String() + "\n")
		}
		l := parse(t, b.String())
		if l.Rules != denylist.MaxHashFunctions || errorLines(l.Errors) != "[5]" {
			t.Errorf("rules %d, errors %v", l.Rules, l.Errors)
		}
	})
}

// TestParseAmbiguousDoubleHash: a 64-character string that is both a
// sha256 hex digest and a base58btc multihash must make both rules, says
// the spec. No such string is a multihash a double-hash can use (its first
// byte would be no usable hash function: here it decodes to an identity
// multihash of 45 bytes), so it stays a legacy rule and is no error.
func TestParseAmbiguousDoubleHash(t *testing.T) {
	const both = "161ef22bab44542ee69b365d3899ce222cc993422e857cce2d4b3576e7f34d3b"
	if _, err := multihash.FromB58String(both); err != nil {
		t.Fatalf("not a base58btc multihash: %v", err)
	}
	l := parse(t, "//"+both+"\n")
	if l.Rules != 1 || l.Invalid != 0 {
		t.Errorf("rules %d, errors %v: want the legacy rule", l.Rules, l.Errors)
	}
}

func TestParseByteOrderMark(t *testing.T) {
	l := parse(t, "\xef\xbb\xbfname: bom\n---\n"+goodRule+"\r\n")
	if l.Name != "bom" || l.Rules != 1 || l.Invalid != 0 {
		t.Errorf("name %q, rules %d, errors %v", l.Name, l.Rules, l.Errors)
	}
}
