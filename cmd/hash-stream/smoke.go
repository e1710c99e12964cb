package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"
)

// smokeSampleCID is the CID `hash-stream pack write testdata/hello.txt`
// gives: the sample a new deployment is checked with when no CID is named.
const smokeSampleCID = "bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4"

// smokeMaxBytes bounds what smoke reads of one response.
const smokeMaxBytes = 256 << 20

func smoke(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("smoke", "<url> [cid]", "Checks a deployed gateway: fetches the raw block and the CAR of cid (default: the\n"+
		"sample that `hash-stream pack write testdata/hello.txt` loads), verifies every byte, the\n"+
		"byte count against Content-Length (or the Function URL's x-amzn-Remapped-Content-Length)\n"+
		"and the headers a cache relies on, then fetches both again and reports the cache's answer\n"+
		"(CloudFront's X-Cache); then HEAD of both, a CORS preflight (OPTIONS), and a 404 for a CID\n"+
		"no store holds. Exits 1 when a check fails.", env.stderr)
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
	report := func(name, target string, what string, err error) {
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintf(env.stdout, "FAIL %s: %v\n", target, err)
			return
		}
		fmt.Fprintf(env.stdout, "ok   %s: %s\n", target, what)
	}
	for _, check := range []struct {
		format, accept string
		verify         func([]byte) (string, error)
	}{
		{"raw", "application/vnd.ipld.raw", func(b []byte) (string, error) { return verifyRaw(root, b) }},
		{"car", "application/vnd.ipld.car", func(b []byte) (string, error) { return verifyCAR(root, b) }},
	} {
		url := base + "/ipfs/" + root.String() + "?format=" + check.format
		var last smokeResult
		ok := true
		for round := 1; round <= 2 && ok; round++ {
			res, err := smokeFetch(ctx, client, url, check.accept, check.verify)
			target := fmt.Sprintf("%s (fetch %d)", url, round)
			if err != nil {
				ok = false
				report(check.format, target, "", err)
				break
			}
			last = res
			report(check.format, target, fmt.Sprintf("%s; %s; %s; X-Cache: %s", res.what, res.length, res.elapsed.Round(time.Millisecond), res.cache), nil)
		}
		if ok {
			what, err := smokeHead(ctx, client, url, check.accept, last)
			report("HEAD "+check.format, "HEAD "+url, what, err)
		}
	}
	preflightURL := base + "/ipfs/" + root.String() + "?format=car"
	what, err := smokePreflight(ctx, client, preflightURL)
	report("OPTIONS", "OPTIONS "+preflightURL, what, err)
	missing, err := unknownCID()
	if err != nil {
		return err
	}
	missingURL := base + "/ipfs/" + missing.String() + "?format=raw"
	what, err = smokeNotFound(ctx, client, missingURL)
	report("404", missingURL, what, err)
	if len(failed) > 0 {
		return fmt.Errorf("%s failed", strings.Join(failed, ", "))
	}
	fmt.Fprintln(env.stdout, "all checks passed")
	return nil
}

type smokeResult struct {
	what    string
	cache   string
	elapsed time.Duration
	// length says what the body's size was checked against.
	length string
	// etag, contentType and size are what HEAD must agree with.
	etag, contentType string
	size              int
}

// remappedLengthHeader is where a Lambda Function URL puts the function's
// own Content-Length (it sends the body chunked): behind CloudFront the
// only record of how long the response was meant to be, so the only way
// to tell a cut response (cached or not) from a whole one.
const remappedLengthHeader = "X-Amzn-Remapped-Content-Length"

// checkLength compares n, the bytes received, with the length the
// response announced, and says which header it checked.
func checkLength(h http.Header, contentLength int64, n int) (string, error) {
	if v := h.Get(remappedLengthHeader); v != "" {
		want, err := strconv.ParseInt(v, 10, 64)
		if err != nil || want < 0 {
			return "", fmt.Errorf("%s %q is not a length", remappedLengthHeader, v)
		}
		if want != int64(n) {
			return "", fmt.Errorf("%s %d, body %d bytes: the response was cut (or padded) on its way", remappedLengthHeader, want, n)
		}
		return fmt.Sprintf("%d bytes as %s says", n, remappedLengthHeader), nil
	}
	if contentLength >= 0 {
		if contentLength != int64(n) {
			return "", fmt.Errorf("Content-Length %d, body %d bytes", contentLength, n)
		}
		return fmt.Sprintf("%d bytes as Content-Length says", n), nil
	}
	return fmt.Sprintf("%d bytes, no length announced (chunked)", n), nil
}

// smokeFetch fetches url, checks the headers a trustless response must
// carry and its length, and verifies its body.
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
	length, err := checkLength(resp.Header, resp.ContentLength, len(body))
	if err != nil {
		problems = append(problems, err.Error())
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
	return smokeResult{what: what, cache: cache, elapsed: time.Since(start), length: length,
		etag: resp.Header.Get("Etag"), contentType: resp.Header.Get("Content-Type"), size: len(body)}, nil
}

// smokeHead checks that HEAD of url answers as GET did (got): 200, the
// same Content-Type and ETag, and a length, when it announces one, equal
// to the body GET sent.
func smokeHead(ctx context.Context, client *http.Client, url, accept string, got smokeResult) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d, want 200 as for GET", resp.StatusCode)
	}
	var problems []string
	if ct := resp.Header.Get("Content-Type"); ct != got.contentType {
		problems = append(problems, fmt.Sprintf("Content-Type %q, GET had %q", ct, got.contentType))
	}
	if et := resp.Header.Get("Etag"); et != got.etag {
		problems = append(problems, fmt.Sprintf("ETag %q, GET had %q", et, got.etag))
	}
	length := "no length announced"
	if v := resp.Header.Get(remappedLengthHeader); v != "" {
		if v != strconv.Itoa(got.size) {
			problems = append(problems, fmt.Sprintf("%s %s, GET sent %d bytes", remappedLengthHeader, v, got.size))
		}
		length = remappedLengthHeader + " " + v
	} else if resp.ContentLength >= 0 {
		if resp.ContentLength != int64(got.size) {
			problems = append(problems, fmt.Sprintf("Content-Length %d, GET sent %d bytes", resp.ContentLength, got.size))
		}
		length = fmt.Sprintf("Content-Length %d", resp.ContentLength)
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("200, same Content-Type and ETag as GET, %s", length), nil
}

// smokeOrigin is the page origin the preflight check pretends to be.
const smokeOrigin = "https://smoke.example"

// smokePreflight sends the CORS preflight a browser sends before a
// cross-origin GET with an Accept header (verified-fetch in a page) and
// checks that the answer lets the GET go ahead.
func smokePreflight(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Origin", smokeOrigin)
	req.Header.Set("Access-Control-Request-Method", http.MethodGet)
	req.Header.Set("Access-Control-Request-Headers", "accept")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return "", fmt.Errorf("status %d, want 204 or 200", resp.StatusCode)
	}
	var problems []string
	if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "*" && o != smokeOrigin {
		problems = append(problems, fmt.Sprintf("Access-Control-Allow-Origin %q, want * or %s", o, smokeOrigin))
	}
	if !headerListHas(resp.Header.Values("Access-Control-Allow-Methods"), http.MethodGet) {
		problems = append(problems, fmt.Sprintf("Access-Control-Allow-Methods %q lacks GET", resp.Header.Values("Access-Control-Allow-Methods")))
	}
	if h := resp.Header.Values("Access-Control-Allow-Headers"); !headerListHas(h, "accept") && !headerListHas(h, "*") {
		problems = append(problems, fmt.Sprintf("Access-Control-Allow-Headers %q lacks Accept", h))
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d, any origin may GET with Accept", resp.StatusCode), nil
}

// headerListHas reports whether a comma-separated header holds want
// (case-insensitively).
func headerListHas(values []string, want string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), want) {
				return true
			}
		}
	}
	return false
}

// unknownCID is the raw CID of 32 random bytes' hash: no store holds it,
// and no cache has an answer for it yet.
func unknownCID() (cid.Cid, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return cid.Undef, err
	}
	sum := sha256.Sum256(b[:])
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.Raw, mh), nil
}

// smokeNotFound checks that the gateway answers 404 for a CID it does not
// hold: not 200 (something else served), not 5xx (the store is not
// reached), not 403.
func smokeNotFound(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		return "", fmt.Errorf("status %d for a CID no store holds, want 404: %s", resp.StatusCode, clipText(body))
	}
	return "404 for a CID no store holds", nil
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
