package fn_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
)

type testConfig struct {
	URI      string        `env:"MONGODB_URI" required:"true"`
	Database string        `env:"MONGODB_DATABASE" default:"agentchat"`
	Lease    time.Duration `env:"AGENT_LEASE" default:"30s"`
	Calls    int           `env:"AGENT_MAX_CALLS" default:"16"`
	Store    bool          `env:"OPENAI_STORE"`
	Ratio    float64       `env:"RATIO" default:"0.5"`
	Level    slog.Level    `env:"LOG_LEVEL" default:"INFO"`
	Filled   string        // untagged: the caller's
}

func TestLoadFillsDefaultsAndValues(t *testing.T) {
	for _, c := range []struct {
		name string
		m    map[string]string
		want testConfig
	}{
		{"defaults", map[string]string{"MONGODB_URI": "mongodb://x"},
			testConfig{URI: "mongodb://x", Database: "agentchat", Lease: 30 * time.Second, Calls: 16, Ratio: 0.5, Level: slog.LevelInfo, Filled: "kept"}},
		{"empty means default", map[string]string{"MONGODB_URI": "mongodb://x", "MONGODB_DATABASE": "", "LOG_LEVEL": "", "AGENT_LEASE": ""},
			testConfig{URI: "mongodb://x", Database: "agentchat", Lease: 30 * time.Second, Calls: 16, Ratio: 0.5, Level: slog.LevelInfo, Filled: "kept"}},
		{"values", map[string]string{"MONGODB_URI": "u", "MONGODB_DATABASE": "db", "AGENT_LEASE": "2m", "AGENT_MAX_CALLS": " 3 ",
			"OPENAI_STORE": "true", "RATIO": "1.25", "LOG_LEVEL": "debug"},
			testConfig{URI: "u", Database: "db", Lease: 2 * time.Minute, Calls: 3, Store: true, Ratio: 1.25, Level: slog.LevelDebug, Filled: "kept"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := testConfig{Filled: "kept"}
			if err := fn.Load(c.m, &got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// Every bad variable is reported, by name, never by value (a value may be
// a secret).
func TestLoadNamesEveryBadVariable(t *testing.T) {
	var c testConfig
	err := fn.Load(map[string]string{"AGENT_LEASE": "soon-SECRET", "AGENT_MAX_CALLS": "many-SECRET",
		"OPENAI_STORE": "maybe-SECRET", "LOG_LEVEL": "LOUD-SECRET", "RATIO": "half-SECRET"}, &c)
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"MONGODB_URI is required", "AGENT_LEASE", "AGENT_MAX_CALLS", "OPENAI_STORE", "LOG_LEVEL", "RATIO"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %q repeats a value", err)
	}
}

func TestLoadWantsAPointerToAStruct(t *testing.T) {
	var c testConfig
	if err := fn.Load(nil, c); err == nil {
		t.Error("a struct value was accepted")
	}
	var bad struct {
		Ch chan int `env:"CH"`
	}
	if err := fn.Load(map[string]string{"CH": "1"}, &bad); err == nil {
		t.Error("an unsupported field type was accepted")
	}
}
