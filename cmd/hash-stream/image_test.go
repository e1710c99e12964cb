package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The container images `make image` builds: a non-root user, serve as the
// entrypoint listening on every interface at 3000, under 30 MB, one per
// architecture. Running them is not possible in this sandbox (crun cannot
// set rlimits), so the binary they hold is tested outside the container by
// the rest of this package.
func TestImage(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("podman not found with CI=true (bash .ci/tools.sh installs it)")
		}
		t.Skip("podman not found: make image needs it")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		out, err := exec.Command(podman, "--storage-driver", "vfs", "image", "inspect", "hash-stream:"+arch).Output()
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("image hash-stream:%s: %v (.ci/run builds it with make image)", arch, err)
			}
			t.Skipf("image hash-stream:%s not built (make image): %v", arch, err)
		}
		var images []struct {
			Architecture string
			Size         int64
			Config       struct {
				User         string
				Entrypoint   []string
				Env          []string
				ExposedPorts map[string]struct{}
			}
		}
		if err := json.Unmarshal(out, &images); err != nil || len(images) != 1 {
			t.Fatalf("inspect %s: %v (%d images)", arch, err, len(images))
		}
		img := images[0]
		if img.Architecture != arch {
			t.Errorf("%s: architecture %q", arch, img.Architecture)
		}
		if img.Config.User == "" || strings.HasPrefix(img.Config.User, "0") || strings.HasPrefix(img.Config.User, "root") {
			t.Errorf("%s: user %q, want a non-root user", arch, img.Config.User)
		}
		if strings.Join(img.Config.Entrypoint, " ") != "/hash-stream serve" {
			t.Errorf("%s: entrypoint %q", arch, img.Config.Entrypoint)
		}
		if _, ok := img.Config.ExposedPorts["3000/tcp"]; !ok {
			t.Errorf("%s: exposed ports %v, want 3000/tcp", arch, img.Config.ExposedPorts)
		}
		if !strings.Contains(strings.Join(img.Config.Env, " "), envListen+"=0.0.0.0:3000") {
			t.Errorf("%s: env %v, want %s=0.0.0.0:3000", arch, img.Config.Env, envListen)
		}
		if img.Size <= 0 || img.Size > 30<<20 {
			t.Errorf("%s: %d bytes, want under 30 MiB", arch, img.Size)
		}
		t.Logf("hash-stream:%s: %d bytes, user %s", arch, img.Size, img.Config.User)
	}
}
