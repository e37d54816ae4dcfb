package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Names of the variables tests/run.sh exports.
const (
	EnvRedisURL    = "AGENTCHAT_TEST_REDIS_URL"
	EnvMongoURI    = "AGENTCHAT_TEST_MONGODB_URI"
	EnvS3Endpoint  = "AGENTCHAT_TEST_S3_ENDPOINT"
	EnvS3AccessKey = "AGENTCHAT_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "AGENTCHAT_TEST_S3_SECRET_KEY"
)

// Missing ends a test that lacks something it needs — a service, a program,
// a binary built once into the cache: a skip when the tests run by hand, a
// failure under CI=true, where the test command (make test) installs and
// starts everything, so that a green CI run means the tests ran. The
// message says what is missing and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s (CI=true: nothing may be missing; make test provides it)", msg)
	}
	t.Skipf("testenv: %s: run make test, or see tests/README.md", msg)
}

// Env returns the value of the environment variable name, or ends the test
// through Missing when it is unset.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, "%s is not set", name)
	}
	return v
}

// Tool returns the path of the program name found in PATH, or ends the
// test through Missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (not in PATH)", name)
	}
	return path
}

// unique returns a name made of the test's name, cut to at most max bytes
// in all, and a random suffix, using only [a-z0-9] and sep: safe as a Redis
// glob, a MongoDB database name and an S3 bucket name.
func unique(t testing.TB, sep byte, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), string(sep)):
			b.WriteByte(sep)
		}
	}
	suffix := randomHex(4)
	name := strings.TrimRight(b.String(), string(sep))
	if room := max - len(suffix) - 1; len(name) > room {
		name = strings.TrimRight(name[:room], string(sep))
	}
	if name == "" {
		return suffix
	}
	return name + string(sep) + suffix
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
