// Command modproxy writes a Go module proxy directory (GOPROXY=file://DIR)
// that serves this checkout's own modules — sdk and store, as the
// functions require them — at the versions the functions' go.mod files
// name, made from the checkout as a tag would publish them. func builds a
// function through a scaffold module of its own, where the function's
// replace lines do not count, so a build needs these versions from a
// proxy; with this one no tag has to exist or be pushed.
//
//	go run ./knative/hack/modproxy -out DIR functions/*/go.mod
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// ownModules maps each module of this repository that functions require
// to its folder.
var ownModules = map[string]string{
	"github.com/agentchat/agentchat/sdk":   "sdk",
	"github.com/agentchat/agentchat/store": "store",
}

func main() {
	out := flag.String("out", "", "the proxy directory to write (GOPROXY=file://DIR)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: modproxy -out DIR go.mod...")
		os.Exit(2)
	}
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(out string, gomods []string) error {
	want := map[module.Version]bool{}
	for _, path := range gomods {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(path, data, nil)
		if err != nil {
			return err
		}
		for _, r := range f.Require {
			if _, ok := ownModules[r.Mod.Path]; ok {
				want[r.Mod] = true
			}
		}
	}
	// The store requires the SDK: serve the SDK versions it names too.
	for v := range want {
		if ownModules[v.Path] != "store" {
			continue
		}
		data, err := os.ReadFile(filepath.Join("store", "go.mod"))
		if err != nil {
			return err
		}
		f, err := modfile.Parse("store/go.mod", data, nil)
		if err != nil {
			return err
		}
		for _, r := range f.Require {
			if _, ok := ownModules[r.Mod.Path]; ok {
				want[r.Mod] = true
			}
		}
	}
	versions := map[string][]string{}
	for v := range want {
		if err := write(out, v); err != nil {
			return fmt.Errorf("%s@%s: %w", v.Path, v.Version, err)
		}
		versions[v.Path] = append(versions[v.Path], v.Version)
		fmt.Printf("modproxy: %s@%s from ./%s\n", v.Path, v.Version, ownModules[v.Path])
	}
	for path, vs := range versions {
		slices.Sort(vs)
		esc, err := module.EscapePath(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, esc, "@v", "list"), []byte(strings.Join(vs, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// write puts v's .info, .mod and .zip, made from its folder, into out.
func write(out string, v module.Version) error {
	dir := ownModules[v.Path]
	esc, err := module.EscapePath(v.Path)
	if err != nil {
		return err
	}
	escV, err := module.EscapeVersion(v.Version)
	if err != nil {
		return err
	}
	base := filepath.Join(out, esc, "@v")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{v.Version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(base, escV+".info"), info, 0o644); err != nil {
		return err
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(base, escV+".mod"), mod, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(base, escV+".zip"))
	if err != nil {
		return err
	}
	// CreateFromDir leaves out what a module zip may not hold (nested
	// modules, vendor, files over the size limits) and checks the rest.
	if err := zip.CreateFromDir(f, v, dir); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
