// Package storetest is what the store module's shared contract suites and
// the functions' own tests need of the test environment: the backing
// services the test command (make test, tests/README.md) starts and
// exports as AGENTCHAT_TEST_* variables.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store"
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

// Mongo opens a database of its own on the test MongoDB (FerretDB in the
// test command), named prefix and a random suffix, and drops it when the
// test ends; without the service it ends the test as Need does. prefix
// names the suite too (the connection's app name), so that a server log
// tells which suite a database was.
func Mongo(t testing.TB, prefix string) *store.Mongo {
	t.Helper()
	uri := Need(t, EnvMongoURI)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db, err := store.OpenMongo(uri, prefix+"_"+hex.EncodeToString(b), prefix+"-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.DB.Drop(ctx)
		_ = db.Close(ctx)
	})
	return db
}
