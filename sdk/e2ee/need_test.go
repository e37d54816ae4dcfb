package e2ee

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// missing ends a test that lacks a program it needs: a skip when run by
// hand, a failure under CI=true, where the test command installs it and
// nothing may be missing. The sdk module cannot import the root module's
// internal/testenv (testenv.Missing); this is the same rule.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: nothing may be missing; make test installs it)", msg)
	}
	t.Skipf("%s: run make test, or see tests/README.md", msg)
}

// tool returns the path of the program name found in PATH, or ends the
// test through missing; install says how to get it.
func tool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s is not installed (%s)", name, install)
	}
	return path
}
