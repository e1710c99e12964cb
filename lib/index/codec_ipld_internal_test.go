package index

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/multiformats/go-multihash"
)

// FuzzDecodeMatchesIPLD: whatever a DAG-JSON decoder takes, Decode takes,
// to the same writer type and record.
func FuzzDecodeMatchesIPLD(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testutil.Shared(f), "interop", "js-fs-store", "index", "*", "*"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"data":{"location":"p","multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w"}},"subRecords":[],"type":1},"type":"x"}`,
		`{"data":{"location":"p","multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w=="}},"subRecords":[],"type":1},"type":"x"}`,
		`{ "type" : "x" , "data" : { "type" : 0 , "offset" : 1 , "length" : 2 , "location" : { "/" : { "bytes" : "EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w" } } , "multihash" : { "/" : { "bytes" : "EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w" } }, "subRecords" : [ ] } }`,
		`{"data":{"location":"a\u0062","multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w"}},"subRecords":[],"type":3},"type":"x"}`,
		`{"data":{"location":null,"multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w"}},"subRecords":[],"type":1},"type":"x"}`,
		`{"data":{"location":"p","multihash":{"/":"bafkqaaa"},"subRecords":[],"type":1},"type":"x"}`,
		`{"data":{"location":"p","multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w"}},"subRecords":null,"type":1},"type":"x"}`,
		`{"data":{"location":"p","multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w"}},"subRecords":[],"type":1.0},"type":"x"}`,
		`{"data":{"length":18446744073709551616,"location":"p","multihash":{"/":{"bytes":"EiAM9x7aArdT3iKMGvQDOVXN2XiS8hx6snpqMOMbQeFx2w"}},"offset":0,"subRecords":[],"type":0},"type":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wantType, want, err := ipldDecode(data)
		if err != nil {
			return
		}
		gotType, got, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode refused what DAG-JSON takes: %v\n%s", err, data)
		}
		if gotType != wantType || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode gave %q %+v, DAG-JSON %q %+v", gotType, got, wantType, want)
		}
	})
}

// ipldDecode is the decoder Decode replaced: go-ipld-prime's DAG-JSON into
// a node tree, then records. FuzzDecodeMatchesIPLD checks that Decode takes
// every file it takes, to the same record.
func ipldDecode(data []byte) (writerType string, record Record, err error) {
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagjson.Decode(nb, bytes.NewReader(data)); err != nil {
		return "", Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	n := nb.Build()
	if n.Kind() != datamodel.Kind_Map {
		return "", Record{}, fmt.Errorf("%w: not a map", ErrInvalid)
	}
	tn, err := n.LookupByString("type")
	if err != nil {
		return "", Record{}, fmt.Errorf("%w: no type", ErrInvalid)
	}
	if writerType, err = tn.AsString(); err != nil {
		return "", Record{}, fmt.Errorf("%w: type is not a string", ErrInvalid)
	}
	dn, err := n.LookupByString("data")
	if err != nil {
		return "", Record{}, fmt.Errorf("%w: no data", ErrInvalid)
	}
	record, err = ipldDecodeRecord(dn, 0)
	if err != nil {
		return "", Record{}, err
	}
	return writerType, record, nil
}

func ipldDecodeRecord(n datamodel.Node, depth int) (Record, error) {
	var r Record
	if depth > MaxDepth {
		return r, fmt.Errorf("%w: sub-records nested deeper than %d", ErrInvalid, MaxDepth)
	}
	if n.Kind() != datamodel.Kind_Map {
		return r, fmt.Errorf("%w: record is not a map", ErrInvalid)
	}
	mhBytes, err := ipldMustBytes(n, "multihash")
	if err != nil {
		return r, err
	}
	if r.Multihash, err = multihash.Cast(mhBytes); err != nil {
		return r, fmt.Errorf("%w: multihash: %v", ErrInvalid, err)
	}
	t, err := ipldMustInt(n, "type")
	if err != nil {
		return r, err
	}
	if t < int64(Blob) || t > int64(InlineBlob) {
		return r, fmt.Errorf("%w: unknown record type %d", ErrInvalid, t)
	}
	r.Type = Type(t)
	if r.Location, err = ipldDecodeLocation(n); err != nil {
		return r, err
	}
	off, hasOff, err := ipldOptionalInt(n, "offset")
	if err != nil {
		return r, err
	}
	length, hasLen, err := ipldOptionalInt(n, "length")
	if err != nil {
		return r, err
	}
	if hasOff != hasLen {
		return r, fmt.Errorf("%w: offset and length must come together", ErrInvalid)
	}
	if off < 0 || length < 0 {
		return r, fmt.Errorf("%w: negative offset or length", ErrInvalid)
	}
	r.Offset, r.Length, r.HasRange = uint64(off), uint64(length), hasOff
	if (r.Type == Blob) && !r.HasRange {
		return r, fmt.Errorf("%w: BLOB record without offset and length", ErrInvalid)
	}
	sn, err := n.LookupByString("subRecords")
	if err != nil {
		return r, fmt.Errorf("%w: no subRecords", ErrInvalid)
	}
	if sn.Kind() != datamodel.Kind_List {
		return r, fmt.Errorf("%w: subRecords is not a list", ErrInvalid)
	}
	r.SubRecords = make([]Record, 0, sn.Length())
	for it := sn.ListIterator(); !it.Done(); {
		_, sub, err := it.Next()
		if err != nil {
			return r, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		s, err := ipldDecodeRecord(sub, depth+1)
		if err != nil {
			return r, err
		}
		r.SubRecords = append(r.SubRecords, s)
	}
	return r, nil
}

func ipldDecodeLocation(n datamodel.Node) (store.Location, error) {
	ln, err := n.LookupByString("location")
	if err != nil {
		return store.Location{}, fmt.Errorf("%w: no location", ErrInvalid)
	}
	switch ln.Kind() {
	case datamodel.Kind_Bytes:
		b, _ := ln.AsBytes()
		mh, err := multihash.Cast(b)
		if err != nil {
			return store.Location{}, fmt.Errorf("%w: location: %v", ErrInvalid, err)
		}
		return store.Location{Multihash: mh}, nil
	case datamodel.Kind_String:
		s, _ := ln.AsString()
		if s == "" {
			return store.Location{}, fmt.Errorf("%w: empty location path", ErrInvalid)
		}
		return store.Location{Path: s}, nil
	}
	return store.Location{}, fmt.Errorf("%w: location is neither bytes nor a string", ErrInvalid)
}

func ipldMustBytes(n datamodel.Node, key string) ([]byte, error) {
	v, err := n.LookupByString(key)
	if err != nil {
		return nil, fmt.Errorf("%w: no %s", ErrInvalid, key)
	}
	b, err := v.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not bytes", ErrInvalid, key)
	}
	return b, nil
}

func ipldMustInt(n datamodel.Node, key string) (int64, error) {
	v, ok, err := ipldOptionalInt(n, key)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no %s", ErrInvalid, key)
	}
	return v, err
}

func ipldOptionalInt(n datamodel.Node, key string) (int64, bool, error) {
	v, err := n.LookupByString(key)
	if err != nil {
		return 0, false, nil
	}
	i, err := v.AsInt()
	if err != nil {
		return 0, false, fmt.Errorf("%w: %s is not an integer", ErrInvalid, key)
	}
	return i, true, nil
}
