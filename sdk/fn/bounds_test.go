package fn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
)

type boundedConfig struct {
	TTL   time.Duration `env:"CACHE_TTL" default:"10s" min:"0" max:"1m"`
	Hops  int           `env:"HOPS" min:"0"`
	Ratio float64       `env:"RATIO" max:"1"`
}

// A value at a bound is in range; one beyond is refused with the range
// (never the value) in the error; an unset variable without a default is
// not checked.
func TestLoadChecksBounds(t *testing.T) {
	for _, c := range []struct {
		m    map[string]string
		want string // "" for no error
	}{
		{map[string]string{}, ""},
		{map[string]string{"CACHE_TTL": "0s", "HOPS": "0", "RATIO": "1"}, ""},
		{map[string]string{"CACHE_TTL": "1m"}, ""},
		{map[string]string{"CACHE_TTL": "61s"}, "config: CACHE_TTL: want 0 to 1m"},
		{map[string]string{"CACHE_TTL": "-1ns"}, "config: CACHE_TTL: want 0 to 1m"},
		{map[string]string{"HOPS": "-1"}, "config: HOPS: want at least 0"},
		{map[string]string{"RATIO": "1.5"}, "config: RATIO: want at most 1"},
	} {
		var got boundedConfig
		err := fn.Load(c.m, &got)
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want) {
			t.Errorf("Load(%v) = %v, want %q", c.m, err, c.want)
		}
	}
	var ok boundedConfig
	if err := fn.Load(map[string]string{"CACHE_TTL": "1m"}, &ok); err != nil || ok.TTL != time.Minute {
		t.Errorf("TTL at the max: %v (%v)", ok.TTL, err)
	}
}

// A bound that does not parse, or on a type without an order, is the
// program's mistake and says so.
func TestLoadRejectsBadBounds(t *testing.T) {
	var badBound struct {
		TTL time.Duration `env:"TTL" default:"1s" max:"soon"`
	}
	if err := fn.Load(nil, &badBound); err == nil || !strings.Contains(err.Error(), `bad bound "soon"`) {
		t.Errorf("bad bound: %v", err)
	}
	var unordered struct {
		Name string `env:"NAME" default:"x" min:"a"`
	}
	if err := fn.Load(nil, &unordered); err == nil || !strings.Contains(err.Error(), "not string") {
		t.Errorf("bound on a string: %v", err)
	}
}
