// Package storecopy copies a whole Hash Stream store, its packs and its
// index files, to another store, of the same backend or another one: each
// backend maps the layout-neutral names of store.IndexLister and
// store.PackLister to its own keys, so the fs layout k(mh) becomes the S3
// layout k(mh)/k(mh) and back, which a plain object sync gets wrong.
//
// Copy works in two phases, packs first, so that the destination never has
// an index record whose pack is not there yet. Objects go a bounded number
// at a time (WithConcurrency). An object already at the destination is
// skipped after one cheap check (a HeadObject or a stat for a pack, a read
// of the small index file), so a copy that stopped half-way is finished by
// running it again, and a second run copies nothing.
//
// Every pack is verified as it streams through: its bytes must hash to its
// multihash, checked before the destination sees the end of its body, so
// a pack that does not verify fails with ErrCorrupt and leaves nothing at
// the destination (the backends' Put stores a pack whole or not at all).
// Index files keep their names, timestamps included, and their bytes;
// one that does not decode as an index file, or that readers would refuse
// (over the index file cap, or giving a block over the block limit: see
// WithLimits), is skipped with a warning.
// Objects that are not of the layout (store.ErrUnexpectedKey) are skipped
// with a warning, never copied blindly.
package storecopy
