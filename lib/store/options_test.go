package store_test

import (
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// The shared options start at their defaults; a cap of 0 or less means
// the default one.
func TestOptions(t *testing.T) {
	o := store.DefaultOptions()
	if o.Prefix != "" || o.Extension != store.DefaultPackExtension || o.MaxIndexFileBytes != store.DefaultMaxIndexFileBytes {
		t.Fatalf("defaults %+v", o)
	}
	for _, set := range []store.Option{store.WithPrefix("p/"), store.WithExtension(""), store.WithMaxIndexFileBytes(-1)} {
		set(&o)
	}
	if got := o.Defaulted(); got != (store.Options{Prefix: "p/", Extension: "", MaxIndexFileBytes: store.DefaultMaxIndexFileBytes}) {
		t.Fatalf("got %+v", got)
	}
}
