package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/faultproxy"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// headETag returns the ETag of an object.
func headETag(t *testing.T, client *awss3.Client, bucket, key string) string {
	t.Helper()
	out, err := client.HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ETag)
}

// CopyFrom stores an object as a pack, server-side, in one CopyObject or
// in parts above the threshold; a source whose ETag changed is never
// stored.
func TestCopyFrom(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		size  int
		above int64 // multipart threshold (0: default)
		parts int   // parts the copy must have made (0: one CopyObject)
	}{
		{"one copy", 3<<20 + 1, 0, 0},
		{"multipart", 12<<20 + 3, 1 << 20, 3}, // 5 MiB parts: 5, 5, 2
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, bucket := server.Client(), server.NewBucket(t)
			ps := s3.NewPackStore(client, bucket, s3.WithPrefix("packs/"), s3.WithMultipartCopyAbove(tc.above), s3.WithCopyPartSize(s3.MinPartSize))
			data := make([]byte, tc.size)
			_, _ = rand.Read(data)
			mh, _ := multihash.Sum(data, multihash.SHA2_256, -1)
			src := "ingest/a dir/x+y é.car" // spaces, a plus, non-ASCII: the copy source is encoded
			putObject(t, client, bucket, src, data)
			etag := headETag(t, client, bucket, src)

			if _, err := ps.Stat(ctx, mh); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Stat of a missing pack: %v, want ErrNotFound", err)
			}
			// A stale ETag: nothing is stored, no upload is left open.
			err := ps.CopyFrom(ctx, bucket, src, `"0123456789abcdef0123456789abcdef"`, int64(tc.size), mh)
			if !errors.Is(err, s3.ErrChanged) {
				t.Fatalf("copy on a stale ETag: %v, want ErrChanged", err)
			}
			if _, err := ps.Stat(ctx, mh); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a pack was stored by a failed copy: %v", err)
			}
			uploads, err := client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if len(uploads.Uploads) != 0 {
				t.Fatalf("%d multipart uploads left open", len(uploads.Uploads))
			}

			if err := ps.CopyFrom(ctx, bucket, src, etag, int64(tc.size), mh); err != nil {
				t.Fatal(err)
			}
			size, err := ps.Stat(ctx, mh)
			if err != nil || size != int64(tc.size) {
				t.Fatalf("Stat %d, %v; want %d", size, err, tc.size)
			}
			rc, err := ps.GetRange(ctx, store.Location{Multihash: mh}, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("pack differs from the source (%d bytes, %v)", len(got), err)
			}
			key := "packs/" + store.Key(mh) + "/" + store.Key(mh) + ".car"
			packETag := headETag(t, client, bucket, key)
			if multi := strings.HasSuffix(strings.Trim(packETag, `"`), "-"+string(rune('0'+tc.parts))); multi != (tc.parts > 0) {
				t.Errorf("pack ETag %s: multipart %v, want %d parts", packETag, multi, tc.parts)
			}
		})
	}
}

// answer412 answers the first connection with 412 PreconditionFailed,
// without reaching the server, as some S3-compatible stores (SeaweedFS)
// answer a conditional request on a missing key where S3 answers 404.
var answer412 = faultproxy.Fault{Kind: faultproxy.Answer, Status: http.StatusPreconditionFailed, Code: "PreconditionFailed"}

// A 412 to a conditional delete or copy is told apart by a HeadObject:
// a missing object is gone (no error for a delete, store.ErrNotFound for
// a copy, as S3's 404), one with another ETag changed (ErrChanged), and
// one that still has the ETag is an error of neither kind.
func TestPreconditionFailedIsExplained(t *testing.T) {
	ctx := context.Background()
	const key = "in/x"
	for _, state := range []string{"missing", "replaced", "unchanged"} {
		for _, op := range []string{"delete", "copy"} {
			t.Run(state+"/"+op, func(t *testing.T) {
				client, p := faultyClient(t)
				direct, bucket := server.Client(), server.NewBucket(t)
				o := s3.NewObjects(client, bucket)
				putObject(t, direct, bucket, key, []byte("hello"))
				etag := headETag(t, direct, bucket, key)
				switch state {
				case "missing":
					if _, err := direct.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
						t.Fatal(err)
					}
				case "replaced":
					putObject(t, direct, bucket, key, []byte("hello again"))
				}
				p.Set(faultproxy.First(1, answer412))
				var err error
				if op == "delete" {
					err = o.Delete(ctx, key, etag)
				} else {
					err = o.Copy(ctx, key, etag, 5, "out/x")
				}
				if p.Struck() != 1 || p.Accepted() != 2 {
					t.Errorf("%d of %d connections struck, want 1 of 2 (the %s, then a HeadObject)", p.Struck(), p.Accepted(), op)
				}
				notFound, changed := errors.Is(err, store.ErrNotFound), errors.Is(err, s3.ErrChanged)
				switch {
				case state == "missing" && op == "delete":
					if err != nil {
						t.Fatalf("delete of a missing object: %v, want no error", err)
					}
				case state == "missing":
					if !notFound || changed {
						t.Fatalf("copy of a missing object: %v, want ErrNotFound", err)
					}
				case state == "replaced":
					if !changed || notFound {
						t.Fatalf("%s of a replaced object: %v, want ErrChanged", op, err)
					}
				default:
					if err == nil || notFound || changed || !strings.Contains(err.Error(), "still has the ETag") {
						t.Fatalf("%s refused on an unchanged object: %v, want an error of neither kind", op, err)
					}
				}
				if state != "missing" && !slices.Contains(server.Keys(t, bucket, ""), key) {
					t.Errorf("%s was deleted", key)
				}
				if err != nil {
					t.Log(err)
				}
			})
		}
	}
}

// A resume that answers 412 on a pack removed since the read began ends
// the read with store.ErrNotFound, as S3's 404 does, not ErrChanged.
func TestResumeOfARemovedPack(t *testing.T) {
	packs, direct, bucket, p := faultyPacks(t)
	putPack(t, direct, bucket, "removed", 1<<20)
	p.Set(func(n int) faultproxy.Fault {
		switch n {
		case 0:
			return faultproxy.Fault{Kind: faultproxy.Reset, After: 256 << 10}
		case 1:
			return answer412 // the resume
		}
		return faultproxy.Fault{} // the HeadObject
	})
	rc, err := packs.GetRange(context.Background(), store.Location{Path: "removed"}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	key := "removed" + store.DefaultPackExtension
	if _, err := direct.DeleteObject(context.Background(), &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	if !errors.Is(err, store.ErrNotFound) || errors.Is(err, s3.ErrChanged) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if p.Struck() != 2 || p.Accepted() != 3 {
		t.Errorf("%d of %d connections struck, want 2 of 3", p.Struck(), p.Accepted())
	}
	t.Logf("removed during the read: %v", err)
}
