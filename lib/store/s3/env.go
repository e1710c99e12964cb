package s3

import (
	"context"
	"errors"
	"fmt"
)

// Environment variables that name the buckets and key prefixes of the
// stores, as the JavaScript Hash Stream CLI names them. The CLI and the
// gateway and indexer functions read them (through ReadEnv); the infra
// sets them.
const (
	EnvIndexBucket = "HASH_STREAM_S3_INDEX_BUCKET"
	EnvIndexPrefix = "HASH_STREAM_S3_INDEX_PREFIX"
	EnvPackBucket  = "HASH_STREAM_S3_PACK_BUCKET"
	EnvPackPrefix  = "HASH_STREAM_S3_PACK_PREFIX"
)

// Env is what the environment says of the S3 stores: where they are and
// how to reach S3.
type Env struct {
	IndexBucket, IndexPrefix string
	PackBucket, PackPrefix   string
	// Client is read as ConfigFromGetenv reads it.
	Client Config
}

// ReadEnv reads Env with getenv (os.Getenv, or a map's lookup in tests).
// Both buckets are required; every problem is in the error, each on a line
// of its own (errors.Join), starting with "s3: ".
func ReadEnv(getenv func(string) string) (Env, error) {
	e := Env{
		IndexBucket: getenv(EnvIndexBucket), IndexPrefix: getenv(EnvIndexPrefix),
		PackBucket: getenv(EnvPackBucket), PackPrefix: getenv(EnvPackPrefix),
	}
	var errs []error
	for _, v := range []struct{ name, value string }{{EnvIndexBucket, e.IndexBucket}, {EnvPackBucket, e.PackBucket}} {
		if v.value == "" {
			errs = append(errs, fmt.Errorf("s3: %s is not set", v.name))
		}
	}
	var err error
	if e.Client, err = ConfigFromGetenv(getenv); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Env{}, errors.Join(errs...)
	}
	return e, nil
}

// Open returns the client e.Client describes and both stores on it, each
// with its prefix. opts apply to both (each store ignores what is not
// its); the prefixes of e win over a WithPrefix among them.
func (e Env) Open(ctx context.Context, opts ...Option) (*IndexStore, *PackStore, error) {
	client, err := NewClient(ctx, e.Client)
	if err != nil {
		return nil, nil, err
	}
	idx := NewIndexStore(client, e.IndexBucket, append(opts[:len(opts):len(opts)], WithPrefix(e.IndexPrefix))...)
	packs := NewPackStore(client, e.PackBucket, append(opts[:len(opts):len(opts)], WithPrefix(e.PackPrefix))...)
	return idx, packs, nil
}

// OpenFromEnv reads Env with getenv and opens the stores it describes:
// the wiring the CLI's s3 backend and the functions share (each function
// reads Env with its other variables, then calls Env.Open; the indexer
// reaches the pack bucket's objects through PackStore.Objects).
func OpenFromEnv(ctx context.Context, getenv func(string) string, opts ...Option) (*IndexStore, *PackStore, Env, error) {
	e, err := ReadEnv(getenv)
	if err != nil {
		return nil, nil, Env{}, err
	}
	idx, packs, err := e.Open(ctx, opts...)
	if err != nil {
		return nil, nil, Env{}, err
	}
	return idx, packs, e, nil
}
