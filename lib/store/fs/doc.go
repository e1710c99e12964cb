// Package fs keeps an index store and a pack store in folders of the local
// file system, in the layout the JavaScript Hash Stream CLI writes:
//
//	index: <dir>/k(mh)/k(sub)             (a record with sub-records)
//	       <dir>/k(mh)/<milliseconds>     (a record without)
//	packs: <dir>/<prefix>k(mh)<ext>       (ext defaults to ".car")
//	       <dir>/<prefix><path><ext>      (a path location, same prefix and ext)
//
// where k(mh) is store.Key(mh).
//
// Every write goes to a temporary file in the destination folder (its name
// starts with ".tmp-", and readers skip such names), is synced, and is then
// renamed (or, for a timestamp name, hard-linked) into place, so a reader
// sees a file whole or not at all and a failed write leaves nothing behind.
// All access goes through an os.Root opened on the store's folder, and names
// are checked first, so no key, path, prefix or symbolic link reaches a file
// outside it.
package fs
