package funcrunner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FuncGoVersion is the knative.dev/func-go release the scaffold requires:
// the runtime (HTTP server, health routes, Start/Stop hooks) every function
// binary embeds. func v0.44.0's own scaffold pins v0.21.3; v0.22.0 is the
// newest the Go proxy serves here and adds LISTEN_ADDRESS handling we rely on.
const FuncGoVersion = "v0.22.0"

// scaffoldVersion changes whenever the files written below change, so that
// cached binaries built from older scaffolds are not reused.
const scaffoldVersion = "func-v0.44.0-scaffold/3" // 3: built with -trimpath

// mainFiles are func v0.44.0's templates/go/scaffolding/<signature>/main.go,
// keyed by signature, verbatim.
var mainFiles = map[string]string{
	"instanced-cloudevents": `package main

import (
	"fmt"
	"os"

	ce "knative.dev/func-go/cloudevents"

	f "function"
)

func main() {
	if err := ce.Start(f.New()); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
`,
	"instanced-http": `package main

import (
	"fmt"
	"os"

	"knative.dev/func-go/http"

	f "function"
)

func main() {
	if err := http.Start(f.New()); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
`,
	"static-cloudevents": `package main

import (
	"fmt"
	"os"

	ce "knative.dev/func-go/cloudevents"

	f "function"
)

func main() {
	if err := ce.Start(ce.DefaultHandler{Handler: f.Handle}); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
`,
	"static-http": `package main

import (
	"fmt"
	"net/http"
	"os"

	fhttp "knative.dev/func-go/http"

	f "function"
)

type fx func(http.ResponseWriter, *http.Request)

func (f fx) Handle(w http.ResponseWriter, r *http.Request) {
	f(w, r)
}

func main() {
	if err := fhttp.Start(fx(f.Handle)); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
`,
}

// signature names the scaffold variant for p, as func's
// scaffolding.Signature does.
func (p Project) signature() string {
	form := "static"
	if p.Instanced {
		form = "instanced"
	}
	kind := "http"
	if p.Invoke == "cloudevent" {
		kind = "cloudevents"
	}
	return form + "-" + kind
}

// replace is one `replace Old => New` line of the scaffold's go.mod, New
// being an absolute directory.
type replace struct{ Old, New string }

// scaffoldGoMod is the scaffold module's go.mod: func's, with func-go at
// FuncGoVersion and the function (and its local dependencies) replaced by
// absolute paths, since the scaffold lives in a cache directory rather than
// beside the function.
func scaffoldGoMod(functionDir string, replaces []replace) string {
	var b strings.Builder
	b.WriteString("module s\n\ngo 1.21\n\nrequire (\n")
	b.WriteString("\tfunction v0.0.0-00010101000000-000000000000\n")
	fmt.Fprintf(&b, "\tknative.dev/func-go %s\n)\n\n", FuncGoVersion)
	fmt.Fprintf(&b, "replace function => %s\n", functionDir)
	for _, r := range replaces {
		fmt.Fprintf(&b, "replace %s => %s\n", r.Old, r.New)
	}
	return b.String()
}

// writeScaffold writes main.go, go.mod and a go.sum seeded from the
// go.sum files of the function and its replaced modules (so that tidy
// finds most checksums without asking the proxy) into dir.
func writeScaffold(dir string, p Project, replaces []replace) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var sums []string
	for _, d := range append([]string{p.Dir}, newPaths(replaces)...) {
		raw, err := os.ReadFile(filepath.Join(d, "go.sum"))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				sums = append(sums, line)
			}
		}
	}
	slices.Sort(sums)
	sums = slices.Compact(sums)
	files := map[string]string{
		"main.go": mainFiles[p.signature()],
		"go.mod":  scaffoldGoMod(p.Dir, replaces),
		"go.sum":  strings.Join(sums, "\n") + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func newPaths(rr []replace) []string {
	var out []string
	for _, r := range rr {
		out = append(out, r.New)
	}
	return out
}
