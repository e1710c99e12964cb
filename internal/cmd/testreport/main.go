// Command testreport is a dev command, the reporter of `make test` and
// `make test-stress`: it reads `go test -json` on stdin, prints what go test
// prints without -v (each package's result line, and the output of failing
// tests only, once they have failed), and ends, when anything
// failed, with a summary: the failing tests of each failing package and
// the last lines of that package's output, so that a red run reads in its
// tail. It exits 1 when a package or a build failed, 0 otherwise.
//
//	go test -json ./... | go run ./internal/cmd/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// tailLines is how many of a failing package's last output lines the
// summary prints.
const tailLines = 40

// heldLines bounds the output kept of a test still running: its last
// lines, printed if it fails.
const heldLines = 2000

// event is one line of `go test -json` (test2json's TestEvent).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail events
}

// pkgLog is what the report keeps of one package.
type pkgLog struct {
	tail   []string // the last tailLines lines of its output
	failed []string // its failing tests, in order
	status string   // "fail", "pass", "skip", or "" while it runs
}

func (p *pkgLog) add(line string) {
	p.tail = append(p.tail, line)
	if len(p.tail) > tailLines {
		p.tail = p.tail[len(p.tail)-tailLines:]
	}
}

type report struct {
	passed, skipped, failedTests int                    // tests and subtests, all packages
	held                         map[[2]string][]string // output of running tests, by package and test
	pkgs                         map[string]*pkgLog
	order                        []string // packages in the order they first spoke
	builds                       []string // packages whose build failed
}

func (r *report) pkg(name string) *pkgLog {
	p, ok := r.pkgs[name]
	if !ok {
		p = &pkgLog{}
		r.pkgs[name] = p
		r.order = append(r.order, name)
	}
	return p
}

func newReport() *report {
	return &report{pkgs: make(map[string]*pkgLog), held: make(map[[2]string][]string)}
}

func main() {
	r := newReport()
	if err := r.read(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	failed := r.summary(os.Stdout)
	r.counts(os.Stdout)
	if failed {
		os.Exit(1)
	}
}

// read copies the output of the events in in to out and records them.
// A line that is not an event (a build error go test printed as text) is
// copied as it is.
func (r *report) read(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		switch ev.Action {
		case "build-output":
			fmt.Fprint(out, ev.Output)
			r.pkg(ev.ImportPath).add(strings.TrimRight(ev.Output, "\n"))
		case "build-fail":
			r.builds = append(r.builds, ev.ImportPath)
		case "output":
			if ev.Test == "" {
				r.print(out, ev.Package, []string{ev.Output})
				continue
			}
			key := [2]string{ev.Package, ev.Test}
			h := append(r.held[key], ev.Output)
			if len(h) > heldLines {
				h = h[len(h)-heldLines:]
			}
			r.held[key] = h
		case "fail":
			p := r.pkg(ev.Package)
			if ev.Test != "" {
				r.failedTests++
				p.failed = append(p.failed, ev.Test)
				key := [2]string{ev.Package, ev.Test}
				r.print(out, ev.Package, r.held[key])
				delete(r.held, key)
				continue
			}
			p.status = "fail"
			// A panic or a timeout ends tests that never report: print
			// what they wrote.
			for key, h := range r.held {
				if key[0] == ev.Package {
					r.print(out, ev.Package, h)
					delete(r.held, key)
				}
			}
		case "pass", "skip":
			if ev.Test != "" {
				if ev.Action == "pass" {
					r.passed++
				} else {
					r.skipped++
				}
				delete(r.held, [2]string{ev.Package, ev.Test})
				continue
			}
			r.pkg(ev.Package).status = ev.Action
			for key := range r.held {
				if key[0] == ev.Package {
					delete(r.held, key)
				}
			}
		}
	}
	return sc.Err()
}

// print writes output lines of package pkg to out and keeps them in its
// tail.
func (r *report) print(out io.Writer, pkg string, lines []string) {
	p := r.pkg(pkg)
	for _, l := range lines {
		fmt.Fprint(out, l)
		p.add(strings.TrimRight(l, "\n"))
	}
}

// counts prints how many tests (subtests included) passed, were skipped
// and failed: a run that tested nothing shows it.
func (r *report) counts(out io.Writer) {
	fmt.Fprintf(out, "testreport: %d passed, %d skipped, %d failed (tests and subtests)\n", r.passed, r.skipped, r.failedTests)
}

// summary prints what failed, if anything, and reports whether it did.
func (r *report) summary(out io.Writer) bool {
	var failed []string
	for _, name := range r.order {
		if r.pkgs[name].status == "fail" {
			failed = append(failed, name)
		}
	}
	if len(failed) == 0 && len(r.builds) == 0 {
		return false
	}
	fmt.Fprintf(out, "\n==== FAILED: %d package(s), %d build(s) ====\n", len(failed), len(r.builds))
	for _, name := range r.builds {
		fmt.Fprintf(out, "\n--- build of %s failed:\n", name)
		for _, l := range r.pkg(name).tail {
			fmt.Fprintln(out, "    "+l)
		}
	}
	for _, name := range failed {
		p := r.pkgs[name]
		fmt.Fprintf(out, "\n--- %s\n", name)
		for _, t := range leaves(p.failed) {
			fmt.Fprintf(out, "    FAIL %s\n", t)
		}
		fmt.Fprintf(out, "  last %d lines of its output:\n", len(p.tail))
		for _, l := range p.tail {
			fmt.Fprintln(out, "    "+l)
		}
	}
	fmt.Fprintln(out, "\n==== failing tests ====")
	for _, name := range failed {
		for _, t := range leaves(r.pkgs[name].failed) {
			fmt.Fprintf(out, "%s %s\n", name, t)
		}
		if len(r.pkgs[name].failed) == 0 {
			fmt.Fprintf(out, "%s (no test failed: a panic, a timeout or TestMain)\n", name)
		}
	}
	for _, name := range r.builds {
		fmt.Fprintf(out, "%s (build failed)\n", name)
	}
	return true
}

// leaves drops a failing test whose subtest is listed too: the subtest
// names the failure better.
func leaves(tests []string) []string {
	var out []string
	for _, t := range tests {
		parent := false
		for _, u := range tests {
			if strings.HasPrefix(u, t+"/") {
				parent = true
				break
			}
		}
		if !parent {
			out = append(out, t)
		}
	}
	return out
}
