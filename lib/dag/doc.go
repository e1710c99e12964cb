// Package dag is what a block is, apart from where it is stored: how its
// bytes are checked against its CID (Verify, Inline), what its codec says
// about it (Decode, Links, PathStep), how a UnixFS directory or HAMT
// shard names its entries (Lookup), and how blocks are framed in a CAR
// (CARHeader, WriteSection, SectionLen; Counter counts a CAR's bytes).
//
// It also holds the seam between the serving side and storage: Source, a
// supply of verified blocks, one at a time or as an ordered Stream. The
// gateway and its CAR walker read through a Source; the streamer
// implements it over an index and a pack store; a test can give a fake.
//
// The package imports only the IPLD and multiformats libraries: the
// gateway and the fetch client (a client of other gateways) share it
// without sharing anything of the server.
package dag
