package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// synthVariants are the context variants the README documents; the real
// CLI synthesizes each one, so none a user is told about fails at deploy
// time (cdk-nag findings only show up there as errors of the whole synth).
// env adds environment variables (AWS_REGION pins the region the CLI hands
// the app; without one it falls back to us-east-1).
var synthVariants = []struct {
	name string
	ctx  []string
	env  []string
}{
	{name: "default"},
	{name: "imported buckets", ctx: []string{"indexBucketName=my-index-bucket", "packBucketName=my-pack-bucket"}},
	{name: "imported buckets with prefixes", ctx: []string{
		"indexBucketName=my-index", "packBucketName=my-packs", "indexPrefix=store/index/", "packPrefix=store/packs/",
		"accessLogs=false", "removalPolicy=destroy",
	}},
	{name: "custom domain in us-east-1", ctx: []string{
		"domainName=ipfs.example.org", "hostedZoneId=Z0123456789ABC", "hostedZoneName=example.org",
	}, env: []string{"AWS_REGION=us-east-1"}},
	{name: "custom domain elsewhere", ctx: []string{
		"domainName=ipfs.example.org", "hostedZoneId=Z0123456789ABC",
		"certificateArn=arn:aws:acm:us-east-1:111122223333:certificate/11111111-2222-3333-4444-555555555555",
		"webAclArn=arn:aws:wafv2:us-east-1:111122223333:global/webacl/gw/abc",
	}, env: []string{"AWS_REGION=eu-west-1"}},
	{name: "guardrails in us-east-1", ctx: []string{
		"reservedConcurrency=50", "waf=true", "wafRateLimit=500", "wafCacheBustingRateLimit=100", "alarmEmail=ops@example.org",
	}, env: []string{"AWS_REGION=us-east-1"}},
	// Origin settings in a second region: Origin Shield, keep-alive,
	// Server-Timing sampling.
	{name: "origin settings elsewhere", ctx: []string{
		"originShieldRegion=eu-west-1", "originKeepaliveTimeout=30", "serverTimingSamplingRate=12.5", "reservedConcurrency=10",
	}, env: []string{"AWS_REGION=eu-west-1"}},
	{name: "imported SSE-KMS buckets", ctx: []string{
		"indexBucketName=my-index", "packBucketName=my-packs",
		"kmsKeyArn=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "alarms=false",
	}, env: []string{"AWS_REGION=eu-west-1"}},
	// compute=ecs: the image asset is only copied into the cloud assembly;
	// imageDir is filled in by the test.
	{name: "ecs", ctx: []string{"compute=ecs", "minTasks=2", "maxTasks=8", "taskCpu=2048", "taskMemory=4096",
		"cloudFrontPrefixListId=pl-12345678", "originShieldRegion=eu-west-1"},
		env: []string{"AWS_REGION=eu-west-1"}},
	// What `make synth CDK_ARGS="-c architecture=x86_64"` makes for sam local.
	{name: "x86_64 for sam local", ctx: []string{"architecture=x86_64"}},
	// ingest=true: the indexer, its notification (the custom resource's
	// handler included in cdk-nag's checks) and failure queue; on made
	// buckets with the alarm topic, and on imported ones in a region.
	// indexerLambdaDir is filled in by the test.
	{name: "ingest", ctx: []string{"ingest=true", "alarmEmail=ops@example.org", "indexerConcurrency=10"},
		env: []string{"AWS_REGION=eu-west-1"}},
	{name: "ingest into imported buckets", ctx: []string{
		"ingest=true", "indexBucketName=my-index", "packBucketName=my-packs", "indexPrefix=store/index/", "packPrefix=store/packs/",
		"ingestPrefix=store/ingest/", "rejectedPrefix=store/rejected/", "indexWriter=multiple-level", "alarms=false",
	}},
	{name: "overrides", ctx: []string{
		"memorySize=2048", "timeout=300", "logRetentionDays=7", "logLevel=debug", "metricsNamespace=HashStream",
		"accessLogExpirationDays=30", "originReadTimeout=30", "priceClass=All", "stackName=HashStreamOverrides",
	}},
}

// TestCDKSynth runs the real CLI over cdk.json, as `make synth` does, for
// every variant of synthVariants, and checks that it writes the stack's
// template and the cdk-nag report. It needs the aws-cdk CLI on PATH (make
// tools installs it under .tools); CI must have it.
//
// The app is built here with the same -race setting as this test binary and
// handed to the CLI with --app: the dependencies are then already compiled,
// where cdk.json's `go run ./infra` would compile all of aws-cdk-go again
// without -race (about 1.5 min on a cold cache).
func TestCDKSynth(t *testing.T) {
	cdk, err := exec.LookPath("cdk")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cdk not on PATH in CI: %v (run make tools)", err)
		}
		t.Skipf("cdk not on PATH (run make tools): %v", err)
	}
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("-short: skipping the real cdk synth")
	}
	var cdkJSON struct{ App string }
	if b, err := os.ReadFile("../cdk.json"); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &cdkJSON); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	if !strings.Contains(cdkJSON.App, "go run ./infra") {
		t.Errorf("cdk.json app %q does not run ./infra", cdkJSON.App)
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "infra")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	if b, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	// synth must not build images: a docker (and podman) that records a
	// call, first on PATH and named by CDK_DOCKER, which the CLI runs.
	shims := filepath.Join(tmp, "shims")
	called := filepath.Join(tmp, "docker-called")
	if err := os.Mkdir(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"docker", "podman"} {
		script := "#!/bin/sh\necho \"$0 $*\" >> " + called + "\nexit 1\n"
		if err := os.WriteFile(filepath.Join(shims, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	imageDir := filepath.Join(tmp, "image")
	if err := os.Mkdir(imageDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Dockerfile", "hash-stream"} {
		if err := os.WriteFile(filepath.Join(imageDir, f), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(called); err == nil {
			t.Errorf("cdk synth ran a container tool:\n%s", b)
		}
	})
	for i, v := range synthVariants {
		t.Run(v.name, func(t *testing.T) {
			// Each synth is a Node process and a Go one: two at a time
			// (the default -parallel on a 2-core machine) is what fits.
			t.Parallel()
			out := filepath.Join(tmp, fmt.Sprintf("cdk.out.%d", i))
			cargs := []string{"synth", "--app", bin, "--quiet", "--no-notices", "--no-version-reporting",
				"-c", "lambdaDir=" + lambdaDir, "-c", "invalidatorLambdaDir=" + lambdaDir, "-o", out}
			stackName := DefaultStackName
			ecs, ingest := false, false
			for _, c := range v.ctx {
				if c == "compute=ecs" {
					ecs = true
					cargs = append(cargs, "-c", "imageDir="+imageDir)
				}
				if c == "ingest=true" {
					ingest = true
					cargs = append(cargs, "-c", "indexerLambdaDir="+lambdaDir)
				}
				cargs = append(cargs, "-c", c)
				if name, ok := strings.CutPrefix(c, "stackName="); ok {
					stackName = name
				}
			}
			cmd := exec.Command(cdk, cargs...)
			cmd.Dir = ".." // cdk.json is at the repository root
			cmd.Env = append(os.Environ(),
				"CDK_DISABLE_CLI_TELEMETRY=true",
				"CDK_DISABLE_VERSION_CHECK=true",
				"AWS_EC2_METADATA_DISABLED=true",
				"CDK_DOCKER="+filepath.Join(shims, "docker"),
				"PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"),
			)
			cmd.Env = append(cmd.Env, v.env...)
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("cdk synth %s: %v\n%s", strings.Join(v.ctx, " "), err, b)
			}
			// --quiet prints only warnings and errors: the stack's own
			// configuration warnings (configWarnings) and nothing else. Where
			// no guardrail is set, the guardrails warning is printed.
			own, rest := splitOwnWarnings(string(b))
			if rest != "" {
				t.Errorf("cdk synth printed:\n%s", rest)
			}
			if want := wantsGuardrailsWarning(v.ctx); slices.Contains(own, WarnGuardrails) != want {
				t.Errorf("cdk synth printed the warnings %v: guardrails warning %v, want %v", own, !want, want)
			}
			checkSynthOutput(t, out, stackName, ecs, ingest)
		})
	}
}

// splitOwnWarnings separates the CLI's printout of the stack's own
// warnings (a "WARNING ..." line, then indented lines ending with
// "Acknowledge with 'Annotation::<id>'") from everything else, and
// returns their IDs.
func splitOwnWarnings(out string) (ids []string, rest string) {
	var other []string
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "WARNING ") {
			j := i + 1
			for j < len(lines) && strings.HasPrefix(lines[j], "   ") {
				j++
			}
			block := strings.Join(lines[i:j], "\n")
			if _, id, ok := strings.Cut(block, "Acknowledge with 'Annotation::hash-stream:"); ok {
				ids = append(ids, "hash-stream:"+strings.TrimSuffix(strings.TrimSpace(id), "'"))
				i = j - 1
				continue
			}
		}
		if strings.TrimSpace(lines[i]) != "" {
			other = append(other, lines[i])
		}
	}
	return ids, strings.Join(other, "\n")
}

// wantsGuardrailsWarning: compute=lambda with neither reservedConcurrency
// nor waf/webAclArn.
func wantsGuardrailsWarning(ctx []string) bool {
	for _, c := range ctx {
		k, v, _ := strings.Cut(c, "=")
		switch {
		case k == "compute" && v == ComputeECS, k == "reservedConcurrency", k == "webAclArn", k == "waf" && v == "true":
			return false
		}
	}
	return true
}

func checkSynthOutput(t *testing.T, out, stackName string, ecs, ingest bool) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, stackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct{ Type string }
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatalf("template: %v", err)
	}
	want := map[string]bool{"AWS::Lambda::Function": false, "AWS::Lambda::Url": false, "AWS::CloudFront::Distribution": false}
	if ecs {
		want = map[string]bool{"AWS::ECS::Service": false, "AWS::CloudFront::VpcOrigin": false, "AWS::CloudFront::Distribution": false}
		checkImageAsset(t, out, stackName)
	}
	// The self-healing subscription (heal.go), whatever the compute.
	want["AWS::Logs::SubscriptionFilter"] = false
	ingestTypes := []string{"Custom::S3BucketNotifications", "AWS::SQS::Queue", "AWS::Lambda::EventInvokeConfig"}
	if ingest {
		for _, typ := range ingestTypes {
			want[typ] = false
		}
	}
	for _, r := range tmpl.Resources {
		if _, ok := want[r.Type]; ok {
			want[r.Type] = true
		}
		if !ingest && slices.Contains(ingestTypes, r.Type) {
			t.Errorf("template has a %s without ingest=true", r.Type)
		}
	}
	for typ, seen := range want {
		if !seen {
			t.Errorf("template has no %s", typ)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "AwsSolutions*"+stackName+"-NagReport.csv")); len(m) == 0 {
		t.Errorf("no cdk-nag report in %s", out)
	}
}

// checkImageAsset: the cloud assembly names the arm64 image to build at
// deploy, from a copy of the build context (the Dockerfile is there).
func checkImageAsset(t *testing.T, out, stackName string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, stackName+".assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		DockerImages map[string]struct {
			Source struct{ Directory, Platform string }
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("assets manifest: %v", err)
	}
	if len(m.DockerImages) != 1 {
		t.Fatalf("%d docker image assets, want 1", len(m.DockerImages))
	}
	for _, img := range m.DockerImages {
		if img.Source.Platform != "linux/arm64" {
			t.Errorf("image platform %q, want linux/arm64", img.Source.Platform)
		}
		if _, err := os.Stat(filepath.Join(out, img.Source.Directory, "Dockerfile")); err != nil {
			t.Errorf("image build context not in the cloud assembly: %v", err)
		}
	}
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
