package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/hash-stream/hash-stream-aws/lib/cdn"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/ipfs/go-cid"
)

// Environment variables of deny: where the edge list and the distribution
// are (the stack's outputs name them).
const (
	envDenyKVS      = "HASH_STREAM_DENYLIST_KVS_ARN"
	envDistribution = "HASH_STREAM_DISTRIBUTION_ID"
)

// DefaultTakedowns is the list deny edits in a folder of lists.
const DefaultTakedowns = "takedowns.deny"

// listWriteRetries bounds the read-change-write rounds of one edit when
// other operators write the list at the same time.
const listWriteRetries = 10

// denyFlags are the flags of every deny command.
type denyFlags struct {
	location, list, kvsARN, distribution string
}

func (d *denyFlags) register(fs *flagSet, env *cliEnv) {
	fs.stringVar(&d.location, []string{"denylist"}, env.getenv(server.EnvDenylist), "the lists: a list file, a folder of *.deny files, or s3://bucket/prefix/ (env "+server.EnvDenylist+", as serve and the function read it)")
	fs.stringVar(&d.list, []string{"list"}, DefaultTakedowns, "in a folder or prefix, the list that add, remove and import edit")
	fs.stringVar(&d.kvsARN, []string{"kvs-arn"}, env.getenv(envDenyKVS), "the edge list: a CloudFront KeyValueStore ARN (env "+envDenyKVS+"; the stack output DenylistKvsArn); empty: origin only")
	fs.stringVar(&d.distribution, []string{"distribution-id"}, env.getenv(envDistribution), "the CloudFront distribution whose cached copies to invalidate (env "+envDistribution+"; the stack output DistributionId); empty: none")
}

// listFile is the one list deny edits: a local file or an S3 object, read
// and written on a condition so that concurrent edits lose nothing.
type listFile interface {
	// read returns the list's text ("" and version "" when it does not
	// exist yet) and its version.
	read(ctx context.Context) ([]byte, string, error)
	// write stores text if the list is still at version; else an error
	// wrapping store.ErrChanged.
	write(ctx context.Context, text []byte, version string) error
	String() string
}

// openList returns the list deny edits and the folder of every list.
func (d *denyFlags) openList(ctx context.Context, env *cliEnv) (listFile, denylist.Folder, error) {
	if d.location == "" {
		return nil, nil, fmt.Errorf("%w: no --denylist (or %s)", errUsage, server.EnvDenylist)
	}
	if !strings.HasSuffix(d.list, ".deny") || d.list != filepath.Base(d.list) {
		return nil, nil, fmt.Errorf("%w: --list %q: want a file name ending in .deny", errUsage, d.list)
	}
	if rest, ok := strings.CutPrefix(d.location, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, nil, fmt.Errorf("%w: --denylist %q: want s3://bucket/prefix/", errUsage, d.location)
		}
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		client, err := newS3Client(ctx, env)
		if err != nil {
			return nil, nil, err
		}
		f := s3.NewFolder(client, bucket, prefix, ".deny")
		return &s3List{folder: f, name: d.list}, f, nil
	}
	path := d.location
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		path = filepath.Join(path, d.list)
	} else if errors.Is(err, os.ErrNotExist) && !strings.HasSuffix(path, ".deny") {
		return nil, nil, fmt.Errorf("--denylist %s: %w", path, err)
	}
	folder, err := denylist.NewLocalFolder(d.location)
	if errors.Is(err, os.ErrNotExist) {
		folder, err = nil, nil // a list file made by the first add
	}
	if err != nil {
		return nil, nil, err
	}
	return &localList{path: path}, folder, nil
}

// edit changes the list with change, again on a fresh read when another
// operator wrote it in between.
func edit(ctx context.Context, l listFile, change func(text []byte) ([]byte, bool, error)) (bool, error) {
	for attempt := 1; ; attempt++ {
		text, version, err := l.read(ctx)
		if err != nil {
			return false, err
		}
		if version == "" {
			text = denylist.NewTakedowns()
		}
		out, changed, err := change(text)
		if err != nil || !changed {
			return false, err
		}
		if _, err := denylist.Parse(strings.NewReader(string(out)), l.String()); err != nil {
			return false, fmt.Errorf("the edited list would not parse (nothing written): %w", err)
		}
		err = l.write(ctx, out, version)
		if errors.Is(err, store.ErrChanged) && attempt < listWriteRetries {
			continue
		}
		return err == nil, err
	}
}

// cdnClients returns the edge list and the invalidator deny was given
// (nil when not).
func (d *denyFlags) cdnClients(ctx context.Context, env *cliEnv) (*cdn.EdgeList, *cdn.Invalidator, error) {
	if d.kvsARN == "" && d.distribution == "" {
		return nil, nil, nil
	}
	var kc *kvs.Client
	var cf *cloudfront.Client
	if env.cdnClients != nil {
		kc, cf = env.cdnClients()
	} else {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, nil, err
		}
		kc, cf = kvs.NewFromConfig(cfg), cloudfront.NewFromConfig(cfg)
	}
	var edge *cdn.EdgeList
	var inv *cdn.Invalidator
	if d.kvsARN != "" {
		edge = cdn.NewEdgeList(kc, d.kvsARN)
	}
	if d.distribution != "" {
		inv = cdn.NewInvalidator(cf, d.distribution)
	}
	return edge, inv, nil
}

// report prints what a deny command did and did not, and returns an
// error when a step failed: nothing is half-done silently.
type report struct {
	w      io.Writer
	failed []string
}

func (r *report) done(format string, args ...any) { fmt.Fprintf(r.w, "done: "+format+"\n", args...) }
func (r *report) skip(format string, args ...any) {
	fmt.Fprintf(r.w, "not done: "+format+"\n", args...)
}
func (r *report) fail(step string, err error) {
	fmt.Fprintf(r.w, "FAILED: %s: %v\n", step, err)
	r.failed = append(r.failed, step)
}
func (r *report) err() error {
	if len(r.failed) == 0 {
		return nil
	}
	return fmt.Errorf("%s failed (see above for what was done)", strings.Join(r.failed, ", "))
}

// targetCommand parses the flags and the one <cid>[/path] argument of a
// deny command.
func (d *denyFlags) targetCommand(fs *flagSet, env *cliEnv, args []string) (cid.Cid, []string, string, error) {
	d.register(fs, env)
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return cid.Undef, nil, "", err
	}
	c, path, err := denylist.ParseTarget(pos[0])
	if err != nil {
		return cid.Undef, nil, "", fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, path, pos[0], nil
}

func denyAdd(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("deny add", "<cid>[/path]", "Block a CID (every form of its multihash) or a path under it: in the list (the origin),\nin the edge list (a CID without a path) and by invalidating its cached copies.", env.stderr)
	var d denyFlags
	var status int
	var reason string
	fs.intVar(&status, []string{"status"}, http.StatusGone, "HTTP status of a blocked request: 410 (gone) or 451 (unavailable for legal reasons)")
	fs.stringVar(&reason, []string{"reason"}, "", "why, for operators: kept in the list, never sent to clients")
	c, path, target, err := d.targetCommand(fs, env, args)
	if err != nil {
		return err
	}
	if status != http.StatusGone && status != http.StatusUnavailableForLegalReasons {
		return fmt.Errorf("%w: --status %d: want 410 or 451", errUsage, status)
	}
	l, _, err := d.openList(ctx, env)
	if err != nil {
		return err
	}
	edge, inv, err := d.cdnClients(ctx, env)
	if err != nil {
		return err
	}
	r := &report{w: env.stdout}
	line := denylist.RuleLine(c, path, status, reason)
	added, err := edit(ctx, l, func(text []byte) ([]byte, bool, error) { return denylist.AddRule(text, line) })
	if err != nil {
		// The list is the origin's truth: without it, nothing else.
		r.fail("list "+l.String(), err)
		r.skip("edge list, invalidation: the list was not changed")
		return r.err()
	}
	if added {
		r.done("list %s: %s", l, line)
	} else {
		r.done("list %s: %s was listed already", l, target)
	}
	blockEdge(ctx, r, edge, c, path, status)
	invalidate(ctx, r, inv, c)
	return r.err()
}

// blockEdge sets c in the edge list; path rules stay at the origin.
func blockEdge(ctx context.Context, r *report, edge *cdn.EdgeList, c cid.Cid, path []string, status int) {
	switch {
	case edge == nil:
		r.skip("edge list: no --kvs-arn (the origin blocks within its check interval)")
	case len(path) > 0:
		r.skip("edge list: a path rule is enforced at the origin only")
	default:
		size, err := edge.Block(ctx, c.Hash(), status)
		if err != nil {
			r.fail("edge list", err)
			return
		}
		r.done("edge list: %s → %d (store %d of %d bytes)", cdn.DenyKey(c.Hash()), status, size, cdn.MaxKVSBytes)
	}
}

// invalidate removes the cached copies of c in every form.
func invalidate(ctx context.Context, r *report, inv *cdn.Invalidator, c cid.Cid) {
	if inv == nil {
		r.skip("invalidation: no --distribution-id")
		return
	}
	paths := cdn.CIDPaths(c)
	id, err := inv.Invalidate(ctx, paths)
	if err != nil {
		r.fail("invalidation", err)
		return
	}
	r.done("invalidation %s: %s", id, strings.Join(paths, " "))
}

func denyRemove(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("deny remove", "<cid>[/path]", "Lift a block this list holds: from the list and the edge list. Cached 410s expire within a minute.", env.stderr)
	var d denyFlags
	c, path, target, err := d.targetCommand(fs, env, args)
	if err != nil {
		return err
	}
	l, _, err := d.openList(ctx, env)
	if err != nil {
		return err
	}
	edge, _, err := d.cdnClients(ctx, env)
	if err != nil {
		return err
	}
	r := &report{w: env.stdout}
	removed, err := edit(ctx, l, func(text []byte) ([]byte, bool, error) {
		out, n := denylist.RemoveRules(text, c, path)
		return out, n > 0, nil
	})
	switch {
	case err != nil:
		r.fail("list "+l.String(), err)
		r.skip("edge list: the list was not changed")
		return r.err()
	case removed:
		r.done("list %s: rule for %s removed", l, target)
	default:
		r.done("list %s: no rule for %s", l, target)
	}
	if edge != nil && len(path) == 0 {
		if err := edge.Unblock(ctx, c.Hash()); err != nil {
			r.fail("edge list", err)
		} else {
			r.done("edge list: %s removed", cdn.DenyKey(c.Hash()))
		}
	}
	return r.err()
}

func denyList(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("deny list", "", "Print the rules of the list deny edits, and a line per other list.", env.stderr)
	var d denyFlags
	d.register(fs, env)
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	l, folder, err := d.openList(ctx, env)
	if err != nil {
		return err
	}
	text, version, err := l.read(ctx)
	if err != nil {
		return err
	}
	if version != "" {
		for _, line := range strings.Split(string(text), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				fmt.Fprintln(env.stdout, line)
			}
		}
	}
	if folder == nil {
		return nil
	}
	w, err := denylist.Watch(ctx, folder)
	if errors.Is(err, denylist.ErrNoRules) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, other := range w.Current().Lists() {
		if filepath.Base(other.Name) != d.list {
			fmt.Fprintf(env.stdout, "# %s: %d rules, %d ignored, %d invalid lines\n", other.Name, other.Rules, other.Ignored, other.Invalid)
		}
	}
	return nil
}

func denyCheck(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("deny check", "<cid>[/path]", "Say which rule of the lists blocks (or allows) a CID or path, as serve and the function apply them.", env.stderr)
	var d denyFlags
	c, path, target, err := d.targetCommand(fs, env, args)
	if err != nil {
		return err
	}
	_, folder, err := d.openList(ctx, env)
	if err != nil {
		return err
	}
	if folder == nil {
		return fmt.Errorf("--denylist %s: no list", d.location)
	}
	w, err := denylist.Watch(ctx, folder)
	if err != nil {
		return err
	}
	rule, blocked := w.Current().Match(c, path)
	switch {
	case blocked:
		fmt.Fprintf(env.stdout, "%s: %s\n", target, rule)
	case rule.File != "":
		fmt.Fprintf(env.stdout, "%s: not blocked: %s\n", target, rule)
	default:
		fmt.Fprintf(env.stdout, "%s: not blocked: no rule matches\n", target)
	}
	return nil
}

func denyImport(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("deny import", "<file.deny>", "Add a list (for example the bad-bits list) to the folder of lists, under its own name, replacing\nan earlier version; its /ipfs/CID rules also go to the edge list while it has room.", env.stderr)
	var d denyFlags
	var maxEdge int
	d.register(fs, env)
	fs.intVar(&maxEdge, []string{"max-edge"}, 10000, "CID rules at most that go to the edge list (its store holds 5 MB); the origin holds every rule")
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return err
	}
	name := filepath.Base(pos[0])
	if !strings.HasSuffix(name, ".deny") {
		return fmt.Errorf("%w: %s: a list file's name ends in .deny", errUsage, pos[0])
	}
	text, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	list, err := denylist.Parse(strings.NewReader(string(text)), name)
	if err != nil {
		return err
	}
	d.list = name
	l, _, err := d.openList(ctx, env)
	if err != nil {
		return err
	}
	edge, _, err := d.cdnClients(ctx, env)
	if err != nil {
		return err
	}
	r := &report{w: env.stdout}
	_, err = edit(ctx, l, func([]byte) ([]byte, bool, error) { return text, true, nil })
	if err != nil {
		r.fail("list "+l.String(), err)
		return r.err()
	}
	r.done("list %s: %d rules (%d ignored, %d invalid lines)", l, list.Rules, list.Ignored, list.Invalid)
	cids := list.BlockedCIDs()
	switch {
	case edge == nil:
		r.skip("edge list: no --kvs-arn")
	case len(cids) == 0:
		r.skip("edge list: the list has no /ipfs/CID rule (double-hash and path rules are enforced at the origin)")
	default:
		entries := make([]cdn.Entry, 0, min(len(cids), maxEdge))
		for _, b := range cids[:min(len(cids), maxEdge)] {
			entries = append(entries, cdn.Entry{Multihash: b.Multihash, Status: b.Status})
		}
		n, _, err := edge.BlockAll(ctx, entries)
		if err != nil {
			r.fail(fmt.Sprintf("edge list (after %d of %d)", n, len(entries)), err)
		}
		r.done("edge list: %d CID rules", n)
		if len(cids) > maxEdge {
			r.skip("edge list: %d more CID rules past --max-edge %d (the origin enforces them)", len(cids)-maxEdge, maxEdge)
		}
	}
	return r.err()
}
