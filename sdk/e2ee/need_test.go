package e2ee

import (
	"os"
	"os/exec"
	"testing"
)

// tool returns the path of the program name found in PATH, or ends the
// test without it: a skip when run by hand, a failure under CI=true, where
// the test command installs it and nothing may be missing. The sdk module
// cannot import the root module's internal/testenv (testenv.Tool); this is
// the same rule.
func tool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true: nothing may be missing; make test installs it: %s)", name, install)
	}
	t.Skipf("%s is not installed (%s): run make test, or see tests/README.md", name, install)
	return ""
}
