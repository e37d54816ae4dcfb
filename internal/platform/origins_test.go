package platform

import (
	"slices"
	"strings"
	"testing"
)

// TestAllowedOrigins: the dev runner (fixed connector addresses) allows the
// web client's own origins and nothing else; an explicit list wins; with
// addresses picked at start (tests) any origin is allowed. Connectors and
// accounts get the same ALLOWED_ORIGINS.
func TestAllowedOrigins(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"dev runner", Config{Connectors: 1, ConnectorAddrs: []string{"127.0.0.1:8080"}},
			[]string{"http://127.0.0.1:8080", "http://localhost:8080"}},
		{"two connectors", Config{Connectors: 2, ConnectorAddrs: []string{"127.0.0.1:8080", "127.0.0.1:8091"}},
			[]string{"http://127.0.0.1:8080", "http://localhost:8080", "http://127.0.0.1:8091", "http://localhost:8091"}},
		{"a named host", Config{Connectors: 1, ConnectorAddrs: []string{"chat.lan:8080"}}, []string{"http://chat.lan:8080"}},
		{"all interfaces", Config{Connectors: 1, ConnectorAddrs: []string{"0.0.0.0:8080"}},
			[]string{"http://127.0.0.1:8080", "http://localhost:8080"}},
		{"explicit", Config{Connectors: 1, ConnectorAddrs: []string{"127.0.0.1:8080"}, AllowedOrigins: []string{"https://chat.example"}},
			[]string{"https://chat.example"}},
		{"ports picked at start", Config{Connectors: 2, ConnectorAddrs: []string{"127.0.0.1:8080"}}, []string{"*"}},
		{"no addresses", Config{}, []string{"*"}},
	} {
		p := &Platform{cfg: tt.cfg}
		if got := p.AllowedOrigins(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: AllowedOrigins = %q, want %q", tt.name, got, tt.want)
		}
		if got, want := p.FunctionEnv()["ALLOWED_ORIGINS"], strings.Join(tt.want, ","); got != want {
			t.Errorf("%s: functions' ALLOWED_ORIGINS = %q, want %q", tt.name, got, want)
		}
	}
}
