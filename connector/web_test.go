package connector

import (
	"os"
	"path/filepath"
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
