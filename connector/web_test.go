package connector

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWebDirServesTheWebClient(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<title>agentchat</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startConnector(t, func(c *Config) { c.WebDir = dir })
	if got, want := get(t, e.url+"/"), "<title>agentchat</title>"; got != want {
		t.Errorf("GET /: got %q, want %q", got, want)
	}
	if got := get(t, e.url+"/healthz"); got != "ok\n" {
		t.Errorf("GET /healthz next to the web client: got %q", got)
	}
}

// The page holds a device's private key: it is served with a policy that
// runs only its own scripts and talks only to the connector, accounts and
// the media store.
func TestWebClientSecurityHeaders(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<title>agentchat</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startConnector(t, func(c *Config) {
		c.WebDir = dir
		c.WebAccountsURL = "http://127.0.0.1:8081"
		c.WebMediaURL = "http://127.0.0.1:9000"
	})
	resp, err := http.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "connect-src 'self' http://127.0.0.1:8081 http://127.0.0.1:9000", "media-src 'self' blob:", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no X-Content-Type-Options: nosniff")
	}
	cfg := get(t, e.url+"/config.json")
	if !strings.Contains(cfg, `"accountsURL":"http://127.0.0.1:8081"`) {
		t.Errorf("config.json = %s", cfg)
	}
}
