package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Environment variables, named as in the JavaScript Hash Stream CLI. The
// s3 backend's are declared beside the S3 store, which reads them.
const (
	envBackend     = "HASH_STREAM_STORE_BACKEND"
	envDir         = "HASH_STREAM_DIR"
	envIndexBucket = s3.EnvIndexBucket
	envIndexPrefix = s3.EnvIndexPrefix
	envPackBucket  = s3.EnvPackBucket
	envPackPrefix  = s3.EnvPackPrefix
)

// storeFlags are the flags every command that opens the stores takes.
type storeFlags struct {
	backend string
	dir     string
	fsync   bool
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
		return &stores{
			index:   fs.NewIndexStore(filepath.Join(dir, "index"), fs.WithSync(s.fsync)),
			packs:   fs.NewPackStore(filepath.Join(dir, "pack"), fs.WithSync(s.fsync)),
			backend: "fs",
			where:   dir,
		}, nil
	case "s3":
		idx, packs, e, err := s3.OpenFromEnv(ctx, env.getenv)
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

// writeFlags are the flags of the commands that write: the stores and the
// index writer.
type writeFlags struct {
	storeFlags
	writer string
}

func (w *writeFlags) register(fs *flagSet, env *cliEnv, writerUsage string) {
	w.storeFlags.register(fs, env)
	fs.stringVar(&w.writer, []string{"index-writer", "iw"}, "all", writerUsage)
}

// open opens the stores, creating an fs store's folder, and the index
// writers --index-writer names.
func (w *writeFlags) open(ctx context.Context, env *cliEnv) (*stores, []index.Writer, error) {
	st, err := w.storeFlags.open(ctx, env, true)
	if err != nil {
		return nil, nil, err
	}
	if env.wrapStores != nil {
		env.wrapStores(st)
	}
	writers, err := indexWriters(w.writer, st.index)
	if err != nil {
		return nil, nil, err
	}
	return st, writers, nil
}
