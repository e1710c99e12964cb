package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// elfBootstrap writes a folder holding a bootstrap that is an ELF header
// for machine (all debug/elf needs to tell the architecture).
func elfBootstrap(t *testing.T, machine elf.Machine) string {
	t.Helper()
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stagedBootstrapMachine is the ELF machine of the bootstrap the template's
// function code points at, as staged in the cloud assembly.
func stagedBootstrapMachine(t *testing.T, s *synthesized) elf.Machine {
	t.Helper()
	_, fn := s.gatewayFunction(t)
	return stagedMachine(t, s, fn)
}

// stagedMachine is stagedBootstrapMachine for the function resource fn.
func stagedMachine(t *testing.T, s *synthesized, fn map[string]interface{}) elf.Machine {
	t.Helper()
	code, _ := props(fn)["Code"].(map[string]interface{})
	key, _ := code["S3Key"].(string)
	hash, ok := strings.CutSuffix(key, ".zip")
	if !ok {
		t.Fatalf("function Code %v: want an S3Key <asset hash>.zip", code)
	}
	f, err := elf.Open(filepath.Join(s.outdir, "asset."+hash, "bootstrap"))
	if err != nil {
		t.Fatalf("staged bootstrap: %v", err)
	}
	defer f.Close()
	return f.Machine
}

func TestArchitecture(t *testing.T) {
	armDir, amdDir := elfBootstrap(t, elf.EM_AARCH64), elfBootstrap(t, elf.EM_X86_64)
	for _, tc := range []struct {
		ctx     map[string]string
		arch    string
		machine elf.Machine
	}{
		{map[string]string{"lambdaDir": armDir}, "arm64", elf.EM_AARCH64},
		{map[string]string{"lambdaDir": armDir, "architecture": "arm64"}, "arm64", elf.EM_AARCH64},
		{map[string]string{"lambdaDir": amdDir, "architecture": "x86_64"}, "x86_64", elf.EM_X86_64},
	} {
		s := synth(t, tc.ctx, "")
		_, fn := s.gatewayFunction(t)
		if got, want := props(fn)["Architectures"], []interface{}{tc.arch}; !reflect.DeepEqual(got, want) {
			t.Errorf("%v: Architectures %v, want %v", tc.ctx, got, want)
		}
		if m := stagedBootstrapMachine(t, s); m != tc.machine {
			t.Errorf("%v: function code is built for %v, want %v", tc.ctx, m, tc.machine)
		}
		checkNoNagFindings(t, s)
	}
}

func TestArchitectureErrors(t *testing.T) {
	armDir, amdDir := elfBootstrap(t, elf.EM_AARCH64), elfBootstrap(t, elf.EM_X86_64)
	for _, tc := range []struct {
		ctx  map[string]string
		want string
	}{
		{map[string]string{"lambdaDir": amdDir}, "is built for EM_X86_64, architecture=arm64 needs EM_AARCH64"},
		{map[string]string{"lambdaDir": armDir, "architecture": "x86_64"}, "lambdaDir=build/lambda/gateway-amd64"},
		{map[string]string{"architecture": "amd64"}, `architecture="amd64": want arm64 or x86_64`},
		{map[string]string{"architecture": "x86_64", "compute": "ecs"}, "architecture needs compute=lambda"},
	} {
		_, err := build(t, tc.ctx, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.ctx, err, tc.want)
		}
	}
}

// The default lambdaDir follows the architecture, and is where the
// Makefile's build-lambda writes each build.
func TestArchitectureLambdaDir(t *testing.T) {
	for arch, want := range map[string]string{"": DefaultLambdaDir, "arm64": DefaultLambdaDir, "x86_64": DefaultLambdaDirX86_64, "X86_64": DefaultLambdaDirX86_64} {
		ctx := map[string]interface{}{}
		if arch != "" {
			ctx["architecture"] = arch
		}
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
		cfg, err := ConfigFromContext(app.Node())
		if err != nil {
			t.Fatalf("architecture=%q: %v", arch, err)
		}
		if cfg.LambdaDir != want {
			t.Errorf("architecture=%q: lambdaDir %q, want %q", arch, cfg.LambdaDir, want)
		}
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"LAMBDA_DIR": DefaultLambdaDir, "LAMBDA_LOCAL_DIR": DefaultLambdaDirX86_64} {
		m := regexp.MustCompile(`(?m)^` + name + ` \?= (\S+)$`).FindSubmatch(mk)
		if m == nil || string(m[1]) != want {
			t.Errorf("Makefile %s = %q, want %q", name, m, want)
		}
	}
	if !bytes.Contains(mk, []byte("GOARCH=amd64 go build $(LAMBDA_FLAGS) -o $(LAMBDA_LOCAL_DIR)/bootstrap")) {
		t.Error("Makefile build-lambda does not build the amd64 bootstrap into LAMBDA_LOCAL_DIR")
	}
}
