package index

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/multiformats/go-multihash"
)

// Writer types: the "type" field of a stored index file.
const (
	TypeContaining = "index/containing@0.1" // MultipleLevelWriter
	TypeBlob       = "index/blob@0.1"       // SingleLevelWriter
)

// MaxDepth bounds the nesting of sub-records accepted by Decode, so a
// hostile file cannot exhaust the stack. Real files nest three levels.
const MaxDepth = 8

// ErrInvalid is returned (wrapped) for an index file that does not decode
// to a record.
var ErrInvalid = errors.New("index: invalid record")

// Encode returns the stored form of record written by a writer of the given
// type: DAG-JSON of {"data": record, "type": writerType}, with map keys
// sorted, bytes as {"/":{"bytes":...}} and absent fields omitted.
func Encode(writerType string, record Record) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Map, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "data", qp.Map(-1, recordAssembler(&record)))
		qp.MapEntry(ma, "type", qp.String(writerType))
	})
	if err != nil {
		return nil, fmt.Errorf("index: encode: %w", err)
	}
	var buf bytes.Buffer
	if err := dagjson.Encode(n, &buf); err != nil {
		return nil, fmt.Errorf("index: encode: %w", err)
	}
	return buf.Bytes(), nil
}

func recordAssembler(r *Record) func(datamodel.MapAssembler) {
	return func(ma datamodel.MapAssembler) {
		if r.HasRange {
			qp.MapEntry(ma, "length", qp.Int(int64(r.Length)))
		}
		if r.Location.Multihash != nil {
			qp.MapEntry(ma, "location", qp.Bytes(r.Location.Multihash))
		} else {
			qp.MapEntry(ma, "location", qp.String(r.Location.Path))
		}
		qp.MapEntry(ma, "multihash", qp.Bytes(r.Multihash))
		if r.HasRange {
			qp.MapEntry(ma, "offset", qp.Int(int64(r.Offset)))
		}
		qp.MapEntry(ma, "subRecords", qp.List(int64(len(r.SubRecords)), func(la datamodel.ListAssembler) {
			for i := range r.SubRecords {
				qp.ListEntry(la, qp.Map(-1, recordAssembler(&r.SubRecords[i])))
			}
		}))
		qp.MapEntry(ma, "type", qp.Int(int64(r.Type)))
	}
}

// Decode parses a stored index file and returns its writer type and record.
func Decode(data []byte) (writerType string, record Record, err error) {
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
	record, err = decodeRecord(dn, 0)
	if err != nil {
		return "", Record{}, err
	}
	return writerType, record, nil
}

func decodeRecord(n datamodel.Node, depth int) (Record, error) {
	var r Record
	if depth > MaxDepth {
		return r, fmt.Errorf("%w: sub-records nested deeper than %d", ErrInvalid, MaxDepth)
	}
	if n.Kind() != datamodel.Kind_Map {
		return r, fmt.Errorf("%w: record is not a map", ErrInvalid)
	}
	mhBytes, err := mustBytes(n, "multihash")
	if err != nil {
		return r, err
	}
	if r.Multihash, err = multihash.Cast(mhBytes); err != nil {
		return r, fmt.Errorf("%w: multihash: %v", ErrInvalid, err)
	}
	t, err := mustInt(n, "type")
	if err != nil {
		return r, err
	}
	if t < int64(Blob) || t > int64(InlineBlob) {
		return r, fmt.Errorf("%w: unknown record type %d", ErrInvalid, t)
	}
	r.Type = Type(t)
	if r.Location, err = decodeLocation(n); err != nil {
		return r, err
	}
	off, hasOff, err := optionalInt(n, "offset")
	if err != nil {
		return r, err
	}
	length, hasLen, err := optionalInt(n, "length")
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
		s, err := decodeRecord(sub, depth+1)
		if err != nil {
			return r, err
		}
		r.SubRecords = append(r.SubRecords, s)
	}
	return r, nil
}

func decodeLocation(n datamodel.Node) (store.Location, error) {
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

func mustBytes(n datamodel.Node, key string) ([]byte, error) {
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

func mustInt(n datamodel.Node, key string) (int64, error) {
	v, ok, err := optionalInt(n, key)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no %s", ErrInvalid, key)
	}
	return v, err
}

func optionalInt(n datamodel.Node, key string) (int64, bool, error) {
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
