package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/hash-stream/hash-stream-aws/internal/cdntest"
	"github.com/hash-stream/hash-stream-aws/lib/cdn"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// runDeny runs a deny command with vars as its environment and the given
// CDN clients.
func runDeny(t *testing.T, vars map[string]string, kc *kvs.Client, cc *cloudfront.Client, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }}
	if kc != nil {
		env.cdnClients = func() (*kvs.Client, *cloudfront.Client) { return kc, cc }
	}
	code := run(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

func testCID(t *testing.T, s string) cid.Cid {
	mh, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, mh)
}

// deny add, check, list and remove on a folder of lists, with the edge
// list and the invalidations on fakes: every step is done and said.
func TestDenyLocal(t *testing.T) {
	dir := t.TempDir()
	kv, cf, kc, cc := cdntest.Start(t)
	vars := map[string]string{server.EnvDenylist: dir, envDenyKVS: cdntest.ARN, envDistribution: "EDIST"}
	c := testCID(t, "court order")
	v0 := cid.NewCidV0(c.Hash()).String()

	code, out, errOut := runDeny(t, vars, kc, cc, "deny", "add", v0, "--status", "451", "--reason", "case 42")
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"done: list " + filepath.Join(dir, DefaultTakedowns), "done: edge list: " + cdn.DenyKey(c.Hash()) + " → 451", "done: invalidation I1: /ipfs/" + c.String() + "*"} {
		if !strings.Contains(out, want) {
			t.Errorf("add output lacks %q:\n%s", want, out)
		}
	}
	if kv.Snapshot()[cdn.DenyKey(c.Hash())] != "451" {
		t.Errorf("edge list %v", kv.Snapshot())
	}
	if len(cf.Paths) != 1 || len(cf.Paths[0]) != len(cdn.CIDPaths(c)) {
		t.Errorf("invalidations %v", cf.Paths)
	}
	// The list is what serve reads: every form of the CID is blocked.
	set, err := denylist.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rule, blocked := set.Match(c, []string{"any", "path"}); !blocked || rule.Status != 451 || rule.Reason != "case 42" {
		t.Fatalf("list after add: %v %v", rule, blocked)
	}
	code, out, _ = runDeny(t, vars, kc, cc, "deny", "check", c.String()+"/any")
	if code != 0 || !strings.Contains(out, "blocked by "+DefaultTakedowns+":") || !strings.Contains(out, "status 451") {
		t.Errorf("check: %d %s", code, out)
	}
	code, out, _ = runDeny(t, vars, kc, cc, "deny", "list")
	if code != 0 || !strings.Contains(out, "/ipfs/"+c.String()+" status:451 reason:case%2042") {
		t.Errorf("list: %d %s", code, out)
	}
	// A path rule is origin only.
	code, out, _ = runDeny(t, vars, kc, cc, "deny", "add", c.String()+"/sub/file.txt")
	if code != 0 || !strings.Contains(out, "not done: edge list: a path rule is enforced at the origin only") {
		t.Errorf("add path: %d %s", code, out)
	}
	code, out, _ = runDeny(t, vars, kc, cc, "deny", "remove", c.String())
	if code != 0 || !strings.Contains(out, "rule for "+c.String()+" removed") || !strings.Contains(out, "done: edge list: "+cdn.DenyKey(c.Hash())+" removed") {
		t.Errorf("remove: %d %s", code, out)
	}
	if _, ok := kv.Snapshot()[cdn.DenyKey(c.Hash())]; ok {
		t.Error("still in the edge list")
	}
	code, out, _ = runDeny(t, vars, kc, cc, "deny", "check", c.String())
	if code != 0 || !strings.Contains(out, "not blocked") {
		t.Errorf("check after remove: %d %s", code, out)
	}
}

// A failed step fails the command, and the output says what was done and
// what was not: the list changed, the edge list failed, the invalidation
// still went out.
func TestDenyPartialFailure(t *testing.T) {
	dir := t.TempDir()
	kv, cf, kc, cc := cdntest.Start(t)
	kv.Fail = 100
	vars := map[string]string{server.EnvDenylist: dir, envDenyKVS: cdntest.ARN, envDistribution: "EDIST"}
	code, out, errOut := runDeny(t, vars, kc, cc, "deny", "add", testCID(t, "x").String())
	if code != 1 || !strings.Contains(out, "done: list") || !strings.Contains(out, "FAILED: edge list") ||
		!strings.Contains(out, "done: invalidation") || !strings.Contains(errOut, "edge list failed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if len(cf.Paths) != 1 {
		t.Errorf("invalidations %v", cf.Paths)
	}
	// No --denylist: a usage error, nothing done.
	if code, _, errOut := runDeny(t, map[string]string{}, nil, nil, "deny", "add", testCID(t, "y").String()); code != 1 || !strings.Contains(errOut, "no --denylist") {
		t.Errorf("no list: %d %s", code, errOut)
	}
}

// Two deny processes adding at once lose nothing: on a local list (file
// locks) and on an S3 list (conditional writes to the real S3 server).
func TestDenyConcurrentAdds(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hash-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	locations := map[string][]string{"local": {server.EnvDenylist + "=" + t.TempDir()}}
	if s3Server != nil {
		locations["s3"] = append(s3Server.Env(), "AWS_ENDPOINT_URL_S3="+s3Server.Endpoint, server.EnvDenylist+"=s3://"+s3Server.NewBucket(t)+"/deny/")
	}
	for name, env := range locations {
		t.Run(name, func(t *testing.T) {
			const processes, adds = 2, 6
			var wg sync.WaitGroup
			errs := make(chan error, processes)
			for p := range processes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range adds {
						cmd := exec.Command(bin, "deny", "add", testCID(t, fmt.Sprint(name, p, i)).String())
						cmd.Env = append(os.Environ(), env...)
						if out, err := cmd.CombinedOutput(); err != nil {
							errs <- fmt.Errorf("process %d add %d: %v\n%s", p, i, err, out)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "deny", "list")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("list: %v\n%s", err, out)
			}
			for p := range processes {
				for i := range adds {
					if c := testCID(t, fmt.Sprint(name, p, i)); !strings.Contains(string(out), "/ipfs/"+c.String()) {
						t.Errorf("lost: process %d add %d (%s)", p, i, c)
					}
				}
			}
		})
	}
}

// deny import adds a list under its own name; its CID rules go to the edge
// list in batches, up to --max-edge, and the output says how many did not.
func TestDenyImport(t *testing.T) {
	dir := t.TempDir()
	kv, _, kc, cc := cdntest.Start(t)
	vars := map[string]string{server.EnvDenylist: dir, envDenyKVS: cdntest.ARN}
	var text strings.Builder
	var cids []cid.Cid
	for i := range 120 {
		c := testCID(t, fmt.Sprint("imported ", i))
		cids = append(cids, c)
		text.WriteString("/ipfs/" + c.String() + "\n")
	}
	text.WriteString("//d9d295bde21f422d471a90f2a37ec53049fdf3e5fa3ee2e8f20e10003da429e7\n") // a legacy double hash: origin only
	file := filepath.Join(t.TempDir(), "others.deny")
	if err := os.WriteFile(file, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runDeny(t, vars, kc, cc, "deny", "import", file, "--max-edge", "100")
	if code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"done: list " + filepath.Join(dir, "others.deny") + ": 121 rules", "done: edge list: 100 CID rules", "not done: edge list: 20 more CID rules past --max-edge 100"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if fmt.Sprint(kv.Batches()) != fmt.Sprint([]int{cdn.MaxKeysPerUpdate, cdn.MaxKeysPerUpdate}) {
		t.Errorf("UpdateKeys batches %v", kv.Batches())
	}
	items := kv.Snapshot()
	for i, c := range cids {
		if _, ok := items[cdn.DenyKey(c.Hash())]; ok != (i < 100) {
			t.Errorf("CID %d in the edge list: %v", i, ok)
		}
	}
	// The origin holds every rule.
	set, err := denylist.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, blocked := set.Match(cids[119], nil); !blocked {
		t.Error("a rule past --max-edge is not in force at the origin")
	}
}
