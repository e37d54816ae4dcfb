package funcrunner_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/funcrunner"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	write := func(name, yaml string, files map[string]string) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "func.yaml"), []byte(yaml), 0o644)
		for f, src := range files {
			os.WriteFile(filepath.Join(d, f), []byte(src), 0o644)
		}
		return d
	}
	const ce = "specVersion: 0.36.0\nname: x\nruntime: go\ninvoke: cloudevent\n"
	const plain = "specVersion: 0.36.0\nname: x\nruntime: go\n"
	tests := []struct {
		name    string
		dir     string
		want    funcrunner.Project
		wantErr string
	}{
		{"instanced cloudevent", write("a", ce, map[string]string{"f.go": "package function\nfunc New() *F { return nil }\ntype F struct{}\nfunc (F) Handle() {}\n"}),
			funcrunner.Project{Name: "x", Invoke: "cloudevent", Instanced: true}, ""},
		{"static http by default", write("b", plain, map[string]string{"f.go": "package function\nfunc Handle() {}\n"}),
			funcrunner.Project{Name: "x", Invoke: "http"}, ""},
		{"both", write("c", ce, map[string]string{"f.go": "package function\nfunc New() {}\nfunc Handle() {}\n"}), funcrunner.Project{}, "both"},
		{"neither", write("d", ce, map[string]string{"f.go": "package function\nfunc Other() {}\n"}), funcrunner.Project{}, "neither"},
		{"not go", write("e", "name: x\nruntime: node\n", nil), funcrunner.Project{}, "runtime"},
		{"bad invoke", write("f", plain+"invoke: grpc\n", nil), funcrunner.Project{}, "invoke"},
	}
	for _, tt := range tests {
		got, err := funcrunner.Inspect(tt.dir)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		got.Dir = ""
		if err != nil || got != tt.want {
			t.Errorf("%s: Inspect = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

// TestBuildCache builds a copy of the calc-agent function (it requires the SDK only) against a copy
// of the SDK: the second Build must be a cache hit, and a change to either
// folder must produce a new binary.
func TestBuildCache(t *testing.T) {
	root := repoRoot(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(root, "sdk"), filepath.Join(work, "sdk"))
	fnDir := filepath.Join(work, "functions", "calcagent")
	copyTree(t, filepath.Join(root, "functions", "calcagent"), fnDir)
	cache := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	build := func(o funcrunner.Options) (string, os.FileInfo, time.Duration) {
		t.Helper()
		o.FunctionDir, o.CacheDir = fnDir, cache
		begin := time.Now()
		bin, err := funcrunner.Build(ctx, o)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		info, err := os.Stat(bin)
		if err != nil {
			t.Fatalf("Build returned %s: %v", bin, err)
		}
		return bin, info, time.Since(begin)
	}

	first, firstInfo, took := build(funcrunner.Options{})
	t.Logf("first build: %s", took)
	second, secondInfo, took := build(funcrunner.Options{})
	t.Logf("second build (cache hit): %s", took)
	if second != first || !os.SameFile(firstInfo, secondInfo) || !secondInfo.ModTime().Equal(firstInfo.ModTime()) {
		t.Fatalf("second Build gave %s, want the cached %s untouched", second, first)
	}

	// Another checkout of the same sources (a clean clone elsewhere) shares it.
	elsewhere := t.TempDir()
	copyTree(t, filepath.Join(work, "sdk"), filepath.Join(elsewhere, "sdk"))
	copyTree(t, fnDir, filepath.Join(elsewhere, "functions", "calcagent"))
	other, err := funcrunner.Build(ctx, funcrunner.Options{FunctionDir: filepath.Join(elsewhere, "functions", "calcagent"), CacheDir: cache})
	if err != nil || other != first {
		t.Errorf("Build of a copy elsewhere = %s, %v; want the cached %s", other, err, first)
	}

	// A test file does not change the binary.
	os.WriteFile(filepath.Join(fnDir, "extra_test.go"), []byte("package function\n"), 0o644)
	if again, _, _ := build(funcrunner.Options{}); again != first {
		t.Errorf("adding a _test.go file rebuilt: %s, want %s", again, first)
	}

	// A change to the function's code does.
	src := filepath.Join(fnDir, "handle.go")
	raw, _ := os.ReadFile(src)
	os.WriteFile(src, append(raw, "\n// changed\n"...), 0o644)
	changed, _, took := build(funcrunner.Options{})
	t.Logf("build after a change to the function: %s", took)
	if changed == first {
		t.Fatalf("Build after a change returned the old binary %s", first)
	}

	// So does a change to the SDK it replaces.
	evSrc := filepath.Join(work, "sdk", "events", "types.go")
	raw, _ = os.ReadFile(evSrc)
	os.WriteFile(evSrc, append(raw, "\n// changed\n"...), 0o644)
	sdkChanged, _, took := build(funcrunner.Options{})
	t.Logf("build after a change to the sdk: %s", took)
	if sdkChanged == changed || sdkChanged == first {
		t.Fatalf("Build after an SDK change returned an old binary %s", sdkChanged)
	}

	// Options.SDKDir overrides the function's replace line.
	viaOption, _, _ := build(funcrunner.Options{SDKDir: filepath.Join(root, "sdk")})
	if viaOption == sdkChanged {
		t.Errorf("Build with SDKDir=%s reused the binary built against the copy", filepath.Join(root, "sdk"))
	}
}

// TestConcurrentBuilds starts two Builds of one function at once: the
// lock makes one build and the other find its binary.
func TestConcurrentBuilds(t *testing.T) {
	root := repoRoot(t)
	fnDir := filepath.Join(t.TempDir(), "calcagent")
	copyTree(t, filepath.Join(root, "functions", "calcagent"), fnDir)
	var logs syncBuffer
	o := funcrunner.Options{
		FunctionDir: fnDir, SDKDir: filepath.Join(root, "sdk"), CacheDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range bins {
		wg.Go(func() { bins[i], errs[i] = funcrunner.Build(ctx, o) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || bins[0] != bins[1] {
		t.Fatalf("Build results %v %v / %v %v; want one binary, no errors", bins[0], errs[0], bins[1], errs[1])
	}
	if got := strings.Count(logs.String(), "funcrunner: built"); got != 1 {
		t.Errorf("%d builds ran, want 1:\n%s", got, logs.String())
	}
}
