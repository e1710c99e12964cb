package index

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

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
//
// Records located by multihash only, which is what the writers make, are
// written straight into the output, byte for byte as a DAG-JSON encoder
// writes them (TestEncodeMatchesIPLD): a CONTAINING record at the index
// file cap then takes about its own size to encode, where a node tree
// takes ten times that. Others go through the DAG-JSON encoder.
func Encode(writerType string, record Record) ([]byte, error) {
	if plainString(writerType) && locatedByMultihash(&record, 0) {
		b := make([]byte, 0, 64)
		b = append(b, `{"data":`...)
		b = appendRecord(b, &record)
		b = append(b, `,"type":"`...)
		b = append(b, writerType...)
		return append(b, `"}`...), nil
	}
	return encodeIPLD(writerType, record)
}

// locatedByMultihash reports whether r and its sub-records all have
// multihash locations and nest no deeper than MaxDepth.
func locatedByMultihash(r *Record, depth int) bool {
	if r.Location.Multihash == nil || depth > MaxDepth {
		return false
	}
	for i := range r.SubRecords {
		if !locatedByMultihash(&r.SubRecords[i], depth+1) {
			return false
		}
	}
	return true
}

// plainString reports whether s is written in JSON as it is: printable
// ASCII without quotes, backslashes or the characters some encoders
// escape.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendRecord appends r as recordAssembler builds it and DAG-JSON writes
// it: keys in order, no spaces, bytes unpadded base64.
func appendRecord(b []byte, r *Record) []byte {
	b = appendRecordOpen(b, r)
	for i := range r.SubRecords {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, &r.SubRecords[i])
	}
	return appendRecordClose(b, r.Type)
}

// appendRecordOpen appends r up to its sub-records (r.SubRecords is not
// read): the keys before "subRecords", then `"subRecords":[`.
func appendRecordOpen(b []byte, r *Record) []byte {
	b = append(b, '{')
	if r.HasRange {
		b = append(b, `"length":`...)
		b = strconv.AppendInt(b, int64(r.Length), 10)
		b = append(b, ',')
	}
	b = append(b, `"location":`...)
	b = appendBytes(b, r.Location.Multihash)
	b = append(b, `,"multihash":`...)
	b = appendBytes(b, r.Multihash)
	if r.HasRange {
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, int64(r.Offset), 10)
	}
	return append(b, `,"subRecords":[`...)
}

// appendRecordClose ends a record appendRecordOpen began, after its
// sub-records.
func appendRecordClose(b []byte, t Type) []byte {
	b = append(b, `],"type":`...)
	b = strconv.AppendInt(b, int64(t), 10)
	return append(b, '}')
}

// encodeContaining returns what Encode(TypeContaining,
// NewContaining(root, PackRecords(blobs))) returns, and the multihash of
// its first sub-record (the first pack), without building the records:
// the file is sized exactly first and written once. Every blob's pack is
// named by a multihash (checkPacked).
func encodeContaining(root multihash.Multihash, blobs []PackedBlob) ([]byte, multihash.Multihash) {
	// The packs in order of first appearance, each with its blobs in
	// their order.
	var packs []multihash.Multihash
	var packBlobs [][]int32
	at := make(map[string]int)
	for i, b := range blobs {
		p, ok := at[string(b.Pack.Multihash)]
		if !ok {
			p = len(packs)
			at[string(b.Pack.Multihash)] = p
			packs = append(packs, b.Pack.Multihash)
			packBlobs = append(packBlobs, nil)
		}
		packBlobs[p] = append(packBlobs[p], int32(i))
	}
	size := 0
	for p, pack := range packs {
		subs := 0 // bytes of the pack's blobs, commas included
		for j, i := range packBlobs[p] {
			if j > 0 {
				subs++
			}
			subs += blobBytes(len(blobs[i].Multihash), len(pack), blobs[i].Offset, blobs[i].Length)
		}
		if p > 0 {
			size++
		}
		size += packBytes(len(pack), subs)
	}
	buf := make([]byte, 0, fileBytes(len(root), size))
	buf = append(buf, `{"data":`...)
	buf = appendRecordOpen(buf, &Record{Multihash: root, Location: store.Location{Multihash: root}})
	for p, pack := range packs {
		if p > 0 {
			buf = append(buf, ',')
		}
		buf = appendRecordOpen(buf, &Record{Multihash: pack, Location: store.Location{Multihash: pack}})
		for j, i := range packBlobs[p] {
			if j > 0 {
				buf = append(buf, ',')
			}
			b := &blobs[i]
			buf = appendRecordOpen(buf, &Record{Multihash: b.Multihash, Location: store.Location{Multihash: b.Pack.Multihash}, Offset: b.Offset, Length: b.Length, HasRange: true})
			buf = appendRecordClose(buf, Blob)
		}
		buf = appendRecordClose(buf, Pack)
	}
	buf = appendRecordClose(buf, Containing)
	buf = append(buf, `,"type":"`+TypeContaining+`"}`...)
	var first multihash.Multihash
	if len(packs) > 0 {
		first = packs[0]
	}
	return buf, first
}

// appendBytes appends a DAG-JSON bytes value: {"/":{"bytes":"<base64>"}}.
func appendBytes(b, v []byte) []byte {
	b = append(b, bytesPrefix...)
	b = base64.RawStdEncoding.AppendEncode(b, v)
	return append(b, bytesSuffix...)
}

// encodeIPLD is Encode through go-ipld-prime's DAG-JSON encoder.
func encodeIPLD(writerType string, record Record) ([]byte, error) {
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
//
// It reads the DAG-JSON that the writers produce with encoding/json into
// plain structs, which takes about a third of the time and memory of a
// generic IPLD node tree: a large CONTAINING record is decoded whole, and a
// 63 MB one peaks at about three times its size (see
// BenchmarkDecodeContaining). It accepts every file a DAG-JSON decoder does
// (FuzzDecodeMatchesIPLD) and a few more (duplicate keys, keys in another
// case), which is harmless: a record only says where to look, and every
// block read is verified.
func Decode(data []byte) (writerType string, record Record, err error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return "", Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if f.Type == nil {
		return "", Record{}, fmt.Errorf("%w: no type", ErrInvalid)
	}
	if f.Data == nil {
		return "", Record{}, fmt.Errorf("%w: no data", ErrInvalid)
	}
	record, err = f.Data.record(0)
	if err != nil {
		return "", Record{}, err
	}
	return *f.Type, record, nil
}

// fileJSON is a stored index file: {"data": record, "type": writer type}.
type fileJSON struct {
	Data *recordJSON `json:"data"`
	Type *string     `json:"type"`
}

// recordJSON is a record as stored. Its fields note what they hold rather
// than fail, so record can say which field is wrong.
type recordJSON struct {
	Multihash  bytesJSON    `json:"multihash"`
	Location   locationJSON `json:"location"`
	Type       intJSON      `json:"type"`
	Offset     intJSON      `json:"offset"`
	Length     intJSON      `json:"length"`
	SubRecords []recordJSON `json:"subRecords"` // nil when absent or null
}

// record checks w and returns it as a Record. The sub-records' stored
// form is dropped as they are converted.
func (w *recordJSON) record(depth int) (Record, error) {
	var r Record
	if depth > MaxDepth {
		return r, fmt.Errorf("%w: sub-records nested deeper than %d", ErrInvalid, MaxDepth)
	}
	mh, err := w.Multihash.get("multihash")
	if err != nil {
		return r, err
	}
	if r.Multihash, err = multihash.Cast(mh); err != nil {
		return r, fmt.Errorf("%w: multihash: %v", ErrInvalid, err)
	}
	t, ok, err := w.Type.get("type")
	if err == nil && !ok {
		err = fmt.Errorf("%w: no type", ErrInvalid)
	}
	if err != nil {
		return r, err
	}
	if t < int64(Blob) || t > int64(InlineBlob) {
		return r, fmt.Errorf("%w: unknown record type %d", ErrInvalid, t)
	}
	r.Type = Type(t)
	if r.Location, err = w.Location.get(); err != nil {
		return r, err
	}
	off, hasOff, err := w.Offset.get("offset")
	if err != nil {
		return r, err
	}
	length, hasLen, err := w.Length.get("length")
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
	if r.Type == Blob && !r.HasRange {
		return r, fmt.Errorf("%w: BLOB record without offset and length", ErrInvalid)
	}
	if w.SubRecords == nil {
		return r, fmt.Errorf("%w: no subRecords", ErrInvalid)
	}
	r.SubRecords = make([]Record, len(w.SubRecords))
	for i := range w.SubRecords {
		if r.SubRecords[i], err = w.SubRecords[i].record(depth + 1); err != nil {
			return r, err
		}
	}
	w.SubRecords = nil
	return r, nil
}

// bytesJSON is a DAG-JSON bytes value: {"/":{"bytes":"<base64>"}}.
type bytesJSON struct {
	b       []byte
	set, ok bool
}

var bytesPrefix, bytesSuffix = []byte(`{"/":{"bytes":"`), []byte(`"}}`)

func (v *bytesJSON) UnmarshalJSON(data []byte) error {
	v.set = true
	// The form every writer produces, without spaces or escapes, is cut
	// out directly; anything else goes through the generic decoder.
	b64, ok := bytes.CutPrefix(data, bytesPrefix)
	if ok {
		b64, ok = bytes.CutSuffix(b64, bytesSuffix)
	}
	if !ok || bytes.ContainsAny(b64, `"\`) {
		var w struct {
			Slash *struct {
				Bytes *string `json:"bytes"`
			} `json:"/"`
		}
		if json.Unmarshal(data, &w) != nil || w.Slash == nil || w.Slash.Bytes == nil {
			return nil // not bytes: get says so
		}
		b64 = []byte(*w.Slash.Bytes)
	}
	// Unpadded base64, as DAG-JSON writes it; padded is accepted too.
	out := make([]byte, max(base64.RawStdEncoding.DecodedLen(len(b64)), base64.StdEncoding.DecodedLen(len(b64))))
	n, err := base64.RawStdEncoding.Decode(out, b64)
	if err != nil {
		if n, err = base64.StdEncoding.Decode(out, b64); err != nil {
			return nil
		}
	}
	v.b, v.ok = out[:n:n], true
	return nil
}

func (v *bytesJSON) get(name string) ([]byte, error) {
	switch {
	case !v.set:
		return nil, fmt.Errorf("%w: no %s", ErrInvalid, name)
	case !v.ok:
		return nil, fmt.Errorf("%w: %s is not bytes", ErrInvalid, name)
	}
	return v.b, nil
}

// locationJSON is a location: bytes (a multihash) or a string (a path).
type locationJSON struct {
	mh   bytesJSON
	path *string
	set  bool
}

func (v *locationJSON) UnmarshalJSON(data []byte) error {
	v.set = true
	if len(data) > 0 && data[0] == '"' {
		var s string
		if json.Unmarshal(data, &s) == nil {
			v.path = &s
		}
		return nil
	}
	return v.mh.UnmarshalJSON(data)
}

func (v *locationJSON) get() (store.Location, error) {
	switch {
	case !v.set:
		return store.Location{}, fmt.Errorf("%w: no location", ErrInvalid)
	case v.path != nil:
		if *v.path == "" {
			return store.Location{}, fmt.Errorf("%w: empty location path", ErrInvalid)
		}
		return store.Location{Path: *v.path}, nil
	case v.mh.ok:
		mh, err := multihash.Cast(v.mh.b)
		if err != nil {
			return store.Location{}, fmt.Errorf("%w: location: %v", ErrInvalid, err)
		}
		return store.Location{Multihash: mh}, nil
	}
	return store.Location{}, fmt.Errorf("%w: location is neither bytes nor a string", ErrInvalid)
}

// intJSON is an integer field: a JSON number without fraction or exponent.
type intJSON struct {
	v       int64
	set, ok bool
}

func (v *intJSON) UnmarshalJSON(data []byte) error {
	v.set = true
	n, err := strconv.ParseInt(string(data), 10, 64)
	v.v, v.ok = n, err == nil
	return nil
}

// get returns the value and whether it is there.
func (v *intJSON) get(name string) (int64, bool, error) {
	switch {
	case !v.set:
		return 0, false, nil
	case !v.ok:
		return 0, false, fmt.Errorf("%w: %s is not an integer", ErrInvalid, name)
	}
	return v.v, true, nil
}
