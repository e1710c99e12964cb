package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

func mustParse(t *testing.T, target string, accept ...string) *Request {
	t.Helper()
	req, err := ParseRequest(newRequest("GET", target, accept...))
	if err != nil {
		t.Fatalf("ParseRequest(%s): %v", target, err)
	}
	return req
}

func TestSetHeadersRaw(t *testing.T) {
	req := mustParse(t, "/ipfs/"+rawBlockCID+"?format=raw")
	h := http.Header{}
	SetHeaders(h, req, nil)
	want := map[string]string{
		"Content-Type":           "application/vnd.ipld.raw",
		"Content-Disposition":    `attachment; filename="` + rawBlockCID + `.bin"`,
		"X-Content-Type-Options": "nosniff",
		"Etag":                   `"` + rawBlockCID + `.raw"`,
		"X-Ipfs-Path":            "/ipfs/" + rawBlockCID,
		"X-Ipfs-Roots":           rawBlockCID,
		"Cache-Control":          "public, max-age=29030400, immutable",
		"Vary":                   "Accept",
		"Accept-Ranges":          "bytes",
		"Content-Location":       "",
	}
	checkHeaders(t, h, want)
}

func TestSetHeadersCAR(t *testing.T) {
	root := cid.MustParse(dirCID)
	sub := cid.MustParse("bafybeietjm63oynimmv5yyqay33nui4y4wx6u3peezwetxgiwvfmelutzu")
	file := cid.MustParse(rawBlockCID)
	req := mustParse(t, "/ipfs/"+dirCID+"/subdir/multiblock.txt?format=car&car-dups=y")
	h := http.Header{}
	SetHeaders(h, req, []cid.Cid{root, sub, file})
	want := map[string]string{
		"Content-Type":           "application/vnd.ipld.car; version=1; order=dfs; dups=y",
		"Content-Disposition":    `attachment; filename="` + dirCID + `_multiblock.txt.car"`,
		"X-Content-Type-Options": "nosniff",
		"X-Ipfs-Path":            "/ipfs/" + dirCID + "/subdir/multiblock.txt",
		"X-Ipfs-Roots":           root.String() + "," + sub.String() + "," + file.String(),
		"Cache-Control":          immutableCacheControl,
		"Accept-Ranges":          "none",
		"Vary":                   "Accept",
		"Content-Location":       "",
	}
	checkHeaders(t, h, want)
	if e := h.Get("Etag"); !strings.HasPrefix(e, `W/"`+dirCID+`.car.`) || !strings.HasSuffix(e, `"`) {
		t.Errorf("Etag = %s", e)
	}
}

func checkHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		target string
		accept []string
		want   string
	}{
		{"/ipfs/" + rawBlockCID + "?format=raw", nil, "application/vnd.ipld.raw"},
		{"/ipfs/" + dirCID + "?format=car", nil, "application/vnd.ipld.car; version=1; order=dfs; dups=n"},
		{"/ipfs/" + dirCID, []string{"application/vnd.ipld.car; order=unk"}, "application/vnd.ipld.car; version=1; order=dfs; dups=n"},
		{"/ipfs/" + dirCID, []string{"application/vnd.ipld.car; dups=y"}, "application/vnd.ipld.car; version=1; order=dfs; dups=y"},
		{"/ipfs/" + dirCID + "?car-dups=n", []string{"application/vnd.ipld.car; dups=y"}, "application/vnd.ipld.car; version=1; order=dfs; dups=n"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.target, tt.accept...).ContentType(); got != tt.want {
			t.Errorf("%s %q: ContentType = %q, want %q", tt.target, tt.accept, got, tt.want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		target, want string
	}{
		{"/ipfs/" + rawBlockCID + "?format=raw", `attachment; filename="` + rawBlockCID + `.bin"`},
		{"/ipfs/" + v0CID + "?format=raw", `attachment; filename="` + v0CID + `.bin"`},
		{"/ipfs/" + dirCID + "?format=car", `attachment; filename="` + dirCID + `.car"`},
		{"/ipfs/" + dirCID + "/subdir/?format=car", `attachment; filename="` + dirCID + `_subdir.car"`},
		{"/ipfs/" + dirCID + "?format=car&filename=my.car", `attachment; filename="my.car"`},
		{"/ipfs/" + rawBlockCID + "?format=raw&filename=a%22b%5Cc.bin", `attachment; filename="a\"b\\c.bin"`},
		{"/ipfs/" + rawBlockCID + "?format=raw&filename=a%0Ab", `attachment; filename="a_b"`},
		{"/ipfs/" + rawBlockCID + "?format=raw&filename=%C5%BC%C3%B3%C5%82w%20b.bin",
			`attachment; filename="___w b.bin"; filename*=UTF-8''%C5%BC%C3%B3%C5%82w%20b.bin`},
		{"/ipfs/" + rawBlockCID + "?format=raw&filename=%FF.bin",
			`attachment; filename="_.bin"`},
	}
	for _, tt := range tests {
		if got := contentDisposition(mustParse(t, tt.target).DownloadName()); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.target, got, tt.want)
		}
	}
}

func TestIpfsPath(t *testing.T) {
	tests := []struct{ target, want string }{
		{"/ipfs/" + v0CID + "?format=car", "/ipfs/" + v0CID},
		{"/ipfs/" + dirCID + "/a%20b/c/?format=car", "/ipfs/" + dirCID + "/a b/c/"},
		{"/ipfs/" + dirCID + "/%C4%85?format=car", "/ipfs/" + dirCID + "/ą"},
		{"/ipfs/" + dirCID + "/a%0Ab?format=car", "/ipfs/" + dirCID + "/a%0Ab"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.target).IpfsPath(); got != tt.want {
			t.Errorf("%s: X-Ipfs-Path %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestContentLocation(t *testing.T) {
	tests := []struct {
		target string
		accept []string
		want   string
	}{
		{"/ipfs/" + rawBlockCID + "?format=raw", nil, ""},
		{"/ipfs/" + rawBlockCID, []string{rawAccept}, "/ipfs/" + rawBlockCID + "?format=raw"},
		{"/ipfs/" + dirCID + "/a%20b?dag-scope=entity", []string{"application/vnd.ipld.car; dups=y"},
			"/ipfs/" + dirCID + "/a%20b?car-dups=y&dag-scope=entity&format=car"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.target, tt.accept...).ContentLocation(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestEtag(t *testing.T) {
	if got := mustParse(t, "/ipfs/"+rawBlockCID+"?format=raw").Etag(); got != `"`+rawBlockCID+`.raw"` {
		t.Errorf("raw Etag = %s", got)
	}
	if got := mustParse(t, "/ipfs/"+v0CID+"?format=raw").Etag(); got != `"`+v0CID+`.raw"` {
		t.Errorf("CIDv0 raw Etag = %s", got)
	}
	base := "/ipfs/" + dirCID
	// Requests that send different blocks must have different Etags.
	distinct := []string{
		base + "?format=car",
		base + "/subdir?format=car",
		base + "/subdir/multiblock.txt?format=car",
		base + "/subdir%2Fmultiblock.txt?format=car",
		base + "/subdirmultiblock.txt?format=car",
		base + "?format=car&dag-scope=block",
		base + "?format=car&dag-scope=entity",
		base + "?format=car&car-dups=y",
		base + "?format=car&dag-scope=entity&entity-bytes=0:10",
		base + "?format=car&dag-scope=entity&entity-bytes=0:11",
		base + "?format=car&dag-scope=entity&entity-bytes=-10:*",
		base + "?format=raw",
		"/ipfs/" + rawBlockCID + "?format=car",
	}
	seen := map[string]string{}
	for _, target := range distinct {
		e := mustParse(t, target).Etag()
		if prev, ok := seen[e]; ok {
			t.Errorf("%s and %s share Etag %s", prev, target, e)
		}
		seen[e] = target
	}
	// Requests answered with the same bytes share an Etag.
	same := [][]string{
		{base + "?format=car", base + "/?format=car", base + "?format=car&dag-scope=all",
			base + "?format=car&car-order=unk", base + "?format=car&car-dups=n&car-version=1",
			base + "?format=car&dag-scope=all&entity-bytes=0:10"},
		{base + "?format=car&dag-scope=entity", base + "?format=car&entity-bytes=0:*"},
		{"/ipfs/" + mustEncode(t, dirCID, 'k') + "?format=car", base + "?format=car"},
	}
	for _, group := range same {
		want := mustParse(t, group[0]).Etag()
		for _, target := range group[1:] {
			if got := mustParse(t, target).Etag(); got != want {
				t.Errorf("%s: Etag %s, want %s as %s", target, got, want, group[0])
			}
		}
	}
}

func TestNotModified(t *testing.T) {
	raw := `"` + rawBlockCID + `.raw"`
	car := `W/"` + dirCID + `.car.abc"`
	tests := []struct {
		name        string
		ifNoneMatch []string
		etag        string
		want        bool
	}{
		{"absent", nil, raw, false},
		{"exact", []string{raw}, raw, true},
		{"star", []string{"*"}, raw, true},
		{"weak request, strong etag", []string{"W/" + raw}, raw, true},
		{"strong request, weak etag", []string{strings.TrimPrefix(car, "W/")}, car, true},
		{"weak both", []string{car}, car, true},
		{"list", []string{`"a", ` + raw + `, "b"`}, raw, true},
		{"list no spaces", []string{`"a",` + raw}, raw, true},
		{"two header lines", []string{`"a"`, raw}, raw, true},
		{"other", []string{`"a", "b"`}, raw, false},
		{"unquoted", []string{rawBlockCID + ".raw"}, raw, false},
		{"malformed stops", []string{`"a", bad, ` + raw}, raw, false},
		{"empty", []string{""}, raw, false},
		{"prefix only", []string{`"` + rawBlockCID + `"`}, raw, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ipfs/"+rawBlockCID, nil)
			for _, v := range tt.ifNoneMatch {
				r.Header.Add("If-None-Match", v)
			}
			if got := notModified(r, tt.etag); got != tt.want {
				t.Errorf("NotModified = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWriteNotModified(t *testing.T) {
	req := mustParse(t, "/ipfs/"+rawBlockCID+"?format=raw")
	w := httptest.NewRecorder()
	SetHeaders(w.Header(), req, nil)
	w.Header().Set("Content-Length", "10")
	writeNotModified(w)
	if w.Code != http.StatusNotModified {
		t.Fatalf("status %d", w.Code)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Disposition"} {
		if v := w.Header().Get(k); v != "" {
			t.Errorf("%s kept on 304: %q", k, v)
		}
	}
	for _, k := range []string{"Etag", "Cache-Control", "Vary"} {
		if w.Header().Get(k) == "" {
			t.Errorf("%s dropped on 304", k)
		}
	}
}
