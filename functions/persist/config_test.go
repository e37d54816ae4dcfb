package function

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
)

// The defaults and bounds config/README.md documents.
func TestConfig(t *testing.T) {
	var c config
	if err := fn.Load(map[string]string{"MONGODB_URI": "mongodb://x", "MEMBERSHIP_CACHE_TTL": ""}, &c); err != nil {
		t.Fatal(err)
	}
	want := config{MongoURI: "mongodb://x", Database: "agentchat", LogLevel: slog.LevelInfo, CacheTTL: 10 * time.Second, CursorLinger: 5 * time.Millisecond}
	if c != want {
		t.Errorf("defaults: got %+v, want %+v", c, want)
	}
	for _, bad := range []struct{ name, value string }{
		{"MONGODB_URI", ""}, {"MEMBERSHIP_CACHE_TTL", "2m"}, {"MEMBERSHIP_CACHE_TTL", "-1s"}, {"MEMBERSHIP_CACHE_TTL", "soon"},
		{"CURSOR_LINGER", "101ms"}, {"CURSOR_LINGER", "-1ms"}, {"LOG_LEVEL", "LOUD"},
	} {
		m := map[string]string{"MONGODB_URI": "mongodb://x", bad.name: bad.value}
		err := New().Start(context.Background(), m)
		if err == nil || !strings.HasPrefix(err.Error(), "persist: config: "+bad.name) {
			t.Errorf("%s=%q: Start said %v, want an error naming it", bad.name, bad.value, err)
		}
	}
}
