package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestCDKSynth runs the real CLI over cdk.json, as `make synth` does, and
// checks that it writes the stack's template. It needs the aws-cdk CLI on
// PATH (make tools installs it under .tools); CI must have it.
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
	out := filepath.Join(tmp, "cdk.out")
	cmd := exec.Command(cdk, "synth", "--app", bin, "--quiet", "--no-notices", "--no-version-reporting",
		"-c", "lambdaDir="+lambdaDir, "-o", out)
	cmd.Dir = ".." // cdk.json is at the repository root
	cmd.Env = append(os.Environ(),
		"CDK_DISABLE_CLI_TELEMETRY=true",
		"CDK_DISABLE_VERSION_CHECK=true",
		"AWS_EC2_METADATA_DISABLED=true",
	)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cdk synth: %v\n%s", err, b)
	}
	if len(b) > 0 {
		// --quiet prints only warnings and errors.
		t.Errorf("cdk synth printed:\n%s", b)
	}
	raw, err := os.ReadFile(filepath.Join(out, DefaultStackName+".template.json"))
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
	for _, r := range tmpl.Resources {
		if _, ok := want[r.Type]; ok {
			want[r.Type] = true
		}
	}
	for typ, seen := range want {
		if !seen {
			t.Errorf("template has no %s", typ)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "AwsSolutions*"+DefaultStackName+"-NagReport.csv")); len(m) == 0 {
		t.Errorf("no cdk-nag report in %s", out)
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
