package pack_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

var server *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, &server) }

// The interop round trip through the S3 backend on a real server: the
// originals written with both index writers give the JS store's packs and
// index files, under the S3 key layout (pack <k>/<k>.car, index
// <k>/<k>/<file> with a sub-record file named <ks>/<ks>).
func TestWriteFileMatchesJavaScriptStoreOnS3(t *testing.T) {
	interop := filepath.Join(testutil.Shared(t), "interop")
	var exp expectedFiles
	readJSON(t, filepath.Join(interop, "expected.json"), &exp)
	client := server.Client()
	indexBucket, packBucket := server.NewBucket(t), server.NewBucket(t)
	packs := s3.NewPackStore(client, packBucket, s3.WithPrefix("p/"))
	idx := s3.NewIndexStore(client, indexBucket, s3.WithPrefix("i/"))
	writers := []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}
	ctx := context.Background()
	for _, f := range exp.Files {
		in, err := os.Open(filepath.Join(interop, f.Original))
		if err != nil {
			t.Fatal(err)
		}
		root, infos, err := pack.WriteFile(ctx, packs, in, pack.WithMaxSize(f.PackMaxSize), pack.WithTempDir(t.TempDir()))
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := pack.AddToIndex(ctx, writers, infos, root.Hash()); err != nil {
			t.Fatal(err)
		}
	}
	js := filepath.Join(interop, "js-fs-store")
	// FS name -> S3 key: pack/<k>.car -> p/<k>/<k>.car;
	// index/<k>/<f> -> i/<k>/<k>/<f>, or i/<k>/<k>/<f>/<f> when <f> is a key.
	want := map[string][]byte{}
	for rel, data := range listTree(t, filepath.Join(js, "pack"), false) {
		k := strings.TrimSuffix(rel, ".car")
		want["pack p/"+k+"/"+k+".car"] = data
	}
	for rel, data := range listTree(t, filepath.Join(js, "index"), true) {
		k, file, _ := strings.Cut(rel, "/") // file: a key, or timestamp/N
		if !strings.HasPrefix(file, "timestamp/") {
			file = file + "/" + file
		}
		want["index i/"+k+"/"+k+"/"+file] = data
	}
	got := map[string][]byte{}
	for _, b := range []struct{ kind, bucket string }{{"pack", packBucket}, {"index", indexBucket}} {
		list, err := client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(b.bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var stamped []string
		for _, o := range list.Contents {
			obj, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(b.bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			key := aws.ToString(o.Key)
			if base := filepath.Base(key); isDigits(base) {
				stamped = append(stamped, filepath.Dir(key)+"\x00"+string(data))
				continue
			}
			got[b.kind+" "+key] = data
		}
		// Timestamp-named files compare by folder and content, as listTree names them.
		sort.Strings(stamped)
		counts := map[string]int{}
		for _, s := range stamped {
			folder, data, _ := strings.Cut(s, "\x00")
			counts[folder]++
			got[b.kind+" "+filepath.Join(folder, "timestamp", string(rune('0'+counts[folder])))] = []byte(data)
		}
	}
	if len(want) != 18 || len(got) != len(want) { // 4 packs, 14 index files
		t.Errorf("%d objects, want %d (and 18 in the JS store)", len(got), len(want))
	}
	for k, w := range want {
		if !bytes.Equal(got[k], w) {
			t.Errorf("%s: missing or different (%d vs %d bytes)", k, len(got[k]), len(w))
		}
	}
}
