// Package storetest is what the store module's shared contract suites and
// the functions' own tests need of the test environment: the backing
// services the test command (make test, tests/README.md) starts and
// exports as AGENTCHAT_TEST_* variables.
package storetest

import (
	"os"
	"testing"
)

// Environment variables the test command exports.
const (
	EnvMongoURI = "AGENTCHAT_TEST_MONGODB_URI"
	EnvRedisURL = "AGENTCHAT_TEST_REDIS_URL"
)

// Need returns the value of the environment variable name (a test service
// the test command exports), or ends the test without it: a skip when run
// by hand, a failure under CI=true, where nothing may be missing.
func Need(t testing.TB, name string) string {
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
