package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// cfRequest is one viewer request given to the function.
type cfRequest struct {
	Method string   `json:"method"`
	URI    string   `json:"uri"`
	Query  string   `json:"query"`
	Accept []string `json:"accept"` // nil: no Accept header
}

// cfResult is what the function did: answered (Status, Body, with
// CacheControl) or passed the request on with Query and Accept ("" with
// NoAccept when removed). Lookups are the edge denylist keys it read.
type cfResult struct {
	Status       int      `json:"status"`
	Body         string   `json:"body"`
	CacheControl string   `json:"cacheControl"`
	Query        string   `json:"query"`
	Accept       string   `json:"accept"`
	NoAccept     bool     `json:"noAccept"`
	Lookups      []string `json:"lookups"`
	Error        string   `json:"error"`
}

// cfKVS is the edge denylist the emulated runtime gives the function:
// Data by key; a get of a key in Errors fails as a store that cannot be
// read would; None: no store is associated (cf.kvs() throws).
type cfKVS struct {
	Data   map[string]string `json:"data"`
	Errors []string          `json:"errors"`
	None   bool              `json:"-"`
}

// cfModule emulates the runtime's cloudfront module as far as the
// function uses it: cf.kvs() (throws without an associated store) and its
// get(key), which resolves to the value and rejects when the key is not
// there (functions-custom-methods: "The get() method will return an error
// when the key that you requested doesn't exist") or the read fails.
const cfModule = `
export default {
  kvs() {
    if (process.env.CF_KVS === 'none') throw new Error('no key value store is associated with this function');
    return {
      async get(key, options) {
        const st = globalThis.__kvs;
        st.lookups.push(key);
        if (st.errors.includes(key)) throw new Error('KeyValueStore read failed');
        if (!Object.prototype.hasOwnProperty.call(st.data, key)) throw new Error('Key not found: ' + key);
        return st.data[key];
      }
    };
  }
};
`

// cfHarness builds the CloudFront event (headers lowercased, multiValue
// for repeated headers, rawQueryString() of runtime 2.0) for each request
// read from stdin, awaits handler and prints what it returned. It is
// appended to the function's code, one ES module: its names start with
// __ so as not to meet the minified ones.
const cfHarness = `
import * as __fs from 'node:fs';
const __in = JSON.parse(__fs.readFileSync(0, 'utf8'));
globalThis.__kvs = { data: __in.kvs.data || {}, errors: __in.kvs.errors || [], lookups: [] };
const __out = [];
for (const r of __in.requests) {
  globalThis.__kvs.lookups = [];
  const headers = {};
  if (r.accept) {
    headers.accept = { value: r.accept[0] };
    if (r.accept.length > 1) headers.accept.multiValue = r.accept.map(function (v) { return { value: v }; });
  }
  const req = { method: r.method, uri: r.uri, headers: headers, querystring: {}, cookies: {},
    rawQueryString: function () { return r.query; } };
  let o;
  try {
    const res = await handler({ version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '127.0.0.1' }, request: req });
    if (res.statusCode) {
      const cc = res.headers['cache-control'];
      o = { status: res.statusCode, body: res.body.data, cacheControl: cc ? cc.value : '' };
    } else if (typeof res.querystring !== 'string') {
      o = { error: 'querystring is not a string' };
    } else {
      const a = res.headers.accept;
      o = { query: res.querystring, accept: a ? a.value : '', noAccept: !a };
    }
  } catch (e) {
    o = { error: String(e && e.stack || e) };
  }
  o.lookups = globalThis.__kvs.lookups;
  __out.push(o);
}
process.stdout.write(JSON.stringify(__out));
`

// runCacheKeyFunction runs code (from the template) on reqs with Node and
// an empty edge denylist.
func runCacheKeyFunction(t *testing.T, code string, reqs []cfRequest) []cfResult {
	t.Helper()
	return runCacheKeyFunctionKVS(t, code, reqs, cfKVS{})
}

// runCacheKeyFunctionKVS runs code on reqs as an ES module beside the
// emulated cloudfront module, with kvs as the edge denylist.
func runCacheKeyFunctionKVS(t *testing.T, code string, reqs []cfRequest, kvs cfKVS) []cfResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node not on PATH in CI: %v (run make tools)", err)
		}
		t.Skipf("node not on PATH (run make tools): %v", err)
	}
	dir := t.TempDir()
	mod := filepath.Join(dir, "node_modules", "cloudfront")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		filepath.Join(mod, "package.json"): `{"name":"cloudfront","type":"module","main":"index.js"}`,
		filepath.Join(mod, "index.js"):     cfModule,
		filepath.Join(dir, "cachekey.mjs"): code + "\n" + cfHarness,
	} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in, err := json.Marshal(map[string]interface{}{"requests": reqs, "kvs": kvs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "cachekey.mjs"))
	cmd.Env = append(os.Environ(), "CF_KVS=")
	if kvs.None {
		cmd.Env = append(cmd.Env, "CF_KVS=none")
	}
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	var res []cfResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("harness output: %v\n%s", err, out)
	}
	if len(res) != len(reqs) {
		t.Fatalf("%d results for %d requests", len(res), len(reqs))
	}
	return res
}

// templateFunctionCode returns the code of the stack's only CloudFront
// Function and checks it is the viewer request function of the default
// behaviour.
func templateFunctionCode(t *testing.T, s *synthesized) string {
	t.Helper()
	fnID, fn := s.onlyResource(t, "AWS::CloudFront::Function")
	p := props(fn)
	cfg := p["FunctionConfig"].(map[string]interface{})
	if cfg["Runtime"] != "cloudfront-js-2.0" {
		t.Errorf("function runtime %v, want cloudfront-js-2.0", cfg["Runtime"])
	}
	if p["AutoPublish"] != true {
		t.Errorf("AutoPublish %v: the LIVE stage is what viewers get", p["AutoPublish"])
	}
	code, _ := p["FunctionCode"].(string)
	if code != CacheKeyFunctionCode() {
		t.Errorf("template code is not CacheKeyFunctionCode()")
	}
	if len(code) > MaxFunctionCodeBytes {
		t.Errorf("function code is %d bytes, over CloudFront's %d", len(code), MaxFunctionCodeBytes)
	}
	_, dist := s.onlyResource(t, "AWS::CloudFront::Distribution")
	b := props(dist)["DistributionConfig"].(map[string]interface{})["DefaultCacheBehavior"].(map[string]interface{})
	want := canon([]interface{}{map[string]interface{}{
		"EventType":   "viewer-request",
		"FunctionARN": map[string]interface{}{"Fn::GetAtt": []interface{}{fnID, "FunctionARN"}},
	}})
	if got := canon(b["FunctionAssociations"]); got != want {
		t.Errorf("function associations %s, want %s", got, want)
	}
	// The edge denylist is the function's only key value store, unless
	// denylist=false.
	var wantKVS interface{}
	if s.cfg.Denylist != DenylistOff {
		kvsID, _ := s.onlyResource(t, "AWS::CloudFront::KeyValueStore")
		wantKVS = []interface{}{map[string]interface{}{"KeyValueStoreARN": map[string]interface{}{"Fn::GetAtt": []interface{}{kvsID, "Arn"}}}}
	} else if n := len(s.resources("AWS::CloudFront::KeyValueStore")); n != 0 {
		t.Errorf("denylist=false: %d key value stores", n)
	}
	if got, want := canon(cfg["KeyValueStoreAssociations"]), canon(wantKVS); got != want {
		t.Errorf("function key value stores %s, want %s", got, want)
	}
	return code
}

// testCID is a valid CIDv1 (raw codec).
func testCID(t *testing.T) string {
	t.Helper()
	mh, err := multihash.Sum([]byte("cache key"), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh).String()
}

// parsed is what the gateway decides from a request.
type parsed struct {
	Status   int
	Format   gateway.Format
	FromQ    bool
	Car      gateway.CarParams
	Filename string
	Segments []string
}

func parseWithGateway(t *testing.T, method, uri, query string, accept []string, hasAccept bool) parsed {
	t.Helper()
	u := "https://gw.example" + uri
	if query != "" {
		u += "?" + query
	}
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatalf("request %s: %v", u, err)
	}
	if hasAccept {
		r.Header["Accept"] = accept
	}
	req, err := gateway.ParseRequest(r)
	if err != nil {
		st, _ := gateway.ErrorStatus(err)
		return parsed{Status: st}
	}
	return parsed{Status: 200, Format: req.Format, FromQ: req.FormatFromQuery, Car: req.Car, Filename: req.Filename, Segments: req.Segments}
}

// checkAgainstGateway: a request answered by the function gets the status
// the gateway would answer; one passed on parses, in the gateway, to the
// same decision as the original.
func checkAgainstGateway(t *testing.T, req cfRequest, res cfResult) {
	t.Helper()
	orig := parseWithGateway(t, req.Method, req.URI, req.Query, req.Accept, req.Accept != nil)
	if res.Status != 0 {
		if orig.Status != res.Status {
			t.Errorf("%+v: function answered %d (%s), the gateway %d", req, res.Status, strings.TrimSpace(res.Body), orig.Status)
		}
		return
	}
	var accept []string
	if !res.NoAccept {
		accept = []string{res.Accept}
	}
	norm := parseWithGateway(t, req.Method, req.URI, res.Query, accept, !res.NoAccept)
	if !reflect.DeepEqual(orig, norm) {
		t.Errorf("%+v -> query %q accept %q:\n gateway on the original:   %+v\n gateway on the normalised: %+v", req, res.Query, res.Accept, orig, norm)
	}
}

const (
	rawCT    = "application/vnd.ipld.raw"
	carCanon = "application/vnd.ipld.car; version=1; order=dfs"
)

// TestCacheKeyFunction synthesizes the stack once and runs the function's
// code from the template on a table of requests, then on random ones.
func TestCacheKeyFunction(t *testing.T) {
	s := synth(t, nil, "")
	code := templateFunctionCode(t, s)
	t.Run("table", func(t *testing.T) { testCacheKeyTable(t, code) })
	t.Run("random against the gateway", func(t *testing.T) { testCacheKeyRandom(t, code) })
	t.Run("edge denylist", func(t *testing.T) { testCacheKeyDenylist(t, code) })
	t.Run("deny keys of every CID form", func(t *testing.T) { testCacheKeyDenyKeys(t, code) })
	t.Run("denylist=false", func(t *testing.T) {
		off := synth(t, map[string]string{"denylist": "false"}, "")
		templateFunctionCode(t, off)
	})
}

func testCacheKeyTable(t *testing.T, code string) {
	c := testCID(t)
	root, sub := "/ipfs/"+c, "/ipfs/"+c+"/dir/file.txt"

	type want struct {
		status int
		query  string
		accept string // "" means removed
	}
	cases := []struct {
		name string
		req  cfRequest
		want want
	}{
		{"raw by Accept", cfRequest{URI: root, Accept: []string{rawCT}}, want{query: "", accept: rawCT}},
		{"raw, case and spaces", cfRequest{URI: root, Accept: []string{"  Application/VND.ipld.RAW ;  q=1  "}}, want{accept: rawCT}},
		{"raw among others", cfRequest{URI: root, Accept: []string{"text/html, application/vnd.ipld.raw;q=0.9, */*;q=0.1"}}, want{accept: rawCT}},
		{"raw, unknown params and junk query", cfRequest{URI: root, Query: "utm_source=x&cachebust=123&download=true", Accept: []string{"application/vnd.ipld.raw; foo=bar"}}, want{accept: rawCT}},
		{"car by Accept", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.car"}}, want{accept: carCanon}},
		{"car with every default", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.car; version=1; order=unk; dups=n"}}, want{accept: carCanon}},
		{"car dups=y in Accept", cfRequest{URI: root, Accept: []string{`application/vnd.ipld.car;version="1";dups=y`}}, want{query: "car-dups=y", accept: carCanon}},
		{"car wins on q", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.raw;q=0.5", "application/vnd.ipld.car;q=0.8"}}, want{accept: carCanon}},
		{"raw wins the tie (first listed)", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.raw, application/vnd.ipld.car"}}, want{accept: rawCT}},
		{"unsupported car version skipped", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.car;version=2, application/vnd.ipld.raw;q=0.1"}}, want{accept: rawCT}},
		{"q=0 refuses", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.raw;q=0"}}, want{status: 406}},
		{"malformed q skipped", cfRequest{URI: root, Accept: []string{"application/vnd.ipld.raw;q=2, application/vnd.ipld.car;q=0.001"}}, want{accept: carCanon}},
		{"wildcard only", cfRequest{URI: root, Accept: []string{"*/*"}}, want{status: 406}},
		{"no Accept no format", cfRequest{URI: root}, want{status: 400}},
		{"raw with a path", cfRequest{URI: sub, Accept: []string{rawCT}}, want{status: 406}},
		{"path: raw skipped, car taken", cfRequest{URI: sub, Accept: []string{"application/vnd.ipld.raw, application/vnd.ipld.car;q=0.2"}}, want{accept: carCanon}},
		{"format=raw drops Accept", cfRequest{URI: root, Query: "format=raw", Accept: []string{"application/vnd.ipld.car"}}, want{query: "format=raw"}},
		{"format=car takes dups from Accept", cfRequest{URI: root, Query: "format=car", Accept: []string{"application/vnd.ipld.car; dups=y"}}, want{query: "format=car&car-dups=y"}},
		{"car-dups query beats Accept", cfRequest{URI: root, Query: "format=car&car-dups=n", Accept: []string{"application/vnd.ipld.car; dups=y"}}, want{query: "format=car"}},
		{"defaults dropped", cfRequest{URI: root, Query: "car-version=1&car-order=unk&dag-scope=all&car-dups=n&format=car"}, want{query: "format=car"}},
		{"params sorted", cfRequest{URI: sub, Query: "filename=a.car&car-dups=y&dag-scope=entity&format=car&entity-bytes=0010:-1"}, want{query: "format=car&dag-scope=entity&entity-bytes=10:-1&car-dups=y&filename=a.car"}},
		{"entity-bytes implies entity", cfRequest{URI: root, Query: "format=car&entity-bytes=-0:*"}, want{query: "format=car&dag-scope=entity&entity-bytes=0:*"}},
		{"explicit scope drops entity-bytes", cfRequest{URI: root, Query: "format=car&dag-scope=block&entity-bytes=1:2"}, want{query: "format=car&dag-scope=block"}},
		{"escaped names and values", cfRequest{URI: root, Query: "for%6Dat=c%61r&dag%2Dscope=block"}, want{query: "format=car&dag-scope=block"}},
		{"repeat with the same value", cfRequest{URI: root, Query: "format=car&format=car"}, want{query: "format=car"}},
		{"car params ignored for raw", cfRequest{URI: root, Query: "format=raw&car-dups=junk&dag-scope=junk"}, want{query: "format=raw"}},
		{"empty format is absent", cfRequest{URI: root, Query: "format=&x", Accept: []string{rawCT}}, want{accept: rawCT}},
		{"filename kept as sent", cfRequest{URI: root, Query: "filename=my+file%21.bin&format=raw"}, want{query: "format=raw&filename=my+file%21.bin"}},
		{"empty filename dropped", cfRequest{URI: root, Query: "filename=&format=raw"}, want{query: "format=raw"}},
		{"bad format", cfRequest{URI: root, Query: "format=zip"}, want{status: 406}},
		{"bad dag-scope", cfRequest{URI: root, Query: "format=car&dag-scope=most"}, want{status: 400}},
		{"bad car-dups", cfRequest{URI: root, Query: "format=car&car-dups=maybe"}, want{status: 400}},
		{"bad car-version", cfRequest{URI: root, Query: "format=car&car-version=2"}, want{status: 406}},
		{"bad car-order", cfRequest{URI: root, Query: "format=car&car-order=bfs"}, want{status: 406}},
		{"bad entity-bytes", cfRequest{URI: root, Query: "format=car&entity-bytes=5:2"}, want{status: 400}},
		{"entity-bytes overflow", cfRequest{URI: root, Query: "format=car&entity-bytes=0:9223372036854775808"}, want{status: 400}},
		{"entity-bytes int64 max", cfRequest{URI: root, Query: "format=car&entity-bytes=-9223372036854775808:9223372036854775807"}, want{query: "format=car&dag-scope=entity&entity-bytes=-9223372036854775808:9223372036854775807"}},
		{"empty entity-bytes", cfRequest{URI: root, Query: "format=car&entity-bytes="}, want{status: 400}},
		{"semicolon", cfRequest{URI: root, Query: "format=car;dag-scope=block"}, want{status: 400}},
		{"semicolon in an unknown pair", cfRequest{URI: root, Query: "format=raw&a=b;c"}, want{status: 400}},
		{"bad escape in an unknown name", cfRequest{URI: root, Query: "format=raw&%zz=1"}, want{status: 400}},
		{"bad escape in a value", cfRequest{URI: root, Query: "format=raw&x=%4"}, want{status: 400}},
		{"conflicting repeats", cfRequest{URI: root, Query: "format=car&format=raw"}, want{status: 400}},
		{"conflicting empty repeat", cfRequest{URI: root, Query: "dag-scope=&dag-scope=all&format=car"}, want{status: 400}},
		{"preflight", cfRequest{Method: "OPTIONS", URI: root, Query: "format=car&x=1", Accept: []string{"*/*"}}, want{}},
		{"not a content path", cfRequest{URI: "/favicon.ico", Query: "x=1", Accept: []string{rawCT}}, want{}},
	}
	reqs := make([]cfRequest, len(cases))
	for i := range cases {
		if cases[i].req.Method == "" {
			cases[i].req.Method = "GET"
		}
		reqs[i] = cases[i].req
	}
	res := runCacheKeyFunction(t, code, reqs)
	for i, tc := range cases {
		r := res[i]
		if r.Error != "" {
			t.Errorf("%s: %s", tc.name, r.Error)
			continue
		}
		got := want{status: r.Status, query: r.Query, accept: r.Accept}
		if r.Status != 0 {
			got.query, got.accept = "", ""
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v (body %q)", tc.name, got, tc.want, r.Body)
		}
		if r.Status == 0 && r.NoAccept != (r.Accept == "") {
			t.Errorf("%s: accept %q but removed=%v", tc.name, r.Accept, r.NoAccept)
		}
		if strings.HasPrefix(tc.req.URI, "/ipfs/") && tc.req.Method == "GET" {
			checkAgainstGateway(t, tc.req, r)
		}
	}
}

// testCacheKeyRandom runs the function on random combinations of Accept
// entries and query parameters, valid and not, and checks each against
// the gateway's own parser: same refusals, same decisions on what passes.
func testCacheKeyRandom(t *testing.T, code string) {
	c := testCID(t)
	paths := []string{"/ipfs/" + c, "/ipfs/" + c + "/", "/ipfs/" + c + "/a/b"}
	entries := []string{
		"application/vnd.ipld.raw", "application/vnd.ipld.car", "application/vnd.ipld.car; dups=y",
		"application/vnd.ipld.car;version=1;order=dfs;dups=n", "application/vnd.ipld.car; version=2",
		"application/vnd.ipld.car; order=unk", "application/vnd.ipld.car; dups=x", "APPLICATION/VND.IPLD.RAW",
		"*/*", "application/*", "text/html", "application/json", "application/vnd.ipld.raw;q=0",
		"application/vnd.ipld.raw;q=0.5", "application/vnd.ipld.car;q=0.7;dups=y", "application/vnd.ipld.car;q=1.0",
		"application/vnd.ipld.car;q=1.5", "application/vnd.ipld.raw;q=0.", "application/vnd.ipld.car; dups=\"y\"",
		"application/vnd.ipld.car; dups=y; dups=n", "application/vnd.ipld.raw;", "application/vnd.ipld.raw; ;",
		"application/vnd.ipld.car; bad", "application/vnd.ipld.car; a=\"x,y\"", "application /vnd.ipld.raw",
		"application/vnd.ipld.raw extra", "", " ", "application/vnd.ipld.car; Q=0.3", "application/vnd.ipld.car; DUPS=y",
		"application/vnd.ipld.car; dups=Y",
	}
	pairs := []string{
		"format=raw", "format=car", "format=", "format=zip", "FORMAT=car", "dag-scope=block", "dag-scope=entity",
		"dag-scope=all", "dag-scope=", "dag-scope=x", "entity-bytes=0:*", "entity-bytes=-5:-1", "entity-bytes=3:1",
		"entity-bytes=a:b", "entity-bytes=", "entity-bytes=00:07", "car-version=1", "car-version=2", "car-order=dfs",
		"car-order=unk", "car-order=x", "car-dups=y", "car-dups=n", "car-dups=", "car-dups=z", "filename=x.car",
		"filename=", "filename=%C3%A9", "download=true", "utm=1", "a", "=", "%66ormat=car", "format=c%61r",
		"x=%zz", "x=1;y=2", "car-dups=y", "format=car",
	}
	rng := rand.New(rand.NewPCG(11, 1))
	var reqs []cfRequest
	for range 1500 {
		r := cfRequest{Method: "GET", URI: paths[rng.IntN(len(paths))]}
		if n := rng.IntN(4); n > 0 {
			r.Accept = []string{}
			for range n {
				var es []string
				for range 1 + rng.IntN(3) {
					es = append(es, entries[rng.IntN(len(entries))])
				}
				r.Accept = append(r.Accept, strings.Join(es, ", "))
			}
		}
		var qs []string
		for range rng.IntN(5) {
			qs = append(qs, pairs[rng.IntN(len(pairs))])
		}
		r.Query = strings.Join(qs, "&")
		reqs = append(reqs, r)
	}
	res := runCacheKeyFunction(t, code, reqs)
	keys := map[string]bool{}
	for i, r := range res {
		if r.Error != "" {
			t.Fatalf("%+v: %s", reqs[i], r.Error)
		}
		checkAgainstGateway(t, reqs[i], r)
		if r.Status == 0 {
			keys[fmt.Sprintf("%s?%s|%s", reqs[i].URI, r.Query, r.Accept)] = true
		}
	}
	t.Logf("%d requests, %d distinct cache keys after normalisation", len(reqs), len(keys))
}
