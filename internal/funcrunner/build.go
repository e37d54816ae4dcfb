package funcrunner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options says what to build and where to cache it.
type Options struct {
	// FunctionDir is the function's folder (func.yaml, go.mod "module function").
	FunctionDir string
	// SDKDir, when set, replaces github.com/agentchat/agentchat/sdk with this
	// folder, whatever the function's go.mod says. Without it, the
	// function's own directory replace lines are used.
	SDKDir string
	// CacheDir holds scaffolds and binaries; "" means DefaultCacheDir().
	CacheDir string
	// Logger receives build progress; nil discards it.
	Logger *slog.Logger
}

// SDKModule is the module path of agentchat's SDK.
const SDKModule = "github.com/agentchat/agentchat/sdk"

// keepBuilds is how many binaries per function stay in the cache: the
// newest, plus a few that running processes may still Restart from. Builds
// used within keepRecent stay too: another checkout may have built newer
// ones meanwhile (checkouts share the cache).
const (
	keepBuilds = 3
	keepRecent = time.Hour
)

// DefaultCacheDir is $XDG_CACHE_HOME/agentchat/functions, or
// ~/.cache/agentchat/functions when XDG_CACHE_HOME is unset.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("funcrunner: cache dir: %w", err)
	}
	return filepath.Join(dir, "agentchat", "functions"), nil
}

// Build returns the path of an executable for the function in
// o.FunctionDir, building it through func's Go scaffold unless the cache
// already holds one built from the same inputs: the function's files, its
// local replaced modules' files (the SDK), the scaffold and the Go
// toolchain and environment — their contents, not where they are: the
// binary is built with -trimpath, so every checkout (a clean clone in CI, a
// worktree) of the same sources shares one build. Builds of one function
// are serialised across processes by a lock file; different functions
// build concurrently.
func Build(ctx context.Context, o Options) (string, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p, err := Inspect(o.FunctionDir)
	if err != nil {
		return "", err
	}
	cache := o.CacheDir
	if cache == "" {
		if cache, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	replaces, err := localReplaces(ctx, p.Dir, o.SDKDir)
	if err != nil {
		return "", fmt.Errorf("funcrunner: %s: %w", p.Name, err)
	}
	goenv, err := goEnv(ctx)
	if err != nil {
		return "", err
	}
	sum, err := inputHash(p, replaces, goenv)
	if err != nil {
		return "", fmt.Errorf("funcrunner: %s: hash: %w", p.Name, err)
	}

	// One folder per function name, one subfolder per build.
	fnCache := filepath.Join(cache, p.Name)
	buildDir := filepath.Join(fnCache, sum)
	binary := filepath.Join(buildDir, p.Name)
	if err := os.MkdirAll(fnCache, 0o755); err != nil {
		return "", fmt.Errorf("funcrunner: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(fnCache, "lock"))
	if err != nil {
		return "", fmt.Errorf("funcrunner: %s: %w", p.Name, err)
	}
	defer unlock()

	if _, err := os.Stat(binary); err == nil {
		log.Debug("funcrunner: cache hit", "function", p.Name, "binary", binary)
		now := time.Now()
		os.Chtimes(buildDir, now, now) // most recently used: pruned last
		return binary, nil
	}
	log.Info("funcrunner: building", "function", p.Name, "dir", p.Dir, "signature", p.signature())
	start := time.Now()
	scaffold := filepath.Join(buildDir, "scaffold")
	if err := writeScaffold(scaffold, p, replaces); err != nil {
		return "", fmt.Errorf("funcrunner: %s: scaffold: %w", p.Name, err)
	}
	tmp := binary + ".tmp"
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-trimpath", "-o", tmp, "."}} {
		if err := goCmd(ctx, scaffold, args...); err != nil {
			return "", fmt.Errorf("funcrunner: %s: %w", p.Name, err)
		}
	}
	if err := os.Rename(tmp, binary); err != nil {
		return "", fmt.Errorf("funcrunner: %s: %w", p.Name, err)
	}
	log.Info("funcrunner: built", "function", p.Name, "binary", binary, "took", time.Since(start).Round(time.Millisecond).String())
	prune(fnCache, keepBuilds, time.Now().Add(-keepRecent))
	return binary, nil
}

// goCmd runs the go command in dir, its combined output becoming the error.
func goCmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// localReplaces returns the directory replace lines of dir's go.mod with
// absolute targets, the SDK's replaced by sdkDir when that is set.
func localReplaces(ctx context.Context, dir, sdkDir string) ([]replace, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "edit", "-json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("read go.mod: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var mod struct {
		Module  struct{ Path string }
		Replace []struct {
			Old, New struct{ Path, Version string }
		}
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("read go.mod: %w", err)
	}
	if mod.Module.Path != "function" {
		return nil, fmt.Errorf("go.mod declares module %q; func requires \"function\"", mod.Module.Path)
	}
	var rr []replace
	for _, r := range mod.Replace {
		if r.New.Version != "" || r.Old.Version != "" || (sdkDir != "" && r.Old.Path == SDKModule) {
			continue // module replacements are ignored by func too
		}
		target := r.New.Path
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		rr = append(rr, replace{Old: r.Old.Path, New: target})
	}
	if sdkDir != "" {
		abs, err := filepath.Abs(sdkDir)
		if err != nil {
			return nil, err
		}
		rr = append(rr, replace{Old: SDKModule, New: abs})
	}
	for _, r := range rr {
		if _, err := os.Stat(filepath.Join(r.New, "go.mod")); err != nil {
			return nil, fmt.Errorf("replace %s => %s: %w", r.Old, r.New, errNoGoMod)
		}
	}
	slices.SortFunc(rr, func(a, b replace) int { return strings.Compare(a.Old, b.Old) })
	return rr, nil
}

var goEnvOnce struct {
	sync.Mutex
	val string
}

// goEnv is the part of the Go environment that changes what a build
// produces, read once per process.
func goEnv(ctx context.Context) (string, error) {
	goEnvOnce.Lock()
	defer goEnvOnce.Unlock()
	if goEnvOnce.val != "" {
		return goEnvOnce.val, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT").Output()
	if err != nil {
		return "", fmt.Errorf("funcrunner: go env: %w", err)
	}
	goEnvOnce.val = string(out)
	return goEnvOnce.val, nil
}

// inputHash digests everything a build depends on: the scaffold, the Go
// environment, and the contents of the function's folder and of each
// replaced module under its module path. Folder paths are left out (the
// build is -trimpath): the same sources anywhere give the same hash.
func inputHash(p Project, replaces []replace, goenv string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", scaffoldVersion, FuncGoVersion, p.signature(), goenv)
	if err := hashTree(h, "function", p.Dir); err != nil {
		return "", err
	}
	for _, r := range replaces { // sorted by module path
		if err := hashTree(h, r.Old, r.New); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// hashTree writes the module path and the names, modes and contents of the
// files of the module rooted at dir into h. Hidden folders (.func, .git),
// nested modules and _test.go files are left out: none of them changes the
// binary.
func hashTree(h io.Writer, module, dir string) error {
	fmt.Fprintf(h, "module %s\x00", module)
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(d.Name(), ".") || exists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", filepath.ToSlash(rel), info.Mode().Perm()&0o111, info.Size())
		_, err = io.Copy(h, f)
		return err
	})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait. flock locks belong to the open file, so goroutines of one
// process exclude each other as processes do.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for build lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// prune removes the builds in fnCache that are neither among the keep most
// recently used nor used after recent. Called with the function's lock held.
func prune(fnCache string, keep int, recent time.Time) {
	entries, err := os.ReadDir(fnCache)
	if err != nil {
		return
	}
	type build struct {
		path string
		used time.Time
	}
	var builds []build
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if info, err := e.Info(); err == nil {
			builds = append(builds, build{filepath.Join(fnCache, e.Name()), info.ModTime()})
		}
	}
	slices.SortFunc(builds, func(a, b build) int { return b.used.Compare(a.used) })
	for _, b := range builds[min(keep, len(builds)):] {
		if b.used.Before(recent) {
			os.RemoveAll(b.path)
		}
	}
}
