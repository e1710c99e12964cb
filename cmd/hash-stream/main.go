// Command hash-stream loads content into a Hash Stream store and reads it
// back: it writes files as packs with their index records, imports CAR
// files, finds index records, dumps content, and serves the trustless
// gateway locally. Its commands, flags and environment variables mirror the
// JavaScript Hash Stream CLI, and it reads and writes the same stores.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
)

// command is one leaf command of the CLI.
type command struct {
	name  string // e.g. "pack write"
	args  string // positional arguments, for usage
	short string
	run   func(ctx context.Context, env *cliEnv, args []string) error
}

func commands() []command {
	return []command{
		{"pack write", "<file|folder>", "Write a file or a folder into packs and index them", packWrite},
		{"pack import", "<car>", "Store an existing CAR file as a pack and index it", packImport},
		{"pack extract", "<packCid> <file>", "Copy a stored pack to a file", packExtract},
		{"store copy", "--from fs|s3 --to fs|s3", "Copy a whole store to another backend, converting the layout, verified, in parallel", storeCopy},
		{"index add", "<packCid> <car> [containingCid]", "Index a CAR file already stored as pack packCid", indexAdd},
		{"index find records", "<cid> [containingCid]", "Print the index records of a CID", indexFindRecords},
		{"streamer dump", "<cid> <file> [containingCid]", "Write verified content to a file, as a CAR or raw bytes", streamerDump},
		{"serve", "", "Serve the trustless gateway over the store (default " + DefaultListen + ")", serve},
		{"smoke", "<url> [cid]", "Check a deployed gateway: verified raw block and CAR, cache headers, cache result", smoke},
		{"fetch", "<cid>[/path] [-o out]", "Fetch a file or directory (or a CAR with --car) from trustless gateways, verified, in parallel slices", fetchCmd},
		{"deny add", "<cid>[/path] [--status 410|451] [--reason text]", "Block content: in the denylist, the edge list, and CloudFront's caches", denyAdd},
		{"deny remove", "<cid>[/path]", "Lift a block of the takedowns list", denyRemove},
		{"deny list", "", "Print the takedowns list's rules and the other lists", denyList},
		{"deny check", "<cid>[/path]", "Say which denylist rule blocks or allows a CID or path", denyCheck},
		{"deny import", "<file.deny>", "Add a list (e.g. bad-bits) to the denylist folder, and its CID rules to the edge list", denyImport},
	}
}

// cliEnv carries what commands need from the process.
type cliEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	stderrIsTTY    bool
	onListen       func(addr string) // tests: called once serve listens
	onMetrics      func(addr string) // tests: called once serve's metrics listen
	wrapStores     func(*stores)     // tests: wraps the stores a write opens
	// cdnClients, in tests, gives deny its KeyValueStore and CloudFront
	// clients (pointed at fakes on loopback).
	cdnClients func() (*kvs.Client, *cloudfront.Client)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stderrIsTTY: isTerminal(os.Stderr)}
	os.Exit(run(ctx, env, os.Args[1:]))
}

// errUsage marks errors that come with the command's usage text.
var errUsage = errors.New("usage")

// run executes the command in args and returns the exit code.
func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(env.stdout, "hash-stream", version())
		return 0
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) < len(words) || strings.Join(args[:len(words)], " ") != c.name {
			continue
		}
		err := c.run(ctx, env, args[len(words):])
		if err == nil {
			return 0
		}
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(env.stderr, "hash-stream %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) {
			fmt.Fprintf(env.stderr, "usage: hash-stream %s %s (see --help)\n", c.name, c.args)
		}
		return 1
	}
	fmt.Fprintf(env.stderr, "hash-stream: unknown command %q (see hash-stream --help)\n", strings.Join(args, " "))
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `hash-stream: load content-addressed data into a Hash Stream store and serve it.

Usage: hash-stream <command> [arguments] [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-42s %s\n", c.name+" "+c.args, c.short)
	}
	fmt.Fprint(w, `
Every command takes --help. Stores are chosen with --store-backend fs|s3
(env HASH_STREAM_STORE_BACKEND, default fs). The fs store lives in --dir
(env HASH_STREAM_DIR, default ~/.hash-stream) with index/ and pack/ inside;
the s3 store uses HASH_STREAM_S3_INDEX_BUCKET, HASH_STREAM_S3_INDEX_PREFIX,
HASH_STREAM_S3_PACK_BUCKET, HASH_STREAM_S3_PACK_PREFIX and the usual AWS
credentials, region and endpoint (AWS_ENDPOINT_URL_S3 for a local server).
`)
}
