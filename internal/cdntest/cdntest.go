// Package cdntest is a test rig: fake CloudFront KeyValueStore and
// CloudFront invalidation APIs on loopback, and SDK clients pointed at
// them, for the deny command and package cdn.
package cdntest

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// ARN is the fake store's ARN.
const ARN = "arn:aws:cloudfront::123456789012:key-value-store/0123abcd-0123-abcd-0123-0123456789ab"

// KVS is the KeyValueStore API on loopback: DescribeKeyValueStore,
// PutKey and DeleteKey with If-Match, as the service answers them. conflict
// makes the next n writes meet another writer's change.
type KVS struct {
	mu       sync.Mutex
	Items    map[string]string
	etag     int
	Conflict int   // the next Conflict writes meet another writer's change
	Fail     int   // the next Fail calls answer 500
	batches  []int // the keys of each UpdateKeys call, in order
	writes   int
}

func (f *KVS) size() int64 {
	var n int64
	for k, v := range f.Items {
		n += int64(len(k) + len(v))
	}
	return n
}

func (f *KVS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail > 0 {
		f.Fail--
		w.Header().Set("X-Amzn-Errortype", "InternalServerException")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"Message":"injected failure"}`)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/key-value-stores/"+ARN)
	if !ok {
		http.Error(w, "unknown store "+r.URL.Path, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if rest == "" && r.Method == http.MethodGet {
		w.Header().Set("ETag", fmt.Sprint("etag-", f.etag))
		json.NewEncoder(w).Encode(map[string]any{"KvsARN": ARN, "ItemCount": len(f.Items), "TotalSizeInBytes": f.size(), "Created": 1.7e9})
		return
	}
	key, ok := strings.CutPrefix(rest, "/keys/")
	batch := rest == "/keys" && r.Method == http.MethodPost // UpdateKeys
	if !ok && !batch {
		http.Error(w, "unknown path", http.StatusNotFound)
		return
	}
	if r.Header.Get("If-Match") != fmt.Sprint("etag-", f.etag) || f.Conflict > 0 {
		if f.Conflict > 0 {
			f.Conflict--
			f.etag++ // another writer got in
		}
		w.Header().Set("X-Amzn-Errortype", "ConflictException")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"Message":"the ETag does not match"}`)
		return
	}
	switch {
	case batch:
		var body struct {
			Puts    []struct{ Key, Value string }
			Deletes []struct{ Key string }
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.batches = append(f.batches, len(body.Puts)+len(body.Deletes))
		for _, p := range body.Puts {
			f.Items[p.Key] = p.Value
		}
		for _, d := range body.Deletes {
			delete(f.Items, d.Key)
		}
	case r.Method == http.MethodPut:
		var body struct{ Value string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.Items[key] = body.Value
	case r.Method == http.MethodDelete:
		if _, ok := f.Items[key]; !ok {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"Message":"no such key"}`)
			return
		}
		delete(f.Items, key)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	f.etag++
	f.writes++
	w.Header().Set("ETag", fmt.Sprint("etag-", f.etag))
	json.NewEncoder(w).Encode(map[string]any{"ItemCount": len(f.Items), "TotalSizeInBytes": f.size()})
}

// fixedEndpoint resolves every KeyValueStore call to one URL.
type fixedEndpoint struct{ url string }

func (e fixedEndpoint) ResolveEndpoint(context.Context, kvs.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(e.url)
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

// CloudFront answers CreateInvalidation as CloudFront's REST-XML API.
type CloudFront struct {
	mu    sync.Mutex
	Paths [][]string // the paths of each invalidation, in order
}

func (f *CloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/2020-05-31/distribution/EDIST/invalidation" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var batch struct {
		CallerReference string
		Paths           struct {
			Quantity int
			Items    []string `xml:"Items>Path"`
		}
	}
	if err := xml.NewDecoder(r.Body).Decode(&batch); err != nil || batch.Paths.Quantity != len(batch.Paths.Items) || batch.CallerReference == "" {
		http.Error(w, fmt.Sprint("bad batch ", err), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.Paths = append(f.Paths, batch.Paths.Items)
	id := fmt.Sprint("I", len(f.Paths))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/distribution/EDIST/invalidation/"+id)
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>%s</Id><Status>InProgress</Status><CreateTime>2026-12-07T00:00:00Z</CreateTime><InvalidationBatch><Paths><Quantity>%d</Quantity></Paths><CallerReference>%s</CallerReference></InvalidationBatch></Invalidation>`, id, len(batch.Paths.Items), batch.CallerReference)
}

// Config is an SDK configuration with static credentials, for the fakes.
func Config() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
}

// Start serves a fresh KVS and CloudFront on loopback until t ends and
// returns them with clients pointed at them.
func Start(t testing.TB) (*KVS, *CloudFront, *kvs.Client, *cloudfront.Client) {
	f := &KVS{Items: map[string]string{}}
	ks := httptest.NewServer(f)
	t.Cleanup(ks.Close)
	c := &CloudFront{}
	cs := httptest.NewServer(c)
	t.Cleanup(cs.Close)
	// The service's endpoint rules put the account id in front of the
	// host; a resolver of our own sends every call to the fake as it is.
	kc := kvs.NewFromConfig(Config(), func(o *kvs.Options) { o.EndpointResolverV2 = fixedEndpoint{ks.URL} })
	cc := cloudfront.NewFromConfig(Config(), func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(cs.URL) })
	return f, c, kc, cc
}

// Snapshot returns a copy of the store's items.
func (f *KVS) Snapshot() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.Items)
}

// Batches returns the number of keys of each UpdateKeys call, in order.
func (f *KVS) Batches() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}
