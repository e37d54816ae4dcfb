package main

import (
	"os"
	"path/filepath"
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
	if got, want := got.Line(), "agentchat: 14 passed, 1 failed, 3 skipped"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}
