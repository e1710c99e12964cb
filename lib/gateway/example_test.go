package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
)

func ExampleParseRequest() {
	r := httptest.NewRequest(http.MethodGet,
		"/ipfs/bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu/subdir/multiblock.txt?dag-scope=entity&entity-bytes=0:1023", nil)
	r.Header.Set("Accept", "application/vnd.ipld.car; version=1; order=dfs; dups=y")
	req, err := gateway.ParseRequest(r)
	if err != nil {
		fmt.Println(gateway.ErrorStatus(err))
		return
	}
	fmt.Println(req.Format, req.Segments, req.Car.Scope, req.Car.EntityBytes, req.Car.Dups)

	h := http.Header{}
	gateway.SetHeaders(h, req, nil)
	fmt.Println(h.Get("Content-Type"))
	fmt.Println(h.Get("X-Ipfs-Path"))

	r = httptest.NewRequest(http.MethodGet, "/ipfs/bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu", nil)
	r.Header.Set("Accept", "text/html")
	_, err = gateway.ParseRequest(r)
	fmt.Println(gateway.ErrorStatus(err))
	// Output:
	// car [subdir multiblock.txt] entity 0:1023 true
	// application/vnd.ipld.car; version=1; order=dfs; dups=y
	// /ipfs/bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu/subdir/multiblock.txt
	// 406 only trustless responses are served: accept application/vnd.ipld.raw or application/vnd.ipld.car; version=1, or use ?format=raw|car
}
