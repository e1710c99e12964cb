package main

import (
	"bytes"
	"strings"
	"testing"
)

const failingRun = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"    noise of a passing test\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Output":"ok  \texample.com/a\t0.1s\n"}
{"Action":"pass","Package":"example.com/a"}
{"Action":"output","Package":"example.com/b","Test":"TestBad/sub","Output":"    bad_test.go:9: want 2, got 3\n"}
{"Action":"fail","Package":"example.com/b","Test":"TestBad/sub"}
{"Action":"fail","Package":"example.com/b","Test":"TestBad"}
{"Action":"output","Package":"example.com/b","Output":"FAIL\texample.com/b\t0.2s\n"}
{"Action":"fail","Package":"example.com/b"}
{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-output","Output":"c.go:3: undefined: x\n"}
{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-fail"}
not json: printed as it is
`

func TestReportFailures(t *testing.T) {
	r := newReport()
	var out bytes.Buffer
	if err := r.read(strings.NewReader(failingRun), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ok  \texample.com/a", "want 2, got 3", "undefined: x", "not json: printed as it is"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "noise of a passing test") {
		t.Errorf("output has a passing test's lines:\n%s", out.String())
	}
	out.Reset()
	r.counts(&out)
	if got, want := out.String(), "testreport: 1 passed, 0 skipped, 2 failed (tests and subtests)\n"; got != want {
		t.Errorf("counts %q, want %q", got, want)
	}
	out.Reset()
	if !r.summary(&out) {
		t.Fatal("summary reports no failure")
	}
	s := out.String()
	tail := s[strings.Index(s, "==== failing tests ===="):]
	for _, want := range []string{"example.com/b TestBad/sub\n", "example.com/c [example.com/c.test] (build failed)"} {
		if !strings.Contains(tail, want) {
			t.Errorf("tail lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(tail, "example.com/b TestBad\n") || strings.Contains(s, "example.com/a") {
		t.Errorf("summary names a parent of a listed subtest or a passing package:\n%s", s)
	}
	if !strings.Contains(s, "    FAIL\texample.com/b\t0.2s") {
		t.Errorf("summary lacks the package's last lines:\n%s", s)
	}
}

func TestReportPass(t *testing.T) {
	r := newReport()
	if err := r.read(strings.NewReader(failingRun[:strings.Index(failingRun, `{"Action":"output","Package":"example.com/b"`)]), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if r.summary(&out) || out.Len() != 0 {
		t.Fatalf("a green run reports %q", out.String())
	}
}

// A package that panics or times out prints the output of the test that
// was running, which never reports a result.
func TestReportPanic(t *testing.T) {
	r := newReport()
	run := `{"Action":"run","Package":"p","Test":"TestHang"}
{"Action":"output","Package":"p","Test":"TestHang","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t1.0s\n"}
{"Action":"fail","Package":"p"}
`
	var out bytes.Buffer
	if err := r.read(strings.NewReader(run), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "panic: test timed out") {
		t.Fatalf("output lacks the running test's lines:\n%s", out.String())
	}
	out.Reset()
	if !r.summary(&out) || !strings.Contains(out.String(), "p (no test failed: a panic, a timeout or TestMain)") {
		t.Fatalf("summary:\n%s", out.String())
	}
}

func TestTailIsBounded(t *testing.T) {
	var p pkgLog
	for i := range 3 * tailLines {
		p.add(strings.Repeat("x", i))
	}
	if len(p.tail) != tailLines || p.tail[tailLines-1] != strings.Repeat("x", 3*tailLines-1) {
		t.Fatalf("tail holds %d lines", len(p.tail))
	}
}
