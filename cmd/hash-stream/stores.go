package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Environment variables, named as in the JavaScript Hash Stream CLI. The
// s3 backend's are declared beside the S3 store, which reads them.
const (
	envBackend = "HASH_STREAM_STORE_BACKEND"
	envDir     = "HASH_STREAM_DIR"
)

// storeFlags are the flags every command that opens the stores takes.
type storeFlags struct {
	backend string
	dir     string
	fsync   bool
	// maxIndexFile, when set, caps the index files the stores read
	// (serve's --max-index-file-bytes); 0 leaves the stores' default.
	maxIndexFile int64
}

func (s *storeFlags) register(fs *flagSet, env *cliEnv) {
	fs.stringVar(&s.backend, []string{"store-backend", "sb"}, env.getenv(envBackend), `storage backend: "fs" or "s3" (env `+envBackend+`, default fs)`)
	fs.stringVar(&s.dir, []string{"dir"}, env.getenv(envDir), "folder of the fs store, holding index/ and pack/ (env "+envDir+", default ~/.hash-stream)")
	fs.boolVar(&s.fsync, []string{"fsync"}, true, "fs store: sync each pack and index file to disk as it is written (--fsync=false writes at page-cache speed, without that crash safety)")
}

// stores are the opened index and pack stores, and a description for output.
type stores struct {
	index   store.IndexStore
	packs   store.PackStore
	backend string
	where   string
}

func (s *storeFlags) open(ctx context.Context, env *cliEnv, create bool) (*stores, error) {
	switch s.backend {
	case "", "fs":
		dir := s.dir
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("no --dir and no home folder: %w", err)
			}
			dir = filepath.Join(home, ".hash-stream")
		}
		if !create {
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("store folder %s: %w", dir, err)
			}
		}
		opts := []fs.Option{fs.WithSync(s.fsync)}
		if s.maxIndexFile > 0 {
			opts = append(opts, fs.WithMaxIndexFileBytes(s.maxIndexFile))
		}
		return &stores{
			index:   fs.NewIndexStore(filepath.Join(dir, "index"), opts...),
			packs:   fs.NewPackStore(filepath.Join(dir, "pack"), fs.WithSync(s.fsync)),
			backend: "fs",
			where:   dir,
		}, nil
	case "s3":
		var opts []s3.Option
		if s.maxIndexFile > 0 {
			opts = append(opts, s3.WithMaxIndexFileBytes(s.maxIndexFile))
		}
		idx, packs, e, err := s3.OpenFromEnv(ctx, env.getenv, opts...)
		if err != nil {
			return nil, fmt.Errorf("the s3 backend: %w", err)
		}
		return &stores{
			index:   idx,
			packs:   packs,
			backend: "s3",
			where:   fmt.Sprintf("s3://%s/%s, s3://%s/%s", e.IndexBucket, e.IndexPrefix, e.PackBucket, e.PackPrefix),
		}, nil
	}
	return nil, fmt.Errorf("%w: unknown store backend %q (want fs or s3)", errUsage, s.backend)
}

// writeFlags are the flags of the commands that write: the stores, the
// index writer and the readers' limits.
type writeFlags struct {
	storeFlags
	writer string
	limitFlags
}

func (w *writeFlags) register(fs *flagSet, env *cliEnv, writerUsage string) {
	w.storeFlags.register(fs, env)
	fs.stringVar(&w.writer, []string{"index-writer", "iw"}, "all", writerUsage)
	w.limitFlags.register(fs, "longest block stored; a longer one is refused, naming it, before anything is stored")
}

// limitFlags are the readers' limits a command that writes holds its input
// to, so that it stores nothing serve would refuse.
type limitFlags struct {
	maxBlock int64
}

func (l *limitFlags) register(fs *flagSet, usage string) {
	fs.Int64Var(&l.maxBlock, "max-block-bytes", index.DefaultMaxBlockBytes, usage+" (serve's --max-block-bytes: give both the same value)")
}

// limits returns the limits the flags give: the index file cap is the
// stores' default, which serve reads with.
func (l *limitFlags) limits() (index.Limits, error) {
	if l.maxBlock <= 0 {
		return index.Limits{}, fmt.Errorf("%w: --max-block-bytes must be positive", errUsage)
	}
	return index.Limits{MaxBlockBytes: l.maxBlock, MaxFileBytes: store.DefaultMaxIndexFileBytes}, nil
}

// open opens the stores, creating an fs store's folder, and the index
// writers --index-writer names, and returns the limits to hold the input
// to.
func (w *writeFlags) open(ctx context.Context, env *cliEnv) (*stores, []index.Writer, index.Limits, error) {
	limits, err := w.limits()
	if err != nil {
		return nil, nil, limits, err
	}
	st, err := w.storeFlags.open(ctx, env, true)
	if err != nil {
		return nil, nil, limits, err
	}
	if env.wrapStores != nil {
		env.wrapStores(st)
	}
	writers, err := indexWriters(w.writer, st.index)
	if err != nil {
		return nil, nil, limits, err
	}
	return st, writers, limits, nil
}

// newS3Client returns an S3 client configured by the environment (the
// AWS variables and HASH_STREAM_S3_*), for objects other than the stores'.
func newS3Client(ctx context.Context, env *cliEnv) (*awss3.Client, error) {
	c, err := s3.ConfigFromGetenv(env.getenv)
	if err != nil {
		return nil, err
	}
	return s3.NewClient(ctx, c)
}
