package funcrunner

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Project is what Build needs to know about a function folder.
type Project struct {
	Dir       string // absolute path of the folder
	Name      string // func.yaml name
	Invoke    string // "cloudevent" or "http" (func's default when unset)
	Instanced bool   // a package-level New (else a package-level Handle)
}

// Inspect reads dir's func.yaml and finds its handler's form the way func
// does: a package-level New in a .go file at the root means instanced, a
// package-level Handle means static, both or neither is an error.
func Inspect(dir string) (Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Project{}, fmt.Errorf("funcrunner: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(abs, "func.yaml"))
	if err != nil {
		return Project{}, fmt.Errorf("funcrunner: %w", err)
	}
	var y struct {
		Name    string `json:"name"`
		Runtime string `json:"runtime"`
		Invoke  string `json:"invoke"`
	}
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return Project{}, fmt.Errorf("funcrunner: %s/func.yaml: %w", abs, err)
	}
	p := Project{Dir: abs, Name: y.Name, Invoke: y.Invoke}
	switch {
	case y.Name == "":
		return p, fmt.Errorf("funcrunner: %s/func.yaml: no name", abs)
	case y.Runtime != "go":
		return p, fmt.Errorf("funcrunner: %s: runtime %q, only go is supported", y.Name, y.Runtime)
	case p.Invoke == "":
		p.Invoke = "http"
	case p.Invoke != "http" && p.Invoke != "cloudevent":
		return p, fmt.Errorf("funcrunner: %s: invoke %q, want http or cloudevent", y.Name, y.Invoke)
	}
	static, instanced, err := detectSignature(abs)
	switch {
	case err != nil:
		return p, fmt.Errorf("funcrunner: %s: %w", y.Name, err)
	case static && instanced:
		return p, fmt.Errorf("funcrunner: %s: declares both New and Handle at package level (func allows one)", y.Name)
	case !static && !instanced:
		return p, fmt.Errorf("funcrunner: %s: declares neither New nor Handle at package level", y.Name)
	}
	p.Instanced = instanced
	return p, nil
}

// detectSignature mirrors func v0.44.0's goDetector: every .go file at the
// root (tests included, unparsable files skipped) is searched for a
// package-level func New or func Handle.
func detectSignature(dir string) (static, instanced bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, false, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, perr := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if perr != nil {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil {
				continue
			}
			switch fd.Name.Name {
			case "New":
				instanced = true
			case "Handle":
				static = true
			}
		}
	}
	return static, instanced, nil
}

// errNoGoMod is returned for a folder that is not a Go module.
var errNoGoMod = errors.New("no go.mod")
