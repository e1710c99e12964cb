// Package cdn drives the CloudFront side of a deployment from Go: the
// edge denylist, a CloudFront KeyValueStore the viewer-request function
// reads before the cache (EdgeList), and invalidations of cached paths
// (Invalidator). The deny command uses both; both are tested against fake
// APIs on loopback through the SDK's endpoint override.
package cdn

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	kvstypes "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore/types"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

// DenyKey is the edge list's key of a multihash: its bytes in lowercase
// hex. The viewer-request function decodes the CID of a request (CIDv0,
// or CIDv1 in base32, base36 or base58btc) to its multihash and looks up
// the same key, so every form of one CID is one entry.
func DenyKey(mh multihash.Multihash) string { return hex.EncodeToString(mh) }

// KVS limits (Amazon CloudFront Developer Guide, "Quotas": KeyValueStore):
// a key of at most 512 bytes, a value of at most 1 KB, a store of at most
// 5 MB.
const (
	MaxKVSKeyBytes   = 512
	MaxKVSValueBytes = 1024
	MaxKVSBytes      = 5 << 20
)

// conflictRetries bounds how often a write retries when another writer
// changed the store between reading its ETag and writing.
const conflictRetries = 8

// EdgeList is the edge denylist: a KeyValueStore of DenyKey → HTTP status.
type EdgeList struct {
	client *kvs.Client
	arn    string
}

// NewEdgeList returns the edge list of the KeyValueStore arn.
func NewEdgeList(client *kvs.Client, arn string) *EdgeList {
	return &EdgeList{client: client, arn: arn}
}

// Entry is a block in the edge list: a multihash and the HTTP status its
// requests answer.
type Entry struct {
	Multihash multihash.Multihash
	Status    int
}

// MaxKeysPerUpdate is how many keys one UpdateKeys call sets. The API
// reference gives no limit; 50 is the batch infrastructure tools use by
// default for this call.
const MaxKeysPerUpdate = 50

// Block sets mh to status, and returns the store's size after.
func (l *EdgeList) Block(ctx context.Context, mh multihash.Multihash, status int) (int64, error) {
	_, size, err := l.BlockAll(ctx, []Entry{{mh, status}})
	return size, err
}

// BlockAll sets every entry, MaxKeysPerUpdate keys per all-or-nothing
// UpdateKeys call (one ETag read each, not one per key). It returns how
// many entries were set before an error, and the store's size after. A
// call that meets another writer's change is retried with the new ETag.
func (l *EdgeList) BlockAll(ctx context.Context, entries []Entry) (int, int64, error) {
	var size int64
	for done := 0; done < len(entries); {
		batch := entries[done:min(done+MaxKeysPerUpdate, len(entries))]
		puts := make([]kvstypes.PutKeyRequestListItem, len(batch))
		for i, e := range batch {
			puts[i] = kvstypes.PutKeyRequestListItem{Key: aws.String(DenyKey(e.Multihash)), Value: aws.String(strconv.Itoa(e.Status))}
		}
		var err error
		size, err = l.withETag(ctx, func(etag *string) (int64, error) {
			out, err := l.client.UpdateKeys(ctx, &kvs.UpdateKeysInput{KvsARN: &l.arn, Puts: puts, IfMatch: etag})
			if err != nil {
				return 0, err
			}
			return aws.ToInt64(out.TotalSizeInBytes), nil
		})
		if err != nil {
			return done, size, err
		}
		done += len(batch)
	}
	return len(entries), size, nil
}

// Unblock removes c's multihash; a key not there is not an error.
func (l *EdgeList) Unblock(ctx context.Context, mh multihash.Multihash) error {
	key := DenyKey(mh)
	_, err := l.withETag(ctx, func(etag *string) (int64, error) {
		_, err := l.client.DeleteKey(ctx, &kvs.DeleteKeyInput{KvsARN: &l.arn, Key: &key, IfMatch: etag})
		var nf *kvstypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return 0, nil
		}
		return 0, err
	})
	return err
}

// Size returns the store's size in bytes and its item count.
func (l *EdgeList) Size(ctx context.Context) (int64, int32, error) {
	out, err := l.client.DescribeKeyValueStore(ctx, &kvs.DescribeKeyValueStoreInput{KvsARN: &l.arn})
	if err != nil {
		return 0, 0, fmt.Errorf("cdn: describe %s: %w", l.arn, err)
	}
	return aws.ToInt64(out.TotalSizeInBytes), aws.ToInt32(out.ItemCount), nil
}

// withETag runs write with the store's current ETag, again with a fresh
// one when another writer got in between.
func (l *EdgeList) withETag(ctx context.Context, write func(etag *string) (int64, error)) (int64, error) {
	for attempt := 1; ; attempt++ {
		d, err := l.client.DescribeKeyValueStore(ctx, &kvs.DescribeKeyValueStoreInput{KvsARN: &l.arn})
		if err != nil {
			return 0, fmt.Errorf("cdn: describe %s: %w", l.arn, err)
		}
		n, err := write(d.ETag)
		var conflict *kvstypes.ConflictException
		if errors.As(err, &conflict) && attempt < conflictRetries {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("cdn: %s: %w", l.arn, err)
		}
		return n, nil
	}
}

// Invalidator creates CloudFront invalidations of one distribution.
type Invalidator struct {
	client       *cloudfront.Client
	distribution string
	now          func() time.Time
}

// NewInvalidator returns an Invalidator of the distribution id.
func NewInvalidator(client *cloudfront.Client, distribution string) *Invalidator {
	return &Invalidator{client: client, distribution: distribution, now: time.Now}
}

// MaxPathsPerInvalidation is CloudFront's limit on the paths of one
// invalidation request.
const MaxPathsPerInvalidation = 3000

// Invalidate creates one invalidation of paths (each starting with "/"; a
// trailing * matches every path it starts) and returns its id.
func (v *Invalidator) Invalidate(ctx context.Context, paths []string) (string, error) {
	if len(paths) == 0 || len(paths) > MaxPathsPerInvalidation {
		return "", fmt.Errorf("cdn: %d paths in one invalidation (1 to %d)", len(paths), MaxPathsPerInvalidation)
	}
	ref := "hash-stream-" + strconv.FormatInt(v.now().UnixNano(), 36)
	out, err := v.client.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: &v.distribution,
		InvalidationBatch: &cftypes.InvalidationBatch{
			CallerReference: &ref,
			Paths:           &cftypes.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
	if err != nil {
		return "", fmt.Errorf("cdn: invalidate %d paths on %s: %w", len(paths), v.distribution, err)
	}
	if out.Invalidation == nil {
		return "", fmt.Errorf("cdn: invalidation on %s: no invalidation in the answer", v.distribution)
	}
	return aws.ToString(out.Invalidation.Id), nil
}

// CIDPaths returns the invalidation paths that cover every cached response
// for c's multihash, with or without a path after it: /ipfs/<form>* for
// the forms a client may use (CIDv1 in base32 and base36 with c's codec
// and as raw, and CIDv0 for a dag-pb sha2-256 CID). A cache key carries
// the CID as the client wrote it, so each form is its own path.
func CIDPaths(c cid.Cid) []string {
	mh := c.Hash()
	codecs := []uint64{c.Type()}
	if c.Type() != cid.Raw {
		codecs = append(codecs, cid.Raw)
	}
	var paths []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			paths = append(paths, "/ipfs/"+s+"*")
		}
	}
	for _, codec := range codecs {
		v1 := cid.NewCidV1(codec, mh)
		add(v1.String())
		if s, err := v1.StringOfBase(multibase.Base36); err == nil {
			add(s)
		}
	}
	if dec, err := multihash.Decode(mh); err == nil && dec.Code == multihash.SHA2_256 && dec.Length == 32 && c.Type() == cid.DagProtobuf {
		add(cid.NewCidV0(mh).String())
	}
	return paths
}
