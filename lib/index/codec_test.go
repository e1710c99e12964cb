package index_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// Every index file the JavaScript CLI wrote decodes and re-encodes to the
// same bytes.
func TestEncodeMatchesJavaScriptFiles(t *testing.T) {
	shared := testutil.Shared(t)
	files, err := filepath.Glob(filepath.Join(shared, "interop", "js-fs-store", "index", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(shared, "interop", "large", "containing-index-file"))
	if len(files) != 15 {
		t.Fatalf("found %d index files, want 14 + the large one", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			typ, rec, err := index.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if typ != index.TypeBlob && typ != index.TypeContaining {
				t.Fatalf("writer type %q", typ)
			}
			// The folder is named after the record's multihash.
			if dir := filepath.Base(filepath.Dir(f)); dir != "large" && dir != store.Key(rec.Multihash) {
				t.Errorf("record multihash %s in folder %s", store.Key(rec.Multihash), dir)
			}
			again, err := index.Encode(typ, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Errorf("re-encoded bytes differ:\n got %.300s\nwant %.300s", again, data)
			}
		})
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	cases := map[string]string{
		"not json":        `{"data":`,
		"not a map":       `[1,2]`,
		"no data":         `{"type":"index/blob@0.1"}`,
		"no type":         `{"data":{}}`,
		"bad multihash":   `{"data":{"location":"p","multihash":{"/":{"bytes":"AAAA"}},"subRecords":[],"type":1},"type":"x"}`,
		"unknown type":    `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":9},"type":"x"}`,
		"blob no range":   `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":0},"type":"x"}`,
		"half range":      `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"offset":1,"subRecords":[],"type":0},"type":"x"}`,
		"negative offset": `{"data":{"length":1,"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"offset":-1,"subRecords":[],"type":0},"type":"x"}`,
		"no subRecords":   `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"type":1},"type":"x"}`,
		"null offset":     `{"data":{"length":1,"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"offset":null,"subRecords":[],"type":0},"type":"x"}`,
		"float type":      `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":1.5},"type":"x"}`,
		"huge length":     `{"data":{"length":18446744073709551616,"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"offset":0,"subRecords":[],"type":0},"type":"x"}`,
		"link multihash":  `{"data":{"location":"p","multihash":{"/":"bafkqaaa"},"subRecords":[],"type":1},"type":"x"}`,
		"bad base64":      `{"data":{"location":"p","multihash":{"/":{"bytes":"!!!"}},"subRecords":[],"type":1},"type":"x"}`,
		"null subRecords": `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":null,"type":1},"type":"x"}`,
		"number location": `{"data":{"location":5,"multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":1},"type":"x"}`,
		"type not string": `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":1},"type":5}`,
		"trailing data":   `{"data":{"location":"p","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":1},"type":"x"} x`,
		"empty path":      `{"data":{"location":"","multihash":{"/":{"bytes":"ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"subRecords":[],"type":1},"type":"x"}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := index.Decode([]byte(in)); !errors.Is(err, index.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testutil.Shared(f), "interop", "js-fs-store", "index", "*", "*"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, rec, err := index.Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode, and decode again to the same bytes.
		enc, err := index.Encode(typ, rec)
		if err != nil {
			t.Fatal(err)
		}
		typ2, rec2, err := index.Decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		enc2, _ := index.Encode(typ2, rec2)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding not stable")
		}
	})
}
