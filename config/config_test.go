// Package config_test keeps config/README.md complete: every variable a
// component reads (envconfig tags, func's config map keys, func.yaml envs)
// must have a row in that component's section, and the example env files
// may only set documented variables.
package config_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/agentchat/agentchat/connector"
	"github.com/agentchat/agentchat/internal/backing"
)

// sections splits README.md at its "## " headings, keyed by the heading's
// first word ("connector", "persist", "agent-invoke", "local", "dev", ...).
func sections(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, part := range strings.Split(string(raw), "\n## ")[1:] {
		head, _, _ := strings.Cut(part, "\n")
		out[strings.Fields(head)[0]] = part
	}
	return out
}

// documented reports whether section has a table row for name.
func documented(section, name string) bool {
	return strings.Contains(section, "| `"+name+"`") || strings.Contains(section, ", `"+name+"`")
}

// envconfigNames lists the envconfig tags of a struct type's fields.
func envconfigNames(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		if name := typ.Field(i).Tag.Get("envconfig"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func TestStructsDocumented(t *testing.T) {
	s := sections(t)
	for _, tc := range []struct {
		section string
		names   []string
	}{
		{"connector", envconfigNames(reflect.TypeOf(connector.Config{}))},
		{"dev", envconfigNames(reflect.TypeOf(backing.Config{}))},
		{"local", localBrokerNames(t)},
	} {
		if len(tc.names) < 3 {
			t.Fatalf("%s: found only %v: the extraction is broken", tc.section, tc.names)
		}
		for _, name := range tc.names {
			if !documented(s[tc.section], name) {
				t.Errorf("%s reads %s: no row in config/README.md's %q section", tc.section, name, tc.section)
			}
		}
	}
}

// varInSource matches how the functions name their variables: fn.Load's
// and envconfig's tags, func's config map (m["NAME"]), tables of
// {"NAME", ...}, Getenv.
var varInSource = regexp.MustCompile(`(?:\benv(?:config)?:"|\["|\{"|Getenv\(")([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"`)

// TestFunctionsDocumented reads every function folder: the variables its
// code (not its tests) reads and its func.yaml sets must be documented in
// the function's section or in "Every function".
func TestFunctionsDocumented(t *testing.T) {
	s := sections(t)
	yamls, err := filepath.Glob("../functions/*/func.yaml")
	if err != nil || len(yamls) == 0 {
		t.Fatalf("no func.yaml under functions/ (%v)", err)
	}
	for _, fy := range yamls {
		raw, err := os.ReadFile(fy)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Name string `json:"name"`
			Run  struct {
				Envs []struct {
					Name string `json:"name"`
				} `json:"envs"`
			} `json:"run"`
		}
		if err := yaml.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", fy, err)
		}
		t.Run(f.Name, func(t *testing.T) {
			section, ok := s[f.Name]
			if !ok {
				t.Fatalf("config/README.md has no section %q for %s", "## "+f.Name, filepath.Dir(fy))
			}
			names := map[string]string{}
			for _, e := range f.Run.Envs {
				if e.Name != "" {
					names[e.Name] = "func.yaml"
				}
			}
			for name, file := range sourceVars(t, filepath.Dir(fy)) {
				names[name] = file
			}
			for name, where := range names {
				if !documented(section, name) && !documented(s["Every"], name) {
					t.Errorf("%s reads %s (%s): no row in config/README.md's %q section", f.Name, name, where, f.Name)
				}
			}
		})
	}
}

// sourceVars finds variable names in a function's non-test Go files.
func sourceVars(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range varInSource.FindAllStringSubmatch(string(raw), -1) {
			out[m[1]] = filepath.Base(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// localBrokerNames derives cmd/localbroker's variables from its config
// struct (package main, so parsed rather than imported) the way envconfig
// does with the prefix "localbroker": LOCALBROKER_ + the field name in
// upper case, words split by "_" where the field says split_words.
func localBrokerNames(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../cmd/localbroker/config.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "config" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			tag := reflect.StructTag("")
			if field.Tag != nil {
				v, _ := strconv.Unquote(field.Tag.Value)
				tag = reflect.StructTag(v)
			}
			for _, id := range field.Names {
				key := strings.ToUpper(id.Name)
				if tag.Get("split_words") == "true" {
					key = strings.ToUpper(strings.Join(splitWords(id.Name), "_"))
				}
				if k := tag.Get("envconfig"); k != "" {
					key = strings.ToUpper(k)
				}
				out = append(out, "LOCALBROKER_"+key)
			}
		}
		return false
	})
	return out
}

// splitWords splits CamelCase as envconfig does ("QueueSize" → Queue, Size).
var wordPattern = regexp.MustCompile(`([^A-Z]+|[A-Z]+[^A-Z]+|[A-Z]+)`)

func splitWords(s string) []string { return wordPattern.FindAllString(s, -1) }

// TestExampleEnvFiles: each line of the examples is blank, a comment, or
// NAME=value (possibly commented out), and every NAME is documented.
func TestExampleEnvFiles(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	assignment := regexp.MustCompile(`^#?([A-Z][A-Z0-9_]*)=(.*)$`)
	files, _ := filepath.Glob("*.env.example")
	if len(files) == 0 {
		t.Fatal("no *.env.example in config/")
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var vars []string
			sc := bufio.NewScanner(f)
			for line := 1; sc.Scan(); line++ {
				text := strings.TrimSpace(sc.Text())
				if m := assignment.FindStringSubmatch(text); m != nil {
					vars = append(vars, m[1])
					if !strings.Contains(readme, "`"+m[1]+"`") {
						t.Errorf("line %d: %s is not documented in config/README.md", line, m[1])
					}
					continue
				}
				if text != "" && !strings.HasPrefix(text, "#") {
					t.Errorf("line %d: %q is neither a comment nor NAME=value", line, text)
				}
			}
			if len(vars) == 0 {
				t.Error("sets no variable")
			}
			sort.Strings(vars)
			for i := 1; i < len(vars); i++ {
				if vars[i] == vars[i-1] {
					t.Errorf("%s appears twice", vars[i])
				}
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string]string{"QueueSize": "Queue_Size", "LogLevel": "Log_Level", "Listen": "Listen"} {
		if got := strings.Join(splitWords(in), "_"); got != want {
			t.Errorf("splitWords(%q) = %q, want %q", in, got, want)
		}
	}
}
