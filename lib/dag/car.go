package dag

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/multiformats/go-varint"
)

// CARHeader returns the encoded CARv1 header (length prefix included) with
// the given roots: DAG-CBOR {"roots": [...], "version": 1}.
func CARHeader(roots ...cid.Cid) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Map, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "roots", qp.List(int64(len(roots)), func(la datamodel.ListAssembler) {
			for _, r := range roots {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: r}))
			}
		}))
		qp.MapEntry(ma, "version", qp.Int(1))
	})
	if err != nil {
		return nil, fmt.Errorf("dag: car header: %w", err)
	}
	var body bytes.Buffer
	if err := dagcbor.Encode(n, &body); err != nil {
		return nil, fmt.Errorf("dag: car header: %w", err)
	}
	return append(varint.ToUvarint(uint64(body.Len())), body.Bytes()...), nil
}

// SectionHead returns the bytes of a CAR section before the block data:
// the length prefix and the CID.
func SectionHead(c cid.Cid, dataLen int) []byte {
	cb := c.Bytes()
	return append(varint.ToUvarint(uint64(len(cb)+dataLen)), cb...)
}

// SectionLen returns the length of the CAR section of a block of dataLen
// bytes: length prefix, CID and data.
func SectionLen(c cid.Cid, dataLen int) int64 {
	n := c.ByteLen() + dataLen
	return int64(varint.UvarintSize(uint64(n)) + n)
}

// WriteSection writes one CAR section: length prefix, CID, data.
func WriteSection(w io.Writer, c cid.Cid, data []byte) error {
	if _, err := w.Write(SectionHead(c, len(data))); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// Counter counts the bytes of a CAR read or written through it, in N:
// the offset of the next section of a CAR being read (set R), the length
// of a CAR or of sections being written (set W).
type Counter struct {
	R io.Reader
	W io.Writer
	N int64
}

// Read reads from R, counting the bytes.
func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// Write writes to W, counting the bytes written.
func (c *Counter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}
