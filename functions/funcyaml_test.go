// Package functions_test checks that every folder under functions/ is a
// func project that `func build` and `func deploy` (knative.dev/func
// v0.44.0) accept, with the conventions of functions/README.md. Each
// function folder is a module of its own; this test belongs to the root
// module and only reads their files.
package functions_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
	fn "knative.dev/func/pkg/functions"
)

// required lists the folders that must exist, and their func names.
var required = map[string]string{
	"accounts":    "accounts",
	"agentinvoke": "agent-invoke",
	"calcagent":   "calc-agent",
	"deadletter":  "deadletter",
	"historytool": "history-tool",
	"httptool":    "http-tool",
	"media":       "media",
	"persist":     "persist",
	"push":        "push",
	"route":       "route",
}

// namePattern is func.yaml's name schema (a DNS-1035-ish Knative name).
var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestFunctionFolders(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := e.Name()
		found[dir] = true
		t.Run(dir, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, fn.FunctionFile))
			if err != nil { // every folder here is a function
				t.Fatal(err)
			}
			checkFuncYAML(t, dir, raw)
			// func writes a .gitignore (/.func) into a folder without one at
			// every build: keep it committed, so a build leaves nothing new.
			if ig, err := os.ReadFile(filepath.Join(dir, ".gitignore")); err != nil || !slices.Contains(strings.Fields(string(ig)), "/.func") {
				t.Errorf(".gitignore with /.func is missing (func build writes one; commit it)")
			}
			checkGoMod(t, dir)
			checkSignature(t, dir)
		})
	}
	for dir := range required {
		if !found[dir] {
			t.Errorf("functions/%s is missing", dir)
		}
	}
}

// checkFuncYAML decodes func.yaml strictly (func itself ignores unknown
// keys, so a typo would silently drop a setting), then loads it the way
// func does and runs func's own validation.
func checkFuncYAML(t *testing.T, dir string, raw []byte) {
	t.Helper()
	var strict fn.Function
	if err := yaml.UnmarshalStrict(raw, &strict); err != nil {
		t.Fatalf("func.yaml does not decode strictly into func's Function: %v", err)
	}
	// What fn.NewFunction does, minus its side effect (it creates .func/
	// and .gitignore in the folder): func's lax decode, then migrations.
	f := fn.Function{Root: dir}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("func cannot decode func.yaml: %v", err)
	}
	f, err := f.Migrate()
	if err != nil {
		t.Fatalf("func cannot migrate func.yaml: %v", err)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("func's validation: %v", err)
	}
	// func writes func.yaml back after every build in its own form
	// (gopkg.in/yaml.v2 of its Function: its field order, no comments); a
	// file in any other form changes in the checkout at every build.
	if own, err := yaml.Marshal(&f); err != nil || string(own) != string(raw) {
		t.Errorf("func.yaml is not in func's own form, which func build writes back (comments dropped, fields reordered): write it as\n%s", own)
	}
	switch {
	case !f.Initialized():
		t.Errorf("no created timestamp: func would treat the folder as uninitialised")
	case f.SpecVersion != fn.LastSpecVersion():
		t.Errorf("specVersion %s, want %s (func v0.44.0's, so no migration runs)", f.SpecVersion, fn.LastSpecVersion())
	case f.Runtime != "go":
		t.Errorf("runtime %q, want go", f.Runtime)
	case f.Invoke != "cloudevent" && f.Invoke != "http":
		t.Errorf("invoke %q, want cloudevent or http (unset means http: say it)", f.Invoke)
	case !namePattern.MatchString(f.Name):
		t.Errorf("name %q does not match %s", f.Name, namePattern)
	case f.Deploy.Namespace != "agentchat":
		t.Errorf("deploy.namespace %q, want agentchat", f.Deploy.Namespace)
	}
	// Unset means func's defaults, which are func-go's routes; anything
	// else would probe a route the runtime does not serve.
	if h := f.Deploy.HealthEndpoints; (h.Readiness != "" && h.Readiness != "/health/readiness") || (h.Liveness != "" && h.Liveness != "/health/liveness") {
		t.Errorf("deploy.healthEndpoints %+v, want func-go's /health/readiness and /health/liveness (or unset)", h)
	}
	if want := required[dir]; want != "" && f.Name != want {
		t.Errorf("name %q, want %q", f.Name, want)
	}
}

var moduleLine = regexp.MustCompile(`(?m)^module\s+function\s*$`)

// shared are the repository's modules a function may require, each with
// the local replace that lets `go test` run in the folder.
var shared = []string{"sdk", "store"}

// checkGoMod wants func's module name and, for each shared module
// required, its local replace.
func checkGoMod(t *testing.T, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !moduleLine.Match(raw) {
		t.Errorf("go.mod does not declare `module function` (func requires it)")
	}
	for _, m := range shared {
		path := "github.com/agentchat/agentchat/" + m
		required := regexp.MustCompile(`(?m)^\s*(require\s+)?` + regexp.QuoteMeta(path) + `\s+v\S+`)
		replaced := regexp.MustCompile(`(?m)^replace\s+` + regexp.QuoteMeta(path) + `\s+=>\s+\.\./\.\./` + m + `\s*$`)
		if required.Match(raw) && !replaced.Match(raw) {
			t.Errorf("go.mod requires %s without `replace %s => ../../%s`", path, path, m)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err != nil {
		t.Errorf("no go.sum: %v", err)
	}
}

// checkSignature applies func's detection (every .go file at the root,
// package-level declarations only): agentchat's functions are instanced,
// so New and no Handle.
func checkSignature(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var hasNew, hasHandle bool
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.Name.Name != "function" {
			t.Errorf("%s: package %s, want function", name, f.Name.Name)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				hasNew = hasNew || fd.Name.Name == "New"
				hasHandle = hasHandle || fd.Name.Name == "Handle"
			}
		}
	}
	if !hasNew || hasHandle {
		t.Errorf("package-level New: %v, Handle: %v; want New only (func's instanced form)", hasNew, hasHandle)
	}
}

// TestFuncYAMLStrictness shows that the strict decode and func's
// validation catch what func alone would let through or reject late.
func TestFuncYAMLStrictness(t *testing.T) {
	const good = `specVersion: 0.36.0
name: demo
runtime: go
created: 2026-11-27T16:46:14Z
invoke: cloudevent
run:
  envs:
  - name: S3_SECRET_KEY
    value: '{{ secret:agentchat-s3:secret-key }}'
  - name: S3_BUCKET
    value: '{{ configMap:agentchat-config:s3-media-bucket }}'
  - value: '{{ secret:agentchat-extra }}'
deploy:
  namespace: agentchat
  options:
    scale:
      min: 0
      max: 10
`
	tests := []struct {
		name        string
		yaml        string
		strictErr   bool // yaml.UnmarshalStrict must refuse it
		validateErr bool // fn.Function.Validate must refuse it
	}{
		{"good", good, false, false},
		{"typo at the top", strings.Replace(good, "invoke:", "invok:", 1), true, false},
		{"typo in deploy", strings.Replace(good, "  options:", "  optons:", 1), true, false},
		{"typo in scale", strings.Replace(good, "      max: 10", "      maximum: 10", 1), true, false},
		{"bad secret reference", strings.Replace(good, "{{ secret:agentchat-s3:secret-key }}", "{{ secrets:agentchat-s3:secret-key }}", 1), false, true},
		{"scale max below min", strings.Replace(good, "      max: 10", "      max: -1", 1), false, true},
	}
	for _, tt := range tests {
		var f fn.Function
		err := yaml.UnmarshalStrict([]byte(tt.yaml), &f)
		if got := err != nil; got != tt.strictErr {
			t.Errorf("%s: UnmarshalStrict error = %v, want error: %v", tt.name, err, tt.strictErr)
			continue
		}
		if err != nil {
			// func's own decoder accepts what the strict one refused:
			// the reason this test exists.
			if lax := yaml.Unmarshal([]byte(tt.yaml), &fn.Function{}); lax != nil {
				t.Errorf("%s: func's lax decode failed too: %v", tt.name, lax)
			}
			continue
		}
		f.Root = "demo"
		if got := f.Validate() != nil; got != tt.validateErr {
			t.Errorf("%s: Validate error = %v, want error: %v", tt.name, f.Validate(), tt.validateErr)
		}
	}
}
