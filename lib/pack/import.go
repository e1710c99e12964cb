package pack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"
)

// ErrInvalidCAR is returned (wrapped) by Import for input that is not a
// well-formed CAR whose blocks all match their CIDs.
var ErrInvalidCAR = errors.New("invalid CAR")

// Import stores the CAR file r (CARv1 or CARv2) as one pack, as it is, and
// returns where each of its blocks is: the offset and length of the block
// data in the file. Every block is checked against its CID first; a bad
// file is reported with ErrInvalidCAR and nothing is stored.
func Import(ctx context.Context, s store.PackStore, r io.ReadSeeker) (Info, error) {
	info, err := Scan(r)
	if err != nil {
		return Info{}, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("pack: import: %w", err)
	}
	if err := s.Put(ctx, info.Multihash, r, info.Size); err != nil {
		return Info{}, fmt.Errorf("pack: store %s: %w", store.Key(info.Multihash), err)
	}
	return info, nil
}

// Scan reads a CAR file to its end, checks every block against its CID,
// and returns the pack it makes: its multihash, size, roots and blobs.
func Scan(r io.Reader) (Info, error) {
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	br, err := carv2.NewBlockReader(cr)
	if err != nil {
		return Info{}, fmt.Errorf("%w: header: %v", ErrInvalidCAR, err)
	}
	info := Info{Roots: br.Roots}
	for i := 0; ; i++ {
		blk, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Info{}, fmt.Errorf("%w: block %d (at byte %d): %v", ErrInvalidCAR, i, cr.n, err)
		}
		// The reader consumed exactly the section: the data ends here.
		length := uint64(len(blk.RawData()))
		info.Blobs = append(info.Blobs, index.PackedBlob{Multihash: blk.Cid().Hash(), BlobLocation: store.BlobLocation{Offset: uint64(cr.n) - length, Length: length}})
	}
	// A CARv2 may hold an index after its data: read the rest so the hash
	// covers the whole file.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return Info{}, fmt.Errorf("pack: read: %w", err)
	}
	if len(info.Blobs) == 0 {
		return Info{}, fmt.Errorf("%w: no blocks", ErrInvalidCAR)
	}
	mh, err := multihash.Encode(h.Sum(nil), multihash.SHA2_256)
	if err != nil {
		return Info{}, err
	}
	info.Multihash, info.Size = mh, cr.n
	for i := range info.Blobs {
		info.Blobs[i].Pack = store.Location{Multihash: mh}
	}
	return info, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
