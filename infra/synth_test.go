package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCDKSynth runs the real CLI over cdk.json, as `make synth` does, and
// checks that it writes the stack's template. It needs the aws-cdk CLI on
// PATH (make tools installs it under .tools); CI must have it.
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
	out := t.TempDir()
	cmd := exec.Command(cdk, "synth", "--quiet", "--no-notices", "--no-version-reporting",
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
