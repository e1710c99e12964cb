package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// faultFile is random-3m.bin stored as the JavaScript CLI stores it: four
// raw leaves (1 MiB, 1 MiB, 1 MiB, 12345 bytes) and a dag-pb root, in two
// packs (leaves 0-1; leaves 2-3 and the root). Its CAR is root, leaf 0,
// 1, 2, 3: the handler's first 256 KiB flush happens inside leaf 0, so the
// status line and the first bytes are out before leaf 1 is read.
type faultFile struct {
	root  cid.Cid
	data  []byte
	blobs []index.PackedBlob // leaves 0..3, then the root
	packs []pack.Info
}

func writeFaultFile(t *testing.T, idx store.IndexStore, packs store.PackStore) faultFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, infos, err := pack.WriteFile(ctx, packs, bytes.NewReader(data), pack.WithMaxSize(2200000), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	f := faultFile{root: root, data: data, packs: infos}
	for _, p := range infos {
		f.blobs = append(f.blobs, p.Blobs...)
	}
	if len(infos) != 2 || len(f.blobs) != 5 || len(infos[0].Blobs) != 2 || !bytes.Equal(f.blobs[4].Multihash, root.Hash()) {
		t.Fatalf("unexpected layout: %d packs, %d blobs", len(infos), len(f.blobs))
	}
	for _, w := range []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)} {
		if err := w.Add(ctx, f.blobs, root.Hash()); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f faultFile) leaf(i int) cid.Cid { return cid.NewCidV1(cid.Raw, f.blobs[i].Multihash) }

// rewritePack replaces the bytes of a stored pack with edit's result.
func rewritePack(t *testing.T, packs store.PackStore, mh multihash.Multihash, edit func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	b = edit(b)
	if err := packs.Put(ctx, mh, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// checkCutMidStream checks a response that must fail after its first
// bytes: a 200 status, at least the first 256 KiB, then a read error; the
// bytes that came are a CARv1 prefix starting with the root, without the
// bad block, and never a complete CAR of the file.
func checkCutMidStream(t *testing.T, r response, f faultFile, bad cid.Cid) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d (%q), want 200 then a cut", r.status, bytes.TrimSpace(r.body))
	}
	if r.readErr == nil {
		t.Fatalf("the body (%d bytes) ended cleanly: a cut response must fail the read", len(r.body))
	}
	if !errors.Is(r.readErr, io.ErrUnexpectedEOF) && !errors.Is(r.readErr, syscall.ECONNRESET) {
		t.Logf("read error: %v", r.readErr)
	}
	if len(r.body) < 256<<10 {
		t.Errorf("only %d bytes before the cut: the first bytes should go out before the bad block", len(r.body))
	}
	got, err := parseCAR(r.body)
	if len(got.blocks) == 0 || !got.blocks[0].cid.Equals(f.root) {
		t.Fatalf("the bytes before the cut are not a CAR prefix starting with the root: %d blocks, %v", len(got.blocks), err)
	}
	if !equalCIDs(got.roots, []cid.Cid{f.root}) {
		t.Errorf("roots %v", got.roots)
	}
	for _, b := range got.blocks {
		if b.cid.Equals(bad) {
			t.Errorf("the bad block %s was written", bad)
		}
	}
	if err == nil && len(got.blocks) == len(f.blobs) {
		t.Error("the cut body holds the whole file")
	}
}

func TestFaults(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				// inject breaks the stores, or returns a wrapper to serve
				// from instead; bad is the block that must not be sent.
				inject func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid)
			}{
				{"flipped byte in the second leaf", func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid) {
					l := f.blobs[1]
					rewritePack(t, packs, l.Pack.Multihash, func(b []byte) []byte { b[l.Offset+l.Length/2] ^= 0x01; return b })
					return idx, packs, f.leaf(1)
				}},
				{"truncated pack", func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid) {
					l := f.blobs[1]
					rewritePack(t, packs, l.Pack.Multihash, func(b []byte) []byte { return b[:l.Offset+1000] })
					return idx, packs, f.leaf(1)
				}},
				{"wrong offset in the index record", func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid) {
					// Replace the CONTAINING record (same file name: the first
					// pack) with one whose second leaf starts a byte late.
					blobs := append([]index.PackedBlob(nil), f.blobs...)
					blobs[1].Offset++
					rec := index.NewContaining(f.root.Hash(), index.PackRecords(blobs))
					data, err := index.Encode(index.TypeContaining, rec)
					if err != nil {
						t.Fatal(err)
					}
					if err := idx.Put(context.Background(), f.root.Hash(), rec.SubRecords[0].Multihash, data); err != nil {
						t.Fatal(err)
					}
					return idx, packs, f.leaf(1)
				}},
				{"offset past the end of the pack", func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid) {
					blobs := append([]index.PackedBlob(nil), f.blobs...)
					blobs[1].Offset = uint64(f.packs[0].Size) - 100
					rec := index.NewContaining(f.root.Hash(), index.PackRecords(blobs))
					data, _ := index.Encode(index.TypeContaining, rec)
					if err := idx.Put(context.Background(), f.root.Hash(), rec.SubRecords[0].Multihash, data); err != nil {
						t.Fatal(err)
					}
					return idx, packs, f.leaf(1)
				}},
				{"storage error on a later ranged read", func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid) {
					// The read of leaves 2-3 (second pack, before the root) fails.
					l2 := f.blobs[2]
					return idx, &packHooks{PackStore: packs, getRange: func(ctx context.Context, _ int64, loc store.Location, off, length int64) (io.ReadCloser, error) {
						if bytes.Equal(loc.Multihash, l2.Pack.Multihash) && off <= int64(l2.Offset) {
							return nil, errors.New("injected: connection reset by peer")
						}
						return packs.GetRange(ctx, loc, off, length)
					}}, f.leaf(2)
				}},
				{"storage error inside a ranged read", func(t *testing.T, f faultFile, idx store.IndexStore, packs store.PackStore) (store.IndexStore, store.PackStore, cid.Cid) {
					// A reader that covers leaf 1 fails halfway through it.
					l1 := f.blobs[1]
					return idx, &packHooks{PackStore: packs, readErr: func(loc store.Location, off, length int64) (int64, error) {
						if bytes.Equal(loc.Multihash, l1.Pack.Multihash) && off <= int64(l1.Offset) && off+length > int64(l1.Offset) {
							return int64(l1.Offset) - off + int64(l1.Length)/2, syscall.ECONNRESET
						}
						return -1, nil
					}}, f.leaf(1)
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					idx, packs := b.stores(t)
					f := writeFaultFile(t, idx, packs)
					// The intact file streams whole first.
					r := fetch(t, newServer(t, idx, packs, nil), http.MethodGet, "/ipfs/"+f.root.String()+"?format=car")
					if got, ok := fileBytes(t, mustCAR(t, r).byHash(), f.root); !ok || !bytes.Equal(got, f.data) {
						t.Fatal("the intact file does not come back whole")
					}
					sidx, spacks, bad := tc.inject(t, f, idx, packs)
					srv := newServer(t, sidx, spacks, nil)
					for _, q := range []string{"format=car", "format=car&dag-scope=entity", "format=car&car-dups=y"} {
						checkCutMidStream(t, fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?"+q), f, bad)
					}
					// A raw request for the bad block fails with a status.
					if r := fetch(t, srv, http.MethodGet, "/ipfs/"+bad.String()+"?format=raw"); r.status < 500 && r.status != 404 {
						t.Errorf("raw %s: status %d", bad, r.status)
					}
				})
			}
			t.Run("corrupt root", func(t *testing.T) {
				// Nothing is sent yet when the root fails: a 502 with a text body.
				idx, packs := b.stores(t)
				f := writeFaultFile(t, idx, packs)
				l := f.blobs[4]
				rewritePack(t, packs, l.Pack.Multihash, func(b []byte) []byte { b[l.Offset+10] ^= 0x80; return b })
				srv := newServer(t, idx, packs, nil)
				checkError(t, fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car"), http.StatusBadGateway)
				checkError(t, fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=raw"), http.StatusBadGateway)
			})
			t.Run("corrupt first leaf", func(t *testing.T) {
				// The failure comes before the first flush: whatever the
				// client sees, it must not be a complete CAR.
				idx, packs := b.stores(t)
				f := writeFaultFile(t, idx, packs)
				l := f.blobs[0]
				rewritePack(t, packs, l.Pack.Multihash, func(b []byte) []byte { b[l.Offset] ^= 0xff; return b })
				checkFailed(t, newServer(t, idx, packs, nil), "/ipfs/"+f.root.String()+"?format=car")
			})
		})
	}
}

// lateDeadline is a context whose deadline passes when expire is called
// (Err is then context.DeadlineExceeded), or when its parent ends.
type lateDeadline struct {
	context.Context
	done chan struct{}
	once sync.Once
	stop func() bool
}

func newLateDeadline(parent context.Context) *lateDeadline {
	c := &lateDeadline{Context: parent, done: make(chan struct{})}
	c.stop = context.AfterFunc(parent, c.expire)
	return c
}

func (c *lateDeadline) expire()                     { c.once.Do(func() { close(c.done) }) }
func (c *lateDeadline) Done() <-chan struct{}       { return c.done }
func (c *lateDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *lateDeadline) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// firstWrite calls fn once, at the first body write.
type firstWrite struct {
	http.ResponseWriter
	fn   func()
	once sync.Once
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(w.fn)
	return w.ResponseWriter.Write(p)
}

func (w *firstWrite) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestDeadlineMidStream gives the handler a context whose deadline passes
// 100 ms after the first body bytes, while slow storage is still being
// read: the client (still connected) must see the response fail, never a
// clean end.
func TestDeadlineMidStream(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			idx, packs := b.stores(t)
			f := writeFaultFile(t, idx, packs)
			slow := &packHooks{PackStore: packs, getRange: func(ctx context.Context, _ int64, loc store.Location, off, length int64) (io.ReadCloser, error) {
				rc, err := packs.GetRange(ctx, loc, off, length)
				if err != nil {
					return nil, err
				}
				return &slowReader{ctx: ctx, rc: rc, delay: 10 * time.Millisecond}, nil
			}}
			srv := newServer(t, idx, slow, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx := newLateDeadline(r.Context())
					defer ctx.stop()
					fw := &firstWrite{ResponseWriter: w, fn: func() { time.AfterFunc(100*time.Millisecond, ctx.expire) }}
					h.ServeHTTP(fw, r.WithContext(ctx))
				})
			})
			midStream := 0
			for i := range 4 {
				r, err := try(srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car")
				switch {
				case err != nil: // cut before the status line went out
				case r.status == http.StatusGatewayTimeout: // before the status line
					checkError(t, r, r.status)
				case r.status != http.StatusOK:
					t.Fatalf("try %d: status %d", i, r.status)
				case r.readErr == nil:
					got, err := parseCAR(r.body)
					t.Fatalf("try %d: the response ended cleanly after %d bytes (%d blocks of %d, parse error %v)",
						i, len(r.body), len(got.blocks), len(f.blobs), err)
				default:
					midStream++
				}
			}
			if midStream == 0 {
				t.Error("the deadline never came mid-stream: the test does not test it")
			}
		})
	}
}
