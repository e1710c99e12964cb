package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-car/v2"
)

// smokeSampleCID is the CID `hash-stream pack write testdata/hello.txt`
// gives: the sample a new deployment is checked with when no CID is named.
const smokeSampleCID = "bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4"

// smokeMaxBytes bounds what smoke reads of one response.
const smokeMaxBytes = 256 << 20

func smoke(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("smoke", "<url> [cid]", "Checks a deployed gateway: fetches the raw block and the CAR of cid (default: the\n"+
		"sample that `hash-stream pack write testdata/hello.txt` loads), verifies every byte and\n"+
		"the headers a cache relies on, then fetches both again and reports the cache's answer\n"+
		"(CloudFront's X-Cache). Exits 1 when a check fails.", env.stderr)
	var timeout time.Duration
	fs.durationVar(&timeout, []string{"timeout"}, 60*time.Second, "time allowed for each request")
	pos, err := fs.parse(args, 1, 2)
	if err != nil {
		return err
	}
	base := strings.TrimRight(pos[0], "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return fmt.Errorf("%w: %q is not an http(s) URL", errUsage, pos[0])
	}
	want := smokeSampleCID
	if len(pos) == 2 {
		want = pos[1]
	}
	root, err := cid.Decode(want)
	if err != nil {
		return fmt.Errorf("%w: bad CID %q: %v", errUsage, want, err)
	}
	client := &http.Client{Timeout: timeout}
	var failed []string
	for _, check := range []struct {
		format, accept string
		verify         func([]byte) (string, error)
	}{
		{"raw", "application/vnd.ipld.raw", func(b []byte) (string, error) { return verifyRaw(root, b) }},
		{"car", "application/vnd.ipld.car", func(b []byte) (string, error) { return verifyCAR(root, b) }},
	} {
		url := base + "/ipfs/" + root.String() + "?format=" + check.format
		for round := 1; round <= 2; round++ {
			res, err := smokeFetch(ctx, client, url, check.accept, check.verify)
			if err != nil {
				failed = append(failed, check.format)
				fmt.Fprintf(env.stdout, "FAIL %s (fetch %d): %v\n", url, round, err)
				break
			}
			fmt.Fprintf(env.stdout, "ok   %s (fetch %d): %s; %s; X-Cache: %s\n", url, round, res.what, res.elapsed.Round(time.Millisecond), res.cache)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s failed", strings.Join(failed, " and "))
	}
	fmt.Fprintln(env.stdout, "all checks passed")
	return nil
}

type smokeResult struct {
	what    string
	cache   string
	elapsed time.Duration
}

// smokeFetch fetches url, checks the headers a trustless response must
// carry, and verifies its body.
func smokeFetch(ctx context.Context, client *http.Client, url, accept string, verify func([]byte) (string, error)) (smokeResult, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return smokeResult{}, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return smokeResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, smokeMaxBytes+1))
	if err != nil {
		return smokeResult{}, fmt.Errorf("status %d, body cut after %d bytes: %w", resp.StatusCode, len(body), err)
	}
	if resp.StatusCode != http.StatusOK {
		return smokeResult{}, fmt.Errorf("status %d: %s", resp.StatusCode, clipText(body))
	}
	if len(body) > smokeMaxBytes {
		return smokeResult{}, fmt.Errorf("more than %d bytes: name a smaller CID", smokeMaxBytes)
	}
	var problems []string
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, accept) {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want %s", ct, accept))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=") {
		problems = append(problems, fmt.Sprintf("Cache-Control %q, want public, max-age=..., immutable", cc))
	}
	if resp.Header.Get("Etag") == "" {
		problems = append(problems, "no ETag")
	}
	if cl := resp.ContentLength; cl >= 0 && cl != int64(len(body)) {
		problems = append(problems, fmt.Sprintf("Content-Length %d, body %d bytes", cl, len(body)))
	}
	what, err := verify(body)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return smokeResult{}, errors.New(strings.Join(problems, "; "))
	}
	cache := resp.Header.Get("X-Cache")
	if cache == "" {
		cache = "(none: not behind CloudFront)"
	}
	return smokeResult{what: what, cache: cache, elapsed: time.Since(start)}, nil
}

// verifyRaw checks that body is the block root.
func verifyRaw(root cid.Cid, body []byte) (string, error) {
	if err := dag.Verify(root.Hash(), body); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d bytes, verified", len(body)), nil
}

// verifyCAR checks that body is a CARv1 rooted at root whose every block
// hashes to its CID, that root's block is in it, and that every link of
// every block it holds is in it too (the whole DAG, as dag-scope=all asks).
func verifyCAR(root cid.Cid, body []byte) (string, error) {
	br, err := car.NewBlockReader(bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("not a CAR: %w", err)
	}
	if len(br.Roots) != 1 || !br.Roots[0].Equals(root) {
		return "", fmt.Errorf("CAR roots %v, want [%s]", br.Roots, root)
	}
	have := make(map[string]bool)
	var links []cid.Cid
	n := 0
	for {
		b, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("block %d: %w", n+1, err)
		}
		if err := dag.Verify(b.Cid().Hash(), b.RawData()); err != nil {
			return "", err
		}
		have[b.Cid().KeyString()] = true
		ls, err := dag.Links(b.Cid(), b.RawData())
		if err != nil {
			return "", err
		}
		links = append(links, ls...)
		n++
	}
	for _, c := range append(links, root) {
		if _, inline, _ := dag.Inline(c.Hash()); !inline && !have[c.KeyString()] {
			return "", fmt.Errorf("the CAR lacks block %s", c)
		}
	}
	return fmt.Sprintf("%d blocks, %d bytes, every block verified, DAG complete", n, len(body)), nil
}

// clipText returns the start of an error body, for a one-line report.
func clipText(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
