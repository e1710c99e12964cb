package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/hash-stream/hash-stream-aws/lib/fetch"
	"github.com/ipfs/go-cid"
	"github.com/schollz/progressbar/v3"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func fetchCmd(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("fetch", "<cid>[/path] [-o out]", "Fetches content from trustless gateways and verifies every block against its CID\n"+
		"before writing it. A UnixFS file is fetched as parallel entity-bytes slices whose URLs\n"+
		"depend only on the file (a CDN caches them), each retried on the next gateway when it\n"+
		"fails; a UnixFS directory (plain or HAMT) is written as a tree; --car writes a CAR of the\n"+
		"DAG instead (any codec). A path is resolved over verified blocks. The output appears\n"+
		"under its name only when complete; the temporary folder of a killed fetch is removed by\n"+
		"the next fetch to the same output. Gateways are not trusted: a tree is read once per\n"+
		"distinct block and refused before anything is written when it is over --max-entries,\n"+
		"--max-depth or --max-bytes (a DAG that reuses its subtrees counts them once per name);\n"+
		"a response slower than --min-rate over --rate-window is failed over like a stalled one.", env.stderr)
	var gateways stringList
	var out, sliceSize, maxBytes, maxEntries, minRate string
	var parallel, retries, maxDepth int
	var asCAR, sigv4, symlinks bool
	var idle, rateWindow, timeout time.Duration
	fs.Var(&gateways, "gateway", "gateway base URL, repeatable: requests are spread over them and fail over (default http://"+DefaultListen+")")
	fs.stringVar(&out, []string{"output", "o"}, "", "output file or folder (default: the last path segment or the CID; with --car, that and .car; - for standard output with --car)")
	fs.stringVar(&sliceSize, []string{"slice-size"}, strconv.Itoa(fetch.DefaultSliceSize), "file bytes per slice request")
	fs.intVar(&parallel, []string{"parallel", "p"}, fetch.DefaultParallelism, "slice requests in flight")
	fs.intVar(&retries, []string{"retries"}, fetch.DefaultRetries, "further attempts of a failed request, each on the next gateway")
	fs.durationVar(&idle, []string{"idle-timeout"}, fetch.DefaultIdleTimeout, "fail over a response that sends nothing for this long")
	fs.durationVar(&timeout, []string{"timeout"}, 0, "give up the whole fetch after this long (0: no limit)")
	fs.stringVar(&minRate, []string{"min-rate"}, strconv.Itoa(fetch.DefaultMinRate), "bytes per second a response must average over each --rate-window, else it is failed over (0: no minimum)")
	fs.durationVar(&rateWindow, []string{"rate-window"}, fetch.DefaultRateWindow, "the window --min-rate is measured over")
	fs.stringVar(&maxBytes, []string{"max-bytes"}, "0", "refuse content of more bytes than this (0: the size the root declares: a file's size, the sum of a directory's link sizes)")
	fs.stringVar(&maxEntries, []string{"max-entries"}, strconv.Itoa(fetch.DefaultMaxEntries), "refuse a tree of more names than this, a subtree under several names counted once per name")
	fs.intVar(&maxDepth, []string{"max-depth"}, fetch.DefaultMaxDepth, "refuse a tree of more folder levels than this")
	fs.boolVar(&symlinks, []string{"symlinks"}, false, "write a tree's symbolic links as they are (their targets are not checked; nothing is written through them); without it a tree holding one is refused")
	fs.boolVar(&asCAR, []string{"car"}, false, "write a CAR of the whole DAG (in the spec's order) instead of the file")
	fs.boolVar(&sigv4, []string{"sigv4"}, false, "sign requests (AWS SigV4, service lambda) with the SDK's default credentials and region: a Function URL with IAM auth")
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return err
	}
	root, segments, err := fetch.ParsePath(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	size, err := strconv.ParseInt(sliceSize, 10, 64)
	if err != nil || size <= 0 {
		return fmt.Errorf("%w: bad --slice-size %q", errUsage, sliceSize)
	}
	if parallel <= 0 || retries < 0 || idle <= 0 {
		return fmt.Errorf("%w: --parallel must be at least 1, --retries at least 0, --idle-timeout above 0", errUsage)
	}
	bytesCap, err := parseCount("max-bytes", maxBytes, 0)
	if err != nil {
		return err
	}
	entriesCap, err := parseCount("max-entries", maxEntries, 1)
	if err != nil {
		return err
	}
	rate, err := parseCount("min-rate", minRate, 0)
	if err != nil {
		return err
	}
	if maxDepth <= 0 || timeout < 0 || (rate > 0 && rateWindow <= 0) {
		return fmt.Errorf("%w: --max-depth must be at least 1, --timeout at least 0, --rate-window above 0", errUsage)
	}
	if out == "-" && !asCAR {
		return fmt.Errorf("%w: -o - (standard output) only with --car", errUsage)
	}
	if len(gateways) == 0 {
		gateways = stringList{"http://" + DefaultListen}
	}
	var logMu sync.Mutex // slices fail from several goroutines
	opts := []fetch.Option{fetch.WithSliceSize(size), fetch.WithParallelism(parallel), fetch.WithRetries(retries), fetch.WithIdleTimeout(idle),
		fetch.WithMaxBytes(bytesCap), fetch.WithMaxEntries(entriesCap), fetch.WithMaxDepth(maxDepth),
		fetch.WithMinRate(rate, rateWindow), fetch.WithSymlinks(symlinks),
		fetch.WithLog(func(msg string) {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintln(env.stderr, msg)
		})}
	if sigv4 {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("--sigv4: %w", err)
		}
		if cfg.Region == "" {
			return fmt.Errorf("%w: --sigv4 needs a region (AWS_REGION or the profile's)", errUsage)
		}
		opts = append(opts, fetch.WithRequestEditor(fetch.SigV4(cfg.Credentials, "lambda", cfg.Region)))
	}
	var bar *progressbar.ProgressBar
	if env.stderrIsTTY {
		bar = progressbar.DefaultBytes(-1, "fetching")
		defer bar.Close()
		opts = append(opts, fetch.WithProgress(func(n, total int64) {
			if total >= 0 && bar.GetMax64() != total {
				bar.ChangeMax64(total)
			}
			bar.Add64(n)
		}))
	}
	client, err := fetch.New(gateways, opts...)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if out == "" {
		out = root.String()
		if n := len(segments); n > 0 && segments[n-1] != "." && segments[n-1] != ".." {
			out = segments[n-1]
		}
		if asCAR {
			out += ".car"
		}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w after %s (--timeout)", errTimedOut, timeout))
		defer cancel()
	}
	if err := fetchTo(ctx, client, root, segments, out, asCAR, env.stdout); err != nil {
		return fetchError(ctx, err)
	}
	if out != "-" {
		fmt.Fprintf(env.stdout, "%s\n", out)
	}
	return nil
}

// parseCount parses the count flag name, at least least.
func parseCount(name, v string, least int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < least {
		return 0, fmt.Errorf("%w: bad --%s %q: want a whole number, at least %d", errUsage, name, v, least)
	}
	return n, nil
}

// errTimedOut is the cause of a fetch that ran out of its --timeout.
var errTimedOut = errors.New("timed out")

// fetchTo resolves the path and writes what it names to out.
func fetchTo(ctx context.Context, client *fetch.Client, root cid.Cid, segments []string, out string, asCAR bool, stdout io.Writer) error {
	target, err := client.Resolve(ctx, root, segments)
	if err != nil {
		return err
	}
	switch {
	case out == "-" && asCAR:
		w := bufio.NewWriterSize(stdout, 1<<20)
		if err := client.WriteCAR(ctx, target, w); err != nil {
			return err
		}
		return w.Flush()
	case asCAR:
		return client.FetchCAR(ctx, target, out)
	default:
		return client.Fetch(ctx, target, out)
	}
}

// fetchError says why a fetch failed in the flags' words: the timeout
// rather than a cancelled request, the flag that raises a limit.
func fetchError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errTimedOut) {
		return cause
	}
	var le *fetch.LimitError
	if errors.As(err, &le) {
		return fmt.Errorf("%w; --max-%s raises the limit", err, le.What)
	}
	if errors.Is(err, fetch.ErrSymlink) {
		return fmt.Errorf("%w; --symlinks writes symbolic links as they are", err)
	}
	return err
}
