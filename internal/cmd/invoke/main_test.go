package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// frame is a Function URL streaming response as the runtime client posts it
// and `sam local invoke` prints it: a JSON prelude, eight NUL bytes, the body.
func frame(prelude string, body []byte) []byte {
	return append(append([]byte(prelude), make([]byte, 8)...), body...)
}

const carPrelude = `{"statusCode":200,"headers":{"Content-Type":"application/vnd.ipld.car; version=1; order=dfs; dups=n","Cache-Control":"public, max-age=29030400, immutable"}}`

func TestDecodeCAR(t *testing.T) {
	car, err := os.ReadFile("../../../testdata/cars/subdir-with-mixed-block-files.car")
	if err != nil {
		t.Fatal(err)
	}
	_, blocks := testutil.MustReadCAR(t, bytes.NewReader(car))
	var out bytes.Buffer
	if err := decode(bytes.NewReader(frame(carPrelude, car)), &out, "captured"); err != nil {
		t.Fatalf("decode: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"captured -> status 200",
		"  Cache-Control: public, max-age=29030400, immutable\n  Content-Type: application/vnd.ipld.car",
		"body: " + itoa(len(car)) + " bytes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, ", verified)"); n != len(blocks) || n == 0 {
		t.Errorf("%d blocks verified, the CAR holds %d:\n%s", n, len(blocks), got)
	}
	for _, b := range blocks {
		if !strings.Contains(got, "block "+b.CID.String()+" ") {
			t.Errorf("block %s not listed", b.CID)
		}
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	car, err := os.ReadFile("../../../testdata/cars/gateway-raw-block.car")
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(car)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"tampered block":   {frame(carPrelude, tampered), "mismatch in content integrity"},
		"cut CAR header":   {frame(carPrelude, car[:5]), "not a valid CAR"},
		"no delimiter":     {[]byte(`{"errorMessage":"boom","errorType":"Runtime.ExitError"}`), "no prelude delimiter"},
		"bad prelude":      {frame(`{"statusCode":`, nil), "prelude"},
		"over 8 MiB input": {make([]byte, maxDecode+1), "more than"},
	} {
		t.Run(name, func(t *testing.T) {
			err := decode(bytes.NewReader(tc.in), &bytes.Buffer{}, "stdin")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestDecodeTextBody(t *testing.T) {
	var out bytes.Buffer
	in := frame(`{"statusCode":404,"headers":{"Content-Type":"text/plain; charset=utf-8"}}`, []byte("not found\n"))
	if err := decode(bytes.NewReader(in), &out, "stdin"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "stdin -> status 404") || !strings.Contains(got, `"not found\n"`) {
		t.Errorf("output:\n%s", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
