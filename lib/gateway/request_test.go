package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

const (
	rawBlockCID = "bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly"
	dirCID      = "bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu"
	v0CID       = "QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk"
	emptyIDCID  = "bafkqaaa"
	carAccept   = "application/vnd.ipld.car"
	rawAccept   = "application/vnd.ipld.raw"
)

func newRequest(method, target string, accept ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, a := range accept {
		r.Header.Add("Accept", a)
	}
	return r
}

func mustEncode(t *testing.T, s string, base multibase.Encoding) string {
	t.Helper()
	c, err := cid.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StringOfBase(base)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// want is the part of a Request a test case checks.
type want struct {
	root      string // CID string (canonical); "" means the URL's
	format    Format
	fromQuery bool
	segments  []string
	trailing  bool
	car       CarParams
	filename  string
}

func TestParseRequest(t *testing.T) {
	base36 := mustEncode(t, rawBlockCID, multibase.Base36)
	upper := mustEncode(t, rawBlockCID, multibase.Base32Upper)
	b58 := mustEncode(t, rawBlockCID, multibase.Base58BTC)
	all := CarParams{Scope: ScopeAll}
	tests := []struct {
		name   string
		method string
		target string
		accept []string
		want   want
	}{
		{"raw via format", "GET", "/ipfs/" + rawBlockCID + "?format=raw", nil,
			want{format: FormatRaw, fromQuery: true}},
		{"raw via Accept", "GET", "/ipfs/" + rawBlockCID, []string{rawAccept},
			want{format: FormatRaw}},
		{"HEAD raw", "HEAD", "/ipfs/" + rawBlockCID + "?format=raw", nil,
			want{format: FormatRaw, fromQuery: true}},
		{"raw trailing slash", "GET", "/ipfs/" + rawBlockCID + "/", []string{rawAccept},
			want{format: FormatRaw, trailing: true}},
		{"car via format", "GET", "/ipfs/" + dirCID + "?format=car", nil,
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"car via Accept", "GET", "/ipfs/" + dirCID, []string{carAccept},
			want{format: FormatCAR, car: all}},
		{"CIDv0", "GET", "/ipfs/" + v0CID + "?format=car", nil,
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"base36", "GET", "/ipfs/" + base36 + "?format=raw", nil,
			want{root: rawBlockCID, format: FormatRaw, fromQuery: true}},
		{"base32 upper", "GET", "/ipfs/" + upper + "?format=raw", nil,
			want{root: rawBlockCID, format: FormatRaw, fromQuery: true}},
		{"base58btc CIDv1", "GET", "/ipfs/" + b58 + "?format=raw", nil,
			want{root: rawBlockCID, format: FormatRaw, fromQuery: true}},
		{"identity CID", "GET", "/ipfs/" + emptyIDCID + "?format=raw", nil,
			want{format: FormatRaw, fromQuery: true}},
		{"path segments", "GET", "/ipfs/" + dirCID + "/subdir/multiblock.txt?format=car", nil,
			want{format: FormatCAR, fromQuery: true, segments: []string{"subdir", "multiblock.txt"}, car: all}},
		{"path trailing slash", "GET", "/ipfs/" + dirCID + "/subdir/?format=car", nil,
			want{format: FormatCAR, fromQuery: true, segments: []string{"subdir"}, trailing: true, car: all}},
		{"escaped segments", "GET", "/ipfs/" + dirCID + "/%C4%85/%C4%99%20x%2Fy?format=car", nil,
			want{format: FormatCAR, fromQuery: true, segments: []string{"ą", "ę x/y"}, car: all}},
		{"format beats Accept", "GET", "/ipfs/" + rawBlockCID + "?format=raw", []string{carAccept},
			want{format: FormatRaw, fromQuery: true}},
		{"format car beats Accept raw", "GET", "/ipfs/" + dirCID + "?format=car", []string{rawAccept},
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"format car takes Accept car params", "GET", "/ipfs/" + dirCID + "?format=car",
			[]string{"application/vnd.ipld.car; version=1; order=dfs; dups=y"},
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeAll, Dups: true}}},
		{"format car ignores unsupported Accept car variant", "GET", "/ipfs/" + dirCID + "?format=car",
			[]string{"application/vnd.ipld.car; version=2; dups=y"},
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"empty format falls back to Accept", "GET", "/ipfs/" + rawBlockCID + "?format=", []string{rawAccept},
			want{format: FormatRaw}},
		{"Accept car params", "GET", "/ipfs/" + dirCID,
			[]string{"application/vnd.ipld.car; version=1; order=dfs; dups=y"},
			want{format: FormatCAR, car: CarParams{Scope: ScopeAll, Dups: true}}},
		{"Accept order=unk answered dfs", "GET", "/ipfs/" + dirCID,
			[]string{"application/vnd.ipld.car;order=unk;dups=n"},
			want{format: FormatCAR, car: all}},
		{"Accept list, car first", "GET", "/ipfs/" + rawBlockCID,
			[]string{"application/vnd.ipld.car; version=1; order=dfs, application/vnd.ipld.raw;q=0.5"},
			want{format: FormatCAR, car: all}},
		{"Accept q prefers raw", "GET", "/ipfs/" + rawBlockCID,
			[]string{"application/vnd.ipld.car;q=0.4, application/vnd.ipld.raw;q=0.5"},
			want{format: FormatRaw}},
		{"Accept equal q, first wins", "GET", "/ipfs/" + rawBlockCID,
			[]string{"application/vnd.ipld.raw, application/vnd.ipld.car"},
			want{format: FormatRaw}},
		{"Accept q=0 refuses", "GET", "/ipfs/" + rawBlockCID,
			[]string{"application/vnd.ipld.raw;q=0, application/vnd.ipld.car;q=0.1"},
			want{format: FormatCAR, car: all}},
		{"Accept unsupported variant falls back", "GET", "/ipfs/" + dirCID,
			[]string{"application/vnd.ipld.car;order=foo, application/vnd.ipld.car;order=dfs;dups=y;q=0.5"},
			want{format: FormatCAR, car: CarParams{Scope: ScopeAll, Dups: true}}},
		{"Accept version=2 falls back to raw", "GET", "/ipfs/" + rawBlockCID,
			[]string{"application/vnd.ipld.car;version=2, application/vnd.ipld.raw;q=0.1"},
			want{format: FormatRaw}},
		{"Accept browser list with raw", "GET", "/ipfs/" + rawBlockCID,
			[]string{"text/html,application/xhtml+xml,application/vnd.ipld.raw;q=0.9,*/*;q=0.8"},
			want{format: FormatRaw}},
		{"Accept several header lines", "GET", "/ipfs/" + rawBlockCID,
			[]string{"text/html", "application/vnd.ipld.raw"},
			want{format: FormatRaw}},
		{"Accept case-insensitive type", "GET", "/ipfs/" + rawBlockCID,
			[]string{"Application/Vnd.IPLD.Raw"},
			want{format: FormatRaw}},
		{"Accept quoted comma", "GET", "/ipfs/" + dirCID,
			[]string{`application/vnd.ipld.car; x="a,b"; dups=y`},
			want{format: FormatCAR, car: CarParams{Scope: ScopeAll, Dups: true}}},
		{"Accept raw skipped for path, car chosen", "GET", "/ipfs/" + dirCID + "/subdir",
			[]string{"application/vnd.ipld.raw, application/vnd.ipld.car;q=0.5"},
			want{format: FormatCAR, segments: []string{"subdir"}, car: all}},
		{"car-dups query beats Accept", "GET", "/ipfs/" + dirCID + "?car-dups=n",
			[]string{"application/vnd.ipld.car; dups=y"},
			want{format: FormatCAR, car: all}},
		{"car-dups=y", "GET", "/ipfs/" + dirCID + "?format=car&car-dups=y", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeAll, Dups: true}}},
		{"car-order and car-version", "GET", "/ipfs/" + dirCID + "?format=car&car-order=unk&car-version=1", nil,
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"car-order query beats Accept", "GET", "/ipfs/" + dirCID + "?car-order=dfs",
			[]string{"application/vnd.ipld.car; order=unk"},
			want{format: FormatCAR, car: all}},
		{"dag-scope=block", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=block", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeBlock}}},
		{"dag-scope=entity", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=entity", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeEntity}}},
		{"dag-scope=all", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=all", nil,
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"entity-bytes with entity", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=entity&entity-bytes=0:1023", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeEntity, EntityBytes: &EntityBytes{From: 0, To: 1023}}}},
		{"entity-bytes implies entity", "GET", "/ipfs/" + dirCID + "?format=car&entity-bytes=-1024:*", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeEntity, EntityBytes: &EntityBytes{From: -1024, ToEnd: true}}}},
		{"entity-bytes mixed signs", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=entity&entity-bytes=499:-1000", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeEntity, EntityBytes: &EntityBytes{From: 499, To: -1000}}}},
		{"entity-bytes dropped under dag-scope=all", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=all&entity-bytes=0:10", nil,
			want{format: FormatCAR, fromQuery: true, car: all}},
		{"entity-bytes dropped under dag-scope=block", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=block&entity-bytes=0:10", nil,
			want{format: FormatCAR, fromQuery: true, car: CarParams{Scope: ScopeBlock}}},
		{"CAR params ignored on raw", "GET", "/ipfs/" + rawBlockCID + "?format=raw&dag-scope=bogus&car-version=9&entity-bytes=x", nil,
			want{format: FormatRaw, fromQuery: true}},
		{"filename", "GET", "/ipfs/" + rawBlockCID + "?format=raw&filename=a%20%22b%22.bin", nil,
			want{format: FormatRaw, fromQuery: true, filename: `a "b".bin`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(newRequest(tt.method, tt.target, tt.accept...))
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			w := tt.want
			if w.root == "" {
				w.root = got.RootText
			}
			if got.Root.String() != mustCanonical(t, w.root) {
				t.Errorf("Root = %s, want %s", got.Root, w.root)
			}
			if got.Method != tt.method {
				t.Errorf("Method = %s", got.Method)
			}
			if got.Format != w.format || got.FormatFromQuery != w.fromQuery {
				t.Errorf("Format = %v (query %v), want %v (query %v)", got.Format, got.FormatFromQuery, w.format, w.fromQuery)
			}
			if !reflect.DeepEqual(got.Segments, w.segments) || got.TrailingSlash != w.trailing {
				t.Errorf("Segments = %q trailing %v, want %q trailing %v", got.Segments, got.TrailingSlash, w.segments, w.trailing)
			}
			if !reflect.DeepEqual(got.Car, w.car) {
				t.Errorf("Car = %+v (bytes %+v), want %+v (bytes %+v)", got.Car, got.Car.EntityBytes, w.car, w.car.EntityBytes)
			}
			if got.Filename != w.filename {
				t.Errorf("Filename = %q, want %q", got.Filename, w.filename)
			}
		})
	}
}

func mustCanonical(t *testing.T, s string) string {
	t.Helper()
	c, err := cid.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		target   string
		accept   []string
		status   int
		sentinel error
	}{
		{"POST", "POST", "/ipfs/" + rawBlockCID + "?format=raw", nil, 405, ErrMethodNotAllowed},
		{"PUT", "PUT", "/ipfs/" + rawBlockCID + "?format=raw", nil, 405, ErrMethodNotAllowed},
		{"OPTIONS", "OPTIONS", "/ipfs/" + rawBlockCID, nil, 405, ErrMethodNotAllowed},
		{"not /ipfs/", "GET", "/favicon.ico", []string{rawAccept}, 404, ErrNotFound},
		{"ipns", "GET", "/ipns/example.com?format=car", nil, 404, ErrNotFound},
		{"root", "GET", "/", []string{rawAccept}, 404, ErrNotFound},
		{"no CID", "GET", "/ipfs/?format=raw", nil, 400, ErrBadRequest},
		{"bare /ipfs", "GET", "/ipfs?format=raw", nil, 400, ErrBadRequest},
		{"no CID slash", "GET", "/ipfs//?format=raw", nil, 400, ErrBadRequest},
		{"bad CID", "GET", "/ipfs/not-a-cid?format=raw", nil, 400, ErrBadRequest},
		{"truncated CID", "GET", "/ipfs/" + rawBlockCID[:20] + "?format=raw", nil, 400, ErrBadRequest},
		{"empty segment", "GET", "/ipfs/" + dirCID + "//a?format=car", nil, 400, ErrBadRequest},
		{"dot segment", "GET", "/ipfs/" + dirCID + "/./a?format=car", nil, 400, ErrBadRequest},
		{"dotdot segment", "GET", "/ipfs/" + dirCID + "/a/..?format=car", nil, 400, ErrBadRequest},
		{"escaped dotdot", "GET", "/ipfs/" + dirCID + "/%2E%2E?format=car", nil, 400, ErrBadRequest},
		{"no format, no Accept", "GET", "/ipfs/" + rawBlockCID, nil, 400, ErrBadRequest},
		{"Accept */*", "GET", "/ipfs/" + rawBlockCID, []string{"*/*"}, 406, ErrNotAcceptable},
		{"Accept text/html", "GET", "/ipfs/" + rawBlockCID, []string{"text/html"}, 406, ErrNotAcceptable},
		{"Accept dag-json", "GET", "/ipfs/" + rawBlockCID, []string{"application/vnd.ipld.dag-json"}, 406, ErrNotAcceptable},
		{"Accept car version=2", "GET", "/ipfs/" + dirCID, []string{"application/vnd.ipld.car; version=2"}, 406, ErrNotAcceptable},
		{"Accept car order=foo", "GET", "/ipfs/" + dirCID, []string{"application/vnd.ipld.car; order=foo"}, 406, ErrNotAcceptable},
		{"Accept car dups=maybe", "GET", "/ipfs/" + dirCID, []string{"application/vnd.ipld.car; dups=maybe"}, 406, ErrNotAcceptable},
		{"Accept raw q=0", "GET", "/ipfs/" + rawBlockCID, []string{"application/vnd.ipld.raw;q=0"}, 406, ErrNotAcceptable},
		{"Accept malformed q", "GET", "/ipfs/" + rawBlockCID, []string{"application/vnd.ipld.raw;q=2"}, 406, ErrNotAcceptable},
		{"Accept malformed", "GET", "/ipfs/" + rawBlockCID, []string{"application/vnd.ipld.raw;;=="}, 406, ErrNotAcceptable},
		{"format=dag-json", "GET", "/ipfs/" + rawBlockCID + "?format=dag-json", nil, 406, ErrNotAcceptable},
		{"format=tar", "GET", "/ipfs/" + rawBlockCID + "?format=tar", []string{rawAccept}, 406, ErrNotAcceptable},
		{"format=bogus", "GET", "/ipfs/" + rawBlockCID + "?format=bogus", nil, 406, ErrNotAcceptable},
		{"format=raw with path", "GET", "/ipfs/" + dirCID + "/subdir?format=raw", nil, 406, ErrNotAcceptable},
		{"Accept raw with path", "GET", "/ipfs/" + dirCID + "/subdir", []string{rawAccept}, 406, ErrNotAcceptable},
		{"car-version=2", "GET", "/ipfs/" + dirCID + "?format=car&car-version=2", nil, 406, ErrNotAcceptable},
		{"car-version=2 beats Accept", "GET", "/ipfs/" + dirCID + "?car-version=2", []string{"application/vnd.ipld.car; version=1"}, 406, ErrNotAcceptable},
		{"car-order=foo", "GET", "/ipfs/" + dirCID + "?format=car&car-order=foo", nil, 406, ErrNotAcceptable},
		{"car-dups=x", "GET", "/ipfs/" + dirCID + "?format=car&car-dups=x", nil, 400, ErrBadRequest},
		{"dag-scope=bogus", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=bogus", nil, 400, ErrBadRequest},
		{"entity-bytes no colon", "GET", "/ipfs/" + dirCID + "?format=car&entity-bytes=10", nil, 400, ErrBadRequest},
		{"entity-bytes empty", "GET", "/ipfs/" + dirCID + "?format=car&entity-bytes=", nil, 400, ErrBadRequest},
		{"entity-bytes from after to", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=entity&entity-bytes=10:5", nil, 400, ErrBadRequest},
		{"entity-bytes star from", "GET", "/ipfs/" + dirCID + "?format=car&entity-bytes=*:5", nil, 400, ErrBadRequest},
		{"entity-bytes invalid even under all", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=all&entity-bytes=a:b", nil, 400, ErrBadRequest},
		{"semicolon in a pair", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=block;x", nil, 400, ErrBadRequest},
		{"bad escape in a value", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=%zz", nil, 400, ErrBadRequest},
		{"bad escape in a key", "GET", "/ipfs/" + dirCID + "?format=car&%zz=1", nil, 400, ErrBadRequest},
		{"conflicting dag-scope", "GET", "/ipfs/" + dirCID + "?format=car&dag-scope=block&dag-scope=all", nil, 400, ErrBadRequest},
		{"conflicting format", "GET", "/ipfs/" + dirCID + "?format=car&format=raw", nil, 400, ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(newRequest(tt.method, tt.target, tt.accept...))
			if err == nil {
				t.Fatalf("ParseRequest = %+v, want error", got)
			}
			var reqErr *RequestError
			if !errors.As(err, &reqErr) {
				t.Fatalf("error %v is not a *RequestError", err)
			}
			if reqErr.Status != tt.status || !errors.Is(err, tt.sentinel) {
				t.Errorf("status %d (%v), want %d (%v)", reqErr.Status, err, tt.status, tt.sentinel)
			}
			if status, msg := ErrorStatus(err); status != tt.status || msg == "" {
				t.Errorf("ErrorStatus = %d %q", status, msg)
			}
		})
	}
}

// Malformed query strings are refused naming the parameter.
func TestParseQueryNamesParameter(t *testing.T) {
	for query, want := range map[string]string{
		"format=car&dag-scope=block;x":     `query parameter "dag-scope": ';'`,
		"format=car&dag-scope=%zz":         `query parameter "dag-scope": invalid escape`,
		"format=car&%zz=1":                 `query parameter "%zz": invalid escape`,
		"format=car&car-dups=y&car-dups=n": `query parameter "car-dups" is given twice`,
		"format=car&entity-bytes=0:1;y":    `query parameter "entity-bytes"`,
	} {
		_, err := ParseRequest(newRequest("GET", "/ipfs/"+dirCID+"?"+query))
		var reqErr *RequestError
		if !errors.As(err, &reqErr) || reqErr.Status != 400 || !strings.HasPrefix(reqErr.Message, want) {
			t.Errorf("?%s: %v, want 400 starting %q", query, err, want)
		}
	}
}

// A repeated parameter with the same value is not a conflict, and other
// parameters are free-form.
func TestParseQueryRepeats(t *testing.T) {
	req, err := ParseRequest(newRequest("GET", "/ipfs/"+dirCID+"?format=car&dag-scope=block&dag-scope=block&filename=a%3Bb&x=1&x=2"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Car.Scope != ScopeBlock || req.Filename != "a;b" {
		t.Fatalf("scope %q filename %q", req.Car.Scope, req.Filename)
	}
}

func TestRequestIdentity(t *testing.T) {
	req, err := ParseRequest(newRequest("GET", "/ipfs/"+emptyIDCID+"?format=raw"))
	if err != nil {
		t.Fatal(err)
	}
	data, ok := req.Identity()
	if !ok || len(data) != 0 {
		t.Errorf("Identity() = %q, %v; want empty, true", data, ok)
	}
	c := cid.NewCidV1(cid.Raw, mustIdentity(t, "hello"))
	req, err = ParseRequest(newRequest("GET", "/ipfs/"+c.String()+"?format=raw"))
	if err != nil {
		t.Fatal(err)
	}
	if data, ok := req.Identity(); !ok || string(data) != "hello" {
		t.Errorf("Identity() = %q, %v", data, ok)
	}
	req, err = ParseRequest(newRequest("GET", "/ipfs/"+rawBlockCID+"?format=raw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := req.Identity(); ok {
		t.Error("sha2-256 CID reported as identity")
	}
}

func mustIdentity(t *testing.T, s string) multihash.Multihash {
	t.Helper()
	mh, err := multihash.Sum([]byte(s), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	return mh
}
