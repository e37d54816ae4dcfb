package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mixed.jsonl was recorded from a scratch module with a failing test, a
// skip, a failing subtest, a fuzz target with a seed, a type error, a vet
// error, a panicking test and a package without tests.
func TestReportCountsRecordedRun(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "mixed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	r := newReport(&out, false)
	if err := r.Read(f); err != nil {
		t.Fatal(err)
	}
	r.Finish()

	if got, want := r.counts, (Counts{Passed: 4, Failed: 5, Skipped: 1}); got != want {
		t.Errorf("counts = %+v, want %+v\n%s", got, want, out.String())
	}
	log := out.String()
	for _, want := range []string{
		"--- FAIL: jt/a TestFail",
		"a_test.go:4: boom",
		"--- FAIL: jt/a TestSub/y",
		"--- SKIP: jt/a TestSkip: a_test.go:5: no redis",
		"BUILD FAIL  jt/b [jt/b.test]",
		"cannot use \"s\"",
		"fmt.Printf format %d has arg",
		"FAIL  jt/b  [build failed]  (1 failed)",
		"panic: kaboom",
		"FAIL  jt/d",
		"?     jt/e  [no test files]",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, unwanted := range []string{"=== RUN", "--- FAIL: jt/a TestSub (", "TestOK"} {
		if strings.Contains(log, unwanted) {
			t.Errorf("log has %q:\n%s", unwanted, log)
		}
	}
}

func TestReportCases(t *testing.T) {
	tests := []struct {
		name    string
		verbose bool
		in      string
		want    Counts
		logHas  string
	}{
		{
			name: "passing package is one line",
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.1}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p","Test":"TestB","Elapsed":0.1}
{"Action":"pass","Package":"p","Elapsed":0.3}`,
			want:   Counts{Passed: 2},
			logHas: "ok    p  0.30s  (2 passed)",
		},
		{
			name:    "verbose prints top-level passes",
			verbose: true,
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestA/x"}
{"Action":"pass","Package":"p","Test":"TestA/x"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":1.5}
{"Action":"pass","Package":"p","Elapsed":2}`,
			want:   Counts{Passed: 1},
			logHas: "=== RUN   p TestA\n--- PASS: p TestA (1.50s)",
		},
		{
			name: "parent failing on its own counts once",
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestA/x"}
{"Action":"pass","Package":"p","Test":"TestA/x"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: after subtests\n"}
{"Action":"fail","Package":"p","Test":"TestA"}
{"Action":"fail","Package":"p"}`,
			want:   Counts{Passed: 1, Failed: 1},
			logHas: "a_test.go:9: after subtests",
		},
		{
			name: "test cut off by a timeout is a failure",
			in: `{"Action":"run","Package":"p","Test":"TestSlow"}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"panic: test timed out after 1s\n"}
{"Action":"fail","Package":"p","Elapsed":1}`,
			want:   Counts{Failed: 1},
			logHas: "--- FAIL: p TestSlow (did not finish)",
		},
		{
			name: "stream cut before the package ended",
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}`,
			want:   Counts{Passed: 1, Failed: 1},
			logHas: "FAIL  p",
		},
		{
			name: "subtest names with slashes",
			in: `{"Action":"run","Package":"p","Test":"TestIngress"}
{"Action":"run","Package":"p","Test":"TestIngress/POST_/ns/default"}
{"Action":"pass","Package":"p","Test":"TestIngress/POST_/ns/default"}
{"Action":"run","Package":"p","Test":"TestIngress/POST_/ns/default/nested"}
{"Action":"fail","Package":"p","Test":"TestIngress/POST_/ns/default/nested"}
{"Action":"fail","Package":"p","Test":"TestIngress"}
{"Action":"fail","Package":"p"}`,
			want:   Counts{Failed: 1},
			logHas: "--- FAIL: p TestIngress/POST_/ns/default/nested",
		},
		{
			name: "a package that passed has no unfinished failures",
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA/odd","Output":"x\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p"}`,
			want:   Counts{Passed: 1},
			logHas: "ok    p",
		},
		{
			name:   "non-JSON lines pass through",
			in:     "go: updates to go.mod needed\n",
			want:   Counts{},
			logHas: "go: updates to go.mod needed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			r := newReport(&out, tt.verbose)
			if err := r.Read(strings.NewReader(tt.in)); err != nil {
				t.Fatal(err)
			}
			r.Finish()
			if got := r.counts; got != tt.want {
				t.Errorf("counts = %+v, want %+v\n%s", got, tt.want, out.String())
			}
			if !strings.Contains(out.String(), tt.logHas) {
				t.Errorf("log lacks %q:\n%s", tt.logHas, out.String())
			}
		})
	}
}

func TestAddUp(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := appendCounts(a, Counts{3, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := appendCounts(a, Counts{1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := appendCounts(b, Counts{10, 0, 1}); err != nil {
		t.Fatal(err)
	}
	got, err := addUp([]string{a, b, filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{14, 1, 3}); got != want {
		t.Errorf("addUp = %+v, want %+v", got, want)
	}
	if got, want := got.Line("agentchat"), "agentchat: 14 passed, 1 failed, 3 skipped"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}

// Top-level tests that ran are timed (subtests and skips are not), and the
// times file gives the slowest, slowest first.
func TestSlowestTests(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestA/x"}
{"Action":"pass","Package":"p","Test":"TestA/x","Elapsed":90}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":95.4}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":2.25}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"skip","Package":"p","Test":"TestC","Elapsed":500}
{"Action":"fail","Package":"p","Elapsed":100}`
	r := newReport(io.Discard, false)
	if err := r.Read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := []Timing{{95.4, "p", "TestA"}, {2.25, "p", "TestB"}}
	if !slices.Equal(r.times, want) {
		t.Errorf("times = %+v, want %+v", r.times, want)
	}

	path := filepath.Join(t.TempDir(), "times")
	for _, ts := range [][]Timing{r.times, {{12, "q", "FuzzX"}}, {{0.5, "q", "TestD"}}} {
		if err := appendTimes(path, ts); err != nil {
			t.Fatal(err)
		}
	}
	all, err := readTimes(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printSlowest(&out, all, 3)
	wantOut := "the 3 slowest tests:\n" +
		"     1m35s  p TestA\n" +
		"     12.0s  q FuzzX\n" +
		"      2.2s  p TestB\n"
	if out.String() != wantOut {
		t.Errorf("printSlowest:\n%s\nwant:\n%s", out.String(), wantOut)
	}
}

// Every function module is "module function": -module names it.
func TestFunctionModuleIsNamed(t *testing.T) {
	in := `{"Action":"run","Package":"function","Test":"TestA"}
{"Action":"pass","Package":"function","Test":"TestA","Elapsed":1}
{"Action":"pass","Package":"function","Elapsed":1}
{"ImportPath":"function/internal/store [function/internal/store.test]","Action":"build-output","Output":"x.go:1: oops\n"}
{"ImportPath":"function/internal/store [function/internal/store.test]","Action":"build-fail"}
{"Action":"fail","Package":"function/internal/store","Elapsed":0,"FailedBuild":"function/internal/store [function/internal/store.test]"}
{"Action":"pass","Package":"functionx","Elapsed":1}`
	var out strings.Builder
	r := newReport(&out, false)
	r.module = "functions/accounts"
	if err := r.Read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ok    functions/accounts  1.00s",
		"BUILD FAIL  functions/accounts/internal/store [functions/accounts/internal/store.test]",
		"FAIL  functions/accounts/internal/store  [build failed]",
		"ok    functionx  1.00s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
	if want := []Timing{{1, "functions/accounts", "TestA"}}; !slices.Equal(r.times, want) {
		t.Errorf("times = %+v, want %+v", r.times, want)
	}
}
