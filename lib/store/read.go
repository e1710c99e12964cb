package store

import (
	"context"
	"fmt"
	"io"
)

// ReadRange reads exactly length bytes at offset of the pack at loc. A pack
// that ends early is an error wrapping io.ErrUnexpectedEOF.
func ReadRange(ctx context.Context, s PackStore, loc Location, offset, length uint64) ([]byte, error) {
	rc, err := s.GetRange(ctx, loc, int64(offset), int64(length))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, length)
	if _, err := io.ReadFull(rc, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("pack %s: read %d bytes at %d: %w", loc, length, offset, err)
	}
	return buf, nil
}
