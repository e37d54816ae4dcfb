package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), including the
// build-output and build-fail events the go command adds for build errors.
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string
	FailedBuild string
}

// test is what is known of one test or subtest while its package runs.
type test struct {
	name     string
	status   string // "", "pass", "fail" or "skip"
	elapsed  float64
	output   []string
	children []*test
	parent   *test
}

// pkg collects one package's tests until its final event.
type pkg struct {
	tests  map[string]*test
	order  []*test
	output []string // lines printed outside any test: panics, timeouts
}

// report prints a readable log while it reads events: failures in full as
// they happen, skips with their reason, passing packages as one line each.
type report struct {
	w       io.Writer
	verbose bool
	pkgs    map[string]*pkg
	builds  map[string][]string
	counts  Counts
	times   []Timing // of top-level tests, as they finish
	// module, when set, is shown instead of the module path "function" that
	// every function module has (functions/route: "function/x" is shown as
	// "functions/route/x").
	module string
}

func newReport(w io.Writer, verbose bool) *report {
	return &report{w: w, verbose: verbose, pkgs: map[string]*pkg{}, builds: map[string][]string{}}
}

// Read consumes the stream. Lines that are not JSON (errors the go command
// prints before any test runs) are passed through unchanged.
func (r *report) Read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintln(r.w, string(line))
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	e.Package, e.ImportPath = r.name(e.Package), r.name(e.ImportPath)
	switch e.Action {
	case "build-output":
		r.builds[e.ImportPath] = append(r.builds[e.ImportPath], e.Output)
		return
	case "build-fail":
		fmt.Fprintf(r.w, "BUILD FAIL  %s\n", e.ImportPath)
		for _, l := range r.builds[e.ImportPath] {
			fmt.Fprint(r.w, "    ", l)
		}
		delete(r.builds, e.ImportPath)
		return
	}
	if e.Package == "" {
		return
	}
	p := r.pkgs[e.Package]
	if p == nil {
		p = &pkg{tests: map[string]*test{}}
		r.pkgs[e.Package] = p
	}
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.output = append(p.output, e.Output)
		case "pass", "fail", "skip":
			r.finishPackage(e, p)
			delete(r.pkgs, e.Package)
		}
		return
	}
	t := p.lookup(e.Test)
	switch e.Action {
	case "run":
		if r.verbose && t.parent == nil { // progress through long e2e tests
			fmt.Fprintf(r.w, "=== RUN   %s %s\n", e.Package, t.name)
		}
	case "output":
		t.output = append(t.output, e.Output)
	case "pass", "fail", "skip":
		t.status, t.elapsed = e.Action, e.Elapsed
		if t.parent == nil && e.Action != "skip" {
			r.times = append(r.times, Timing{e.Elapsed, e.Package, t.name})
		}
		r.printTest(e.Package, t)
	}
}

// functionModule matches the module path "function" at the start of a
// package path or of a bracketed test binary ("function/x [function.test]").
var functionModule = regexp.MustCompile(`(^|\[)function([/ .\]]|$)`)

// name is the package path to show for path.
func (r *report) name(path string) string {
	if r.module == "" {
		return path
	}
	return functionModule.ReplaceAllString(path, "${1}"+r.module+"${2}")
}

// lookup returns the test named name, creating it on first sight. Its
// parent is the longest known test whose name plus "/" starts name: a
// subtest's own name may hold slashes too (t.Run("POST /ns")).
func (p *pkg) lookup(name string) *test {
	if t := p.tests[name]; t != nil {
		return t
	}
	t := &test{name: name}
	for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name[:i], '/') {
		if parent := p.tests[name[:i]]; parent != nil {
			t.parent = parent
			parent.children = append(parent.children, t)
			break
		}
	}
	p.tests[name] = t
	p.order = append(p.order, t)
	return t
}

// printTest reports a finished test: a failure with its whole output, a skip
// with its reason, a pass only in verbose mode and only for top-level tests
// (verbose mode also prints when each top-level test starts).
func (r *report) printTest(pkgName string, t *test) {
	switch t.status {
	case "fail":
		if len(t.children) > 0 && len(t.ownLines()) == 0 {
			return // its failing subtests were printed already
		}
		fmt.Fprintf(r.w, "--- FAIL: %s %s (%.2fs)\n", pkgName, t.name, t.elapsed)
		for _, l := range t.ownLines() {
			fmt.Fprint(r.w, "    ", l)
		}
	case "skip":
		reason := "skipped"
		if ls := t.ownLines(); len(ls) > 0 {
			reason = strings.TrimSpace(ls[len(ls)-1])
		}
		fmt.Fprintf(r.w, "--- SKIP: %s %s: %s\n", pkgName, t.name, reason)
	case "pass":
		if r.verbose && t.parent == nil {
			fmt.Fprintf(r.w, "--- PASS: %s %s (%.2fs)\n", pkgName, t.name, t.elapsed)
		}
	}
}

// ownLines is the test's output without the go command's framing lines
// (=== RUN, --- PASS and the like).
func (t *test) ownLines() []string {
	var out []string
	for _, l := range t.output {
		s := strings.TrimSpace(l)
		if s == "" || strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "--- ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// finishPackage counts the package's tests and prints its line. In a
// package that failed, tests that never finished (the binary panicked or
// timed out under them) are failures.
func (r *report) finishPackage(e event, p *pkg) {
	for _, t := range p.order {
		if t.status == "" && e.Action == "fail" {
			t.status = "fail"
			fmt.Fprintf(r.w, "--- FAIL: %s %s (did not finish)\n", e.Package, t.name)
			for _, l := range t.ownLines() {
				fmt.Fprint(r.w, "    ", l)
			}
		}
	}
	var c Counts
	for _, t := range p.order {
		switch {
		case !t.hasFinishedChild():
			c = c.Add(countOf(t.status))
		case t.status == "fail" && !t.failedBelow():
			c.Failed++
		}
	}
	switch e.Action {
	case "skip":
		fmt.Fprintf(r.w, "?     %s  [no test files]\n", e.Package)
	case "pass":
		fmt.Fprintf(r.w, "ok    %s  %.2fs  (%s)\n", e.Package, e.Elapsed, c.brief())
	case "fail":
		for _, l := range p.output {
			if s := strings.TrimSpace(l); s == "FAIL" || strings.HasPrefix(s, "FAIL\t") || s == "" {
				continue
			}
			fmt.Fprint(r.w, "    ", l)
		}
		if c.Failed == 0 {
			c.Failed = 1 // built or set up badly, or died outside a test
		}
		why := fmt.Sprintf("%.2fs", e.Elapsed)
		if e.FailedBuild != "" {
			why = "[build failed]"
		}
		fmt.Fprintf(r.w, "FAIL  %s  %s  (%s)\n", e.Package, why, c.brief())
	}
	r.counts = r.counts.Add(c)
}

// Finish accounts for packages whose final event never came (the go command
// was killed): each is one failure.
func (r *report) Finish() {
	for name, p := range r.pkgs {
		r.finishPackage(event{Action: "fail", Package: name}, p)
	}
	r.pkgs = map[string]*pkg{}
}

func countOf(status string) Counts {
	switch status {
	case "pass":
		return Counts{Passed: 1}
	case "fail":
		return Counts{Failed: 1}
	case "skip":
		return Counts{Skipped: 1}
	}
	return Counts{}
}

// hasFinishedChild reports whether t is a group of subtests that ran; such
// a test counts through its subtests.
func (t *test) hasFinishedChild() bool {
	for _, c := range t.children {
		if c.status != "" {
			return true
		}
	}
	return false
}

// failedBelow reports whether any subtest of t, at any depth, failed.
func (t *test) failedBelow() bool {
	for _, c := range t.children {
		if c.status == "fail" || c.failedBelow() {
			return true
		}
	}
	return false
}

// brief is the per-package form: "3 passed, 1 failed, 2 skipped", zeros left out.
func (c Counts) brief() string {
	var parts []string
	if c.Passed > 0 || (c.Failed == 0 && c.Skipped == 0) {
		parts = append(parts, fmt.Sprintf("%d passed", c.Passed))
	}
	if c.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", c.Failed))
	}
	if c.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", c.Skipped))
	}
	return strings.Join(parts, ", ")
}
