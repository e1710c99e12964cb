// Package s3 keeps an index store and a pack store in Amazon S3 or any
// S3-compatible server, in the layout of the JavaScript Hash Stream:
//
//	index: <prefix>k(mh)/k(mh)/k(sub)/k(sub)    (a record with sub-records)
//	       <prefix>k(mh)/k(mh)/<milliseconds>   (a record without)
//	packs: <prefix>k(mh)/k(mh)<ext>             (ext defaults to ".car")
//	       <prefix><path><ext>                  (a path location)
//
// where k(mh) is store.Key(mh). The doubled key spreads objects over S3 key
// prefixes, since request-rate limits apply per prefix.
//
// Both stores take a ready *s3.Client; NewClient builds one from the AWS
// SDK's usual configuration chain, with connect, response header and body
// progress timeouts, and ConfigFromEnv reads the endpoint and timeout
// variables Hash Stream honours; ReadEnv and Env.Open read the buckets and
// prefixes too and open both stores (the CLI, the gateway and the indexer
// functions all open theirs so). A pack read that fails part-way is
// resumed from the bytes already received (see PackStore.GetRange).
//
// The files follow the types: index_store.go (IndexStore), pack_store.go
// (PackStore, CopyFrom included), objects.go (Objects, plain access to a
// bucket's objects), options.go (the options; the prefix, extension and
// index file cap are store.Options, shared by every backend).
//
// A timestamp-named index file is written with If-None-Match: * so it never
// replaces another (Amazon S3 and versitygw support conditional writes; a
// server that ignores the header would let two writers in the same
// millisecond overwrite each other, see WithConditionalWrites). Packs are
// streamed, never held in memory: see PackStore.Put.
package s3
