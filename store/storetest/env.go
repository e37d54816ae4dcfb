// Package storetest is what the store module's shared contract suites and
// the functions' own tests need of the test environment: the backing
// services the test command (make test, tests/README.md) starts and
// exports as AGENTCHAT_TEST_* variables.
package storetest

import (
	"testing"

	"github.com/agentchat/agentchat/sdk/fn/fntest"
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
	return fntest.Need(t, name)
}
