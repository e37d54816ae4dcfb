package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
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

// need returns the value of the variable name, or skips the test (fails it
// under CI=true) when it is unset.
func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s is not set, and CI=true: run the tests through make test", name)
	}
	t.Skipf("testenv: %s is not set: run make test, or export it (see tests/README.md)", name)
	return ""
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
