package function

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/tool"
	"github.com/agentchat/agentchat/store/toolruns"
)

// The tool calls allowed URLs only (redirects included), sends the call
// id, answers status and body, bounded; runs once per call id.
func TestHTTPTool(t *testing.T) {
	var hits atomic.Int32
	var lastCall atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		lastCall.Store(r.Header.Get(HeaderCallID))
		switch r.URL.Path {
		case "/v1/weather":
			w.Write([]byte(`{"sky":"clear"}`))
		case "/v1/big":
			w.Write([]byte(strings.Repeat("x", 100)))
		case "/v1/away":
			http.Redirect(w, r, "/admin", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	cl, err := newCaller(api.URL+"/v1/", time.Second, 50)
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	f.Use(tool.Parts{Run: cl.call, Runs: toolruns.NewMemory()})
	ask := func(callID, arguments string) (events.ToolResult, bool) {
		t.Helper()
		e, err := events.NewToolCalled("c-1", "dv-helper", "model", events.ToolCalled{CallID: callID, Tool: "http", AgentID: "helper", ReplyTo: 4, Arguments: arguments})
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.HandleEvent(context.Background(), e)
		if err != nil {
			t.Fatalf("%s: %v", callID, err)
		}
		if r == nil {
			return events.ToolResult{}, false
		}
		d, _ := events.Decode[events.ToolResult](*r)
		return d, true
	}
	if got, _ := ask("tc-1", `{"url": "`+api.URL+`/v1/weather"}`); got.Error || got.Content != "HTTP 200\n{\"sky\":\"clear\"}" {
		t.Errorf("weather = %+v", got)
	}
	if lastCall.Load() != "tc-1" {
		t.Errorf("the API saw call id %v, want tc-1", lastCall.Load())
	}
	if got, again := ask("tc-1", `{"url": "`+api.URL+`/v1/weather"}`); again || hits.Load() != 1 {
		t.Errorf("the same call id again: replied %v (%+v), API hits %d; want no reply, 1 hit", again, got, hits.Load())
	}
	if got, _ := ask("tc-2", `{"url": "`+api.URL+`/v1/big"}`); !strings.HasSuffix(got.Content, "[truncated]") || len(got.Content) > 80 {
		t.Errorf("big = %q", got.Content)
	}
	before := hits.Load()
	for i, u := range []string{
		api.URL + "/v2/other", api.URL + "/v1/../admin", "http://example.com/v1/weather",
		strings.Replace(api.URL, "127.0.0.1", "127.0.0.1.nip.io", 1) + "/v1/weather", "file:///etc/passwd",
		// Encoded dot segments and slashes: a server that decodes before
		// it normalises would serve /admin.
		api.URL + "/v1/weather/%2e%2e/%2e%2e/admin", api.URL + "/v1/a%2f..%2f..%2fadmin", api.URL + "/v1/%2E%2E/admin",
		api.URL + "/v1/a%5c..%5cadmin",
	} {
		got, _ := ask("tc-deny-"+string(rune('a'+i)), `{"url": "`+u+`"}`)
		if !got.Error || !strings.Contains(got.Content, "url") {
			t.Errorf("%s = %+v, want refused", u, got)
		}
	}
	if hits.Load() != before {
		t.Errorf("refused URLs reached the API (%d hits)", hits.Load()-before)
	}
	if got, _ := ask("tc-3", `{"url": "`+api.URL+`/v1/away"}`); !got.Error || !strings.Contains(got.Content, "reached") {
		t.Errorf("redirect out of the allow-list = %+v, want an error", got)
	}
	if got, _ := ask("tc-4", `{"url": "`+api.URL+`/v1/weather", "method": "DELETE"}`); !got.Error {
		t.Errorf("DELETE = %+v, want refused", got)
	}
}
