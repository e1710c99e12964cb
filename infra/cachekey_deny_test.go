package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/cdn"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

// sum is the multihash of data with the hash function code.
func sum(t *testing.T, data string, code uint64) multihash.Multihash {
	t.Helper()
	mh, err := multihash.Sum([]byte(data), code, -1)
	if err != nil {
		t.Fatal(err)
	}
	return mh
}

// blockedCacheControl is what the origin sets on a blocked answer.
var blockedCacheControl = fmt.Sprintf("public, max-age=%d", gateway.BlockedMaxAge)

// testCacheKeyDenylist runs the function with an emulated edge denylist:
// listed CIDs, in any form, are answered with the entry's status before
// anything else; a CID not listed, or whose lookup fails, goes on as
// without a denylist (checked against the gateway as the table is).
func testCacheKeyDenylist(t *testing.T, code string) {
	gone := sum(t, "gone", multihash.SHA2_256)
	legal := sum(t, "court order", multihash.SHA2_256)
	failing := sum(t, "store fails", multihash.SHA2_256)
	free := sum(t, "not listed", multihash.SHA2_256)
	junk := sum(t, "junk status", multihash.SHA2_256)
	kvs := cfKVS{
		Data: map[string]string{
			cdn.DenyKey(gone): "410", cdn.DenyKey(legal): "451", cdn.DenyKey(junk): "blocked",
			// failing's value is never read: its get fails.
			cdn.DenyKey(failing): "410",
		},
		Errors: []string{cdn.DenyKey(failing)},
	}
	v1 := func(codec uint64, mh multihash.Multihash, base multibase.Encoding) string {
		s, err := cid.NewCidV1(codec, mh).StringOfBase(base)
		if err != nil {
			t.Fatal(err)
		}
		return "/ipfs/" + url.PathEscape(s)
	}
	v0 := "/ipfs/" + cid.NewCidV0(gone).String()
	raw32 := v1(cid.Raw, gone, multibase.Base32)
	type want struct {
		status int    // 0: passed on
		lookup string // the key looked up ("" none)
	}
	cases := []struct {
		name string
		req  cfRequest
		want want
	}{
		{"CIDv1 base32", cfRequest{URI: raw32, Accept: []string{rawCT}}, want{410, cdn.DenyKey(gone)}},
		{"CIDv0 with a path", cfRequest{URI: v0 + "/a/b.txt", Query: "format=car"}, want{410, cdn.DenyKey(gone)}},
		{"CIDv1 base36, dag-pb", cfRequest{URI: v1(cid.DagProtobuf, gone, multibase.Base36), Accept: []string{carCanon}}, want{410, cdn.DenyKey(gone)}},
		{"CIDv1 base32 upper", cfRequest{URI: v1(cid.Raw, gone, multibase.Base32Upper), Accept: []string{rawCT}}, want{410, cdn.DenyKey(gone)}},
		{"CIDv1 base58btc", cfRequest{URI: v1(cid.DagCBOR, gone, multibase.Base58BTC), Accept: []string{rawCT}}, want{410, cdn.DenyKey(gone)}},
		{"escaped CID", cfRequest{URI: "/ipfs/%62" + strings.TrimPrefix(raw32, "/ipfs/b"), Accept: []string{rawCT}}, want{410, cdn.DenyKey(gone)}},
		{"HEAD", cfRequest{Method: "HEAD", URI: raw32, Accept: []string{rawCT}}, want{410, cdn.DenyKey(gone)}},
		{"blocked before a bad query", cfRequest{URI: raw32, Query: "format=zip"}, want{410, cdn.DenyKey(gone)}},
		{"blocked with no format", cfRequest{URI: raw32 + "/"}, want{410, cdn.DenyKey(gone)}},
		{"preflight not looked up", cfRequest{Method: "OPTIONS", URI: raw32, Accept: []string{"*/*"}}, want{}},
		{"451", cfRequest{URI: v1(cid.Raw, legal, multibase.Base36), Accept: []string{rawCT}}, want{451, cdn.DenyKey(legal)}},
		{"unknown status is 410", cfRequest{URI: v1(cid.Raw, junk, multibase.Base32), Accept: []string{rawCT}}, want{410, cdn.DenyKey(junk)}},
		{"lookup error fails open", cfRequest{URI: v1(cid.Raw, failing, multibase.Base32), Accept: []string{rawCT}}, want{0, cdn.DenyKey(failing)}},
		{"lookup error, CAR with a path", cfRequest{URI: v1(cid.DagProtobuf, failing, multibase.Base32) + "/x", Query: "format=car&dag-scope=entity"}, want{0, cdn.DenyKey(failing)}},
		{"not listed", cfRequest{URI: v1(cid.Raw, free, multibase.Base32), Accept: []string{rawCT}}, want{0, cdn.DenyKey(free)}},
		{"not listed, CIDv0", cfRequest{URI: "/ipfs/" + cid.NewCidV0(free).String(), Query: "format=car"}, want{0, cdn.DenyKey(free)}},
		{"not a CID", cfRequest{URI: "/ipfs/not-a-cid", Accept: []string{rawCT}}, want{}},
		{"not a content path", cfRequest{URI: "/favicon.ico"}, want{}},
	}
	reqs := make([]cfRequest, len(cases))
	for i := range cases {
		if cases[i].req.Method == "" {
			cases[i].req.Method = "GET"
		}
		reqs[i] = cases[i].req
	}
	check := func(t *testing.T, res []cfResult, edge bool) {
		for i, tc := range cases {
			r := res[i]
			if r.Error != "" {
				t.Errorf("%s: %s", tc.name, r.Error)
				continue
			}
			w := tc.want
			if !edge {
				w = want{}
			}
			var lookups []string
			if w.lookup != "" {
				lookups = []string{w.lookup}
			}
			if !slices.Equal(r.Lookups, lookups) {
				t.Errorf("%s: looked up %q, want %q", tc.name, r.Lookups, lookups)
			}
			if w.status != 0 {
				if r.Status != w.status || r.Body != "blocked\n" || r.CacheControl != blockedCacheControl {
					t.Errorf("%s: answered %d %q (cache-control %q), want %d \"blocked\\n\" (%q)", tc.name, r.Status, r.Body, r.CacheControl, w.status, blockedCacheControl)
				}
				continue
			}
			if r.Status == 410 || r.Status == 451 {
				t.Errorf("%s: blocked (%d), want passed on", tc.name, r.Status)
			}
			if strings.HasPrefix(tc.req.URI, "/ipfs/") && tc.req.Method == "GET" {
				checkAgainstGateway(t, tc.req, r)
			}
		}
	}
	t.Run("listed", func(t *testing.T) { check(t, runCacheKeyFunctionKVS(t, code, reqs, kvs), true) })
	// denylist=false: no store is associated and cf.kvs() throws; nothing
	// is looked up, nothing blocked.
	t.Run("no store", func(t *testing.T) {
		none := kvs
		none.None = true
		check(t, runCacheKeyFunctionKVS(t, code, reqs, none), false)
	})
}

// testCacheKeyDenyKeys checks that every CID form the gateway decodes and
// the function claims (every multibase go-multibase decodes but
// base256emoji, and CIDv0), for several hash functions and codecs, is
// looked up under cdn.DenyKey of its multihash: the key `hash-stream deny`
// writes. A base256emoji CID is not decoded at the edge (not looked up).
func testCacheKeyDenyKeys(t *testing.T, code string) {
	mhs := []multihash.Multihash{
		sum(t, "a", multihash.SHA2_256), sum(t, "b", multihash.SHA2_512),
		sum(t, "c", multihash.BLAKE2B_MIN+31), sum(t, "tiny", multihash.IDENTITY),
	}
	codecs := []uint64{cid.Raw, cid.DagProtobuf, cid.DagCBOR, cid.DagJSON, cid.Libp2pKey}
	bases := []multibase.Encoding{
		multibase.Base2, multibase.Base16, multibase.Base16Upper,
		multibase.Base32, multibase.Base32Upper, multibase.Base32pad, multibase.Base32padUpper,
		multibase.Base32hex, multibase.Base32hexUpper, multibase.Base32hexPad, multibase.Base32hexPadUpper,
		multibase.Base36, multibase.Base36Upper, multibase.Base58BTC, multibase.Base58Flickr,
		multibase.Base64, multibase.Base64pad, multibase.Base64url, multibase.Base64urlPad,
	}
	type form struct {
		text string // the CID as written in the path (unescaped)
		key  string // "" when not looked up
	}
	var forms []form
	for _, mh := range mhs {
		key := cdn.DenyKey(mh)
		for _, codec := range codecs {
			c := cid.NewCidV1(codec, mh)
			for _, base := range bases {
				s, err := c.StringOfBase(base)
				if err != nil {
					t.Fatal(err)
				}
				forms = append(forms, form{s, key})
			}
			forms = append(forms, form{"\x00" + string(c.Bytes()), key})
			emoji, err := c.StringOfBase(multibase.Base256Emoji)
			if err != nil {
				t.Fatal(err)
			}
			forms = append(forms, form{emoji, ""})
		}
		if dec, _ := multihash.Decode(mh); dec.Code == multihash.SHA2_256 {
			v0 := cid.NewCidV0(mh)
			forms = append(forms, form{v0.String(), key})
			// A CIDv0's bytes in a multibase are a CIDv0 too.
			z, _ := multibase.Encode(multibase.Base58BTC, v0.Bytes())
			forms = append(forms, form{z, key})
		}
	}
	var reqs []cfRequest
	for _, f := range forms {
		// Each form is one the gateway reads as that multihash.
		c, err := cid.Decode(f.text)
		if err != nil {
			t.Fatalf("%q: %v", f.text, err)
		}
		if f.key != "" && cdn.DenyKey(c.Hash()) != f.key {
			t.Fatalf("%q: the gateway reads another multihash", f.text)
		}
		reqs = append(reqs, cfRequest{Method: "GET", URI: "/ipfs/" + url.PathEscape(f.text), Accept: []string{rawCT}})
	}
	res := runCacheKeyFunction(t, code, reqs)
	for i, f := range forms {
		var want []string
		if f.key != "" {
			want = []string{f.key}
		}
		if !slices.Equal(res[i].Lookups, want) {
			t.Errorf("%s: looked up %q, want %q", reqs[i].URI, res[i].Lookups, want)
		}
		if res[i].Error != "" || res[i].Status != 0 {
			t.Errorf("%s: %d %s", reqs[i].URI, res[i].Status, res[i].Error)
		}
	}
	t.Logf("%d CID forms", len(forms))
}
