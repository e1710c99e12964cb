package heal_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/heal"
)

const (
	rootCID = "bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu"
	leafCID = "bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4"
	v0CID   = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
	b36CID  = "k2jmtxtydncknxpmykm98o1pdfnnzn50jftp5hya8dee2odszh8qi8j9"
)

func TestPath(t *testing.T) {
	long := "/ipfs/" + rootCID + "/" + strings.Repeat("a", 5000)
	tests := []struct {
		path, want string
	}{
		{"/ipfs/" + rootCID, "/ipfs/" + rootCID + "*"},
		{"/ipfs/" + leafCID, "/ipfs/" + leafCID + "*"},
		{"/ipfs/" + v0CID, "/ipfs/" + v0CID + "*"},
		{"/ipfs/" + b36CID + "/x", "/ipfs/" + b36CID + "/x*"},
		{"/ipfs/" + rootCID + "/", "/ipfs/" + rootCID + "/*"},
		{"/ipfs/" + rootCID + "/dir/file-1_2.txt", "/ipfs/" + rootCID + "/dir/file-1_2.txt*"},
		// Cut at the first byte CloudFront wants encoded (or that a viewer
		// may have encoded): the * covers every spelling of the rest.
		{"/ipfs/" + rootCID + "/dir/ünï.txt", "/ipfs/" + rootCID + "/dir/*"},
		{"/ipfs/" + rootCID + "/a b", "/ipfs/" + rootCID + "/a*"},
		{"/ipfs/" + rootCID + "/a%20b", "/ipfs/" + rootCID + "/a*"},
		{"/ipfs/" + rootCID + "/a*b", "/ipfs/" + rootCID + "/a*"},
		{"/ipfs/" + rootCID + "/a?x=1", "/ipfs/" + rootCID + "/a*"},
		{"/ipfs/" + rootCID + "/a#x", "/ipfs/" + rootCID + "/a*"},
		{"/ipfs/" + rootCID + "/a~b", "/ipfs/" + rootCID + "/a*"},
		// The gateway clips a long path with "…".
		{"/ipfs/" + rootCID + "/abc…", "/ipfs/" + rootCID + "/abc*"},
		{"/ipfs/" + rootCID + "/../x", "/ipfs/" + rootCID + "/../x*"},
		{long, long[:heal.MaxPathBytes-1] + "*"},
	}
	for _, tt := range tests {
		got, err := heal.Path(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("Path(%.80q) = %.80q, %v; want %.80q", tt.path, got, err, tt.want)
		}
		if len(got) > heal.MaxPathBytes {
			t.Errorf("Path(%.80q) is %d bytes", tt.path, len(got))
		}
	}
}

// Nothing but /ipfs/<a CID that parses> is healed: a hostile line cannot
// make an invalidation wider than one CID.
func TestPathRefused(t *testing.T) {
	for _, p := range []string{
		"", "/", "/*", "/ipfs", "/ipfs/", "/ipfs/*", "/ipfs//x", "/ipns/" + rootCID, "ipfs/" + rootCID,
		"/IPFS/" + rootCID, "/ipfs/b*", "/ipfs/b", "/ipfs/hello", "/ipfs/" + rootCID[:20],
		"/ipfs/ " + rootCID, "/ipfs/%62" + rootCID[1:], "/ipfs/" + rootCID + "é",
		"/ipfs/" + strings.Repeat("b", 300), "/ipfs/" + rootCID + "*",
	} {
		if got, err := heal.Path(p); !errors.Is(err, heal.ErrNotHealable) {
			t.Errorf("Path(%.80q) = %q, %v; want ErrNotHealable", p, got, err)
		}
	}
}

func TestCoalesce(t *testing.T) {
	a := "/ipfs/" + rootCID
	tests := []struct {
		name     string
		in, want []string
	}{
		{"none", nil, []string{}},
		{"repeats", []string{a + "*", "/ipfs/" + leafCID + "*", a + "*"}, []string{a + "*", "/ipfs/" + leafCID + "*"}},
		{"one CID, several paths", []string{a + "/x*", "/ipfs/" + leafCID + "*", a + "/y*", a + "/x*"}, []string{a + "*", "/ipfs/" + leafCID + "*"}},
		{"root and below", []string{a + "*", a + "/y*"}, []string{a + "*"}},
	}
	for _, tt := range tests {
		got := heal.Coalesce(tt.in)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") || got == nil {
			t.Errorf("%s: Coalesce(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
