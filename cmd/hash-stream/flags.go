package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// errHelp reports that --help was printed.
var errHelp = errors.New("help shown")

// flagSet wraps flag.FlagSet with JS-CLI style aliases (-iw and
// --index-writer name one flag) and flags allowed after positional
// arguments, as in "pack write file.txt --index-writer all".
type flagSet struct {
	*flag.FlagSet
	usage string
}

func newFlagSet(name, args, about string, out io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.usage = fmt.Sprintf("Usage: hash-stream %s %s [flags]\n\n%s\n\nFlags:\n", name, args, about)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), fs.usage)
		fs.PrintDefaults()
	}
	return fs
}

// aliased defines a flag under several names with define (one of
// flag.FlagSet's XxxVar methods); the names after the first are aliases.
func aliased[T any](define func(*T, string, T, string), p *T, names []string, value T, usage string) {
	*p = value
	for i, n := range names {
		u := usage
		if i > 0 {
			u = "alias of --" + names[0]
		}
		define(p, n, value, u)
	}
}

// stringVar defines a string flag under several names.
func (fs *flagSet) stringVar(p *string, names []string, value, usage string) {
	aliased(fs.StringVar, p, names, value, usage)
}

// boolVar defines a boolean flag under several names.
func (fs *flagSet) boolVar(p *bool, names []string, value bool, usage string) {
	aliased(fs.BoolVar, p, names, value, usage)
}

// durationVar defines a duration flag under several names.
func (fs *flagSet) durationVar(p *time.Duration, names []string, value time.Duration, usage string) {
	aliased(fs.DurationVar, p, names, value, usage)
}

// intVar defines an int flag under several names.
func (fs *flagSet) intVar(p *int, names []string, value int, usage string) {
	aliased(fs.IntVar, p, names, value, usage)
}

// parse parses flags anywhere in args and returns the positional
// arguments, checking their count is within [min, max].
func (fs *flagSet) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			// The flag package names a flag -name; the usage says --name.
			return nil, fmt.Errorf("%w: %s", errUsage, strings.Replace(err.Error(), "flag -", "flag --", 1))
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || len(pos) > max {
		want := fmt.Sprintf("%d", min)
		if max > min {
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return nil, fmt.Errorf("%w: got %d arguments (%s), want %s", errUsage, len(pos), strings.Join(pos, " "), want)
	}
	return pos, nil
}
