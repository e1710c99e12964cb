package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Example wires the two stores the way a program does: the endpoint from
// the environment, credentials from the AWS SDK's chain.
func Example() {
	ctx := context.Background()
	cfg, err := s3.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	client, err := s3.NewClient(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	index := s3.NewIndexStore(client, "my-index-bucket")
	packs := s3.NewPackStore(client, "my-pack-bucket")

	pack := []byte("CAR bytes")
	mh, _ := store.ParseKey("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err := packs.Put(ctx, mh, bytes.NewReader(pack), int64(len(pack))); err != nil {
		log.Fatal(err)
	}
	if err := index.Put(ctx, mh, nil, []byte(`{"data":{},"type":"index/blob@0.1"}`)); err != nil {
		log.Fatal(err)
	}
	rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, 4, 5)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Printf("%s\n", b)
}
