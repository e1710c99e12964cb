package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/hash-stream/hash-stream-aws/lib/fetch"
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
		"under its name only when complete.", env.stderr)
	var gateways stringList
	var out, sliceSize string
	var parallel, retries int
	var asCAR, sigv4 bool
	var idle time.Duration
	fs.Var(&gateways, "gateway", "gateway base URL, repeatable: requests are spread over them and fail over (default http://"+DefaultListen+")")
	fs.stringVar(&out, []string{"output", "o"}, "", "output file or folder (default: the last path segment or the CID; with --car, that and .car; - for standard output with --car)")
	fs.stringVar(&sliceSize, []string{"slice-size"}, strconv.Itoa(fetch.DefaultSliceSize), "file bytes per slice request")
	fs.intVar(&parallel, []string{"parallel", "p"}, fetch.DefaultParallelism, "slice requests in flight")
	fs.intVar(&retries, []string{"retries"}, fetch.DefaultRetries, "further attempts of a failed request, each on the next gateway")
	fs.durationVar(&idle, []string{"idle-timeout"}, fetch.DefaultIdleTimeout, "fail over a response that sends nothing for this long")
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
	if out == "-" && !asCAR {
		return fmt.Errorf("%w: -o - (standard output) only with --car", errUsage)
	}
	if len(gateways) == 0 {
		gateways = stringList{"http://" + DefaultListen}
	}
	var logMu sync.Mutex // slices fail from several goroutines
	opts := []fetch.Option{fetch.WithSliceSize(size), fetch.WithParallelism(parallel), fetch.WithRetries(retries), fetch.WithIdleTimeout(idle),
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
	target, err := client.Resolve(ctx, root, segments)
	if err != nil {
		return err
	}
	switch {
	case out == "-" && asCAR:
		w := bufio.NewWriterSize(env.stdout, 1<<20)
		if err := client.WriteCAR(ctx, target, w); err != nil {
			return err
		}
		return w.Flush()
	case asCAR:
		err = client.FetchCAR(ctx, target, out)
	default:
		err = client.Fetch(ctx, target, out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s\n", out)
	return nil
}
