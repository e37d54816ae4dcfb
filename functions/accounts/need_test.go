package function

import (
	"os"
	"testing"
)

// need returns the value of the environment variable name (a test service
// the test command exports, tests/README.md), or ends the test without it:
// a skip when run by hand, a failure under CI=true, where nothing may be
// missing. Function modules cannot import the root module's
// internal/testenv; each package keeps this same small copy.
func need(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set (CI=true: nothing may be missing; make test provides it)", name)
	}
	t.Skipf("%s is not set: run make test, or see tests/README.md", name)
	return ""
}
