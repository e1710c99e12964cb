package main

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
)

// The function's instruction set (context architecture). arm64 (Graviton)
// is the default for AWS; x86_64 is for `sam local invoke` on an Intel or
// AMD host, where an arm64 image would need QEMU (binfmt_misc) to run.
const (
	ArchARM64  = "arm64"
	ArchX86_64 = "x86_64"
	// DefaultLambdaDirX86_64 is where `make build-lambda` leaves the
	// amd64 bootstrap: the default lambdaDir with architecture=x86_64.
	DefaultLambdaDirX86_64 = "build/lambda/gateway-amd64"
)

// defaultLambdaDir is the folder `make build-lambda` fills for arch.
func defaultLambdaDir(arch string) string {
	if arch == ArchX86_64 {
		return DefaultLambdaDirX86_64
	}
	return DefaultLambdaDir
}

// defaultIndexerLambdaDir is the folder `make build-lambda` fills with the
// indexer for arch.
func defaultIndexerLambdaDir(arch string) string {
	if arch == ArchX86_64 {
		return DefaultIndexerLambdaDirX86_64
	}
	return DefaultIndexerLambdaDir
}

func lambdaArchitecture(cfg Config) awslambda.Architecture {
	if cfg.Architecture == ArchX86_64 {
		return awslambda.Architecture_X86_64()
	}
	return awslambda.Architecture_ARM_64()
}

// elfMachine is the ELF machine a bootstrap built for each architecture has.
var elfMachine = map[string]elf.Machine{ArchARM64: elf.EM_AARCH64, ArchX86_64: elf.EM_X86_64}

// checkLambdaCode checks that lambdaDir holds a bootstrap and, when it is
// an ELF binary, that it is built for the function's architecture: an amd64
// bootstrap in an arm64 function deploys fine and then fails every
// invocation with an exec format error. A bootstrap that is not ELF (a
// script) is left alone.
func checkLambdaCode(cfg Config) error {
	return checkBootstrap("lambda code", "lambdaDir", cfg.LambdaDir, cfg.Architecture, defaultLambdaDir(cfg.Architecture))
}

// checkIndexerCode is checkLambdaCode for the indexer (ingest=true).
func checkIndexerCode(cfg Config) error {
	if !cfg.Ingest {
		return nil
	}
	return checkBootstrap("indexer code", "indexerLambdaDir", cfg.IndexerLambdaDir, cfg.Architecture, defaultIndexerLambdaDir(cfg.Architecture))
}

// checkBootstrap checks dir (context key) as checkLambdaCode says; what
// names the function in errors.
func checkBootstrap(what, key, dir, arch, defaultDir string) error {
	if err := checkLambdaDir(what, key, dir); err != nil {
		return err
	}
	path := filepath.Join(dir, "bootstrap")
	head := make([]byte, len(elf.ELFMAG))
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err = io.ReadFull(fh, head)
	fh.Close()
	if err != nil || string(head) != elf.ELFMAG {
		return nil // not ELF: a script, run as it is on either
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	want := elfMachine[arch]
	if f.Machine != want {
		return fmt.Errorf("%s: %s is built for %v, architecture=%s needs %v: run `make build-lambda` and pass -c %s=%s (or leave %s unset)",
			what, path, f.Machine, arch, want, key, defaultDir, key)
	}
	return nil
}
