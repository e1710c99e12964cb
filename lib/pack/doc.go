// Package pack writes packs: CARv1 files holding blocks, stored in
// a store.PackStore under the sha2-256 multihash of their bytes.
//
// Writer splits a stream of blocks into packs of at most a maximum size, as
// the JavaScript Hash Stream CLI does, streaming each pack through a spool
// file so memory stays flat whatever the input size. Import stores an
// existing CAR file as one pack. Both return where every blob landed, for
// the index writers.
package pack
