package function

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentchat/agentchat/sdk/events"
)

// testMCPServer is an MCP server over streamable HTTP with one tool, add,
// counting its calls and its tools/list requests; with auth set, it
// refuses (401) every request whose Authorization is not auth.
type testMCPServer struct {
	url   string
	calls atomic.Int32
	lists atomic.Int32
	auth  string
}

type addArgs struct {
	A int `json:"a" jsonschema:"the first number"`
	B int `json:"b" jsonschema:"the second number"`
}

func newTestMCPServer(t *testing.T) *testMCPServer { return newTestMCPServerWith(t, "") }

func newTestMCPServerWith(t *testing.T, auth string) *testMCPServer {
	t.Helper()
	ts := &testMCPServer{auth: auth}
	server := mcp.NewServer(&mcp.Implementation{Name: "calc", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "adds two numbers"},
		func(_ context.Context, _ *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			ts.calls.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(in.A + in.B)}}}, nil, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ts.auth != "" && r.Header.Get("Authorization") != ts.auth {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"tools/list"`)) {
			ts.lists.Add(1)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ts.url = srv.URL
	return ts
}

// An agent whose config names an MCP server: its tools are offered to the
// model as <server>__<tool> with their schema, a call goes to the server
// once, and its result to the model; one reply. An unreachable server
// offers nothing and fails nothing.
func TestMCPTools(t *testing.T) {
	ms := newTestMCPServer(t)
	servers, err := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url}, {Name: "down", URL: "http://127.0.0.1:1/mcp"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, func(c *config) { c.Model.MCPServers = servers }, chunks(""), chunks("it is 5"))
	fx.model.toolCalls = map[int][]toolCall{0: {{ID: "call_add", Name: "calc__add", Arguments: `{"a": 2, "b": 3}`}}}
	m := fx.w.say("alice", "what is 2+3?")
	fx.handle(t, m)
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	eventually(t, "the call finished", func() bool { return fx.finished(k) })

	if replies := fx.w.stored("bot"); len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != "it is 5" {
		t.Fatalf("replies = %d, want one 'it is 5'", len(replies))
	}
	if got := ms.calls.Load(); got != 1 {
		t.Errorf("MCP tool calls = %d, want 1", got)
	}
	fx.model.mu.Lock()
	first, second := fx.model.requests[0], fx.model.requests[1]
	fx.model.mu.Unlock()
	if len(first.Tools) != 1 || first.Tools[0].Name != "calc__add" || first.Tools[0].Description != "adds two numbers" ||
		!strings.Contains(fmt.Sprint(first.Tools[0].Parameters["properties"]), "the first number") {
		t.Errorf("tools offered = %+v", first.Tools)
	}
	last := second.Messages[len(second.Messages)-1]
	if last.Role != roleTool || last.ToolCallID != "call_add" || last.Content != "5" {
		t.Errorf("the tool message = %+v, want 5", last)
	}
}

// An MCP tool call whose earlier attempt died while it ran (the started
// marker without a result) is not made again: the model gets an error
// result, and the call still ends in one reply.
func TestMCPToolNotRunTwice(t *testing.T) {
	ms := newTestMCPServer(t)
	servers, _ := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url}}, nil)
	fx := newFixture(t, func(c *config) { c.Model.MCPServers = servers; c.Sweep = 20 * time.Millisecond }, chunks("answered anyway"))
	m := fx.w.say("alice", "add")
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	ctx := context.Background()
	// A dead attempt: request 0 sent, it asked for calc__add, the call started.
	fx.led.Claim(ctx, k, fx.w.invokeData(t, "bot", m), "dead-instance", time.Now().Add(-time.Second))
	fx.led.MarkSent(ctx, k, 1)
	box, _ := newLedgerBox(fx.agent.Private)
	sealed, _ := box.seal(stepToolsID(k, 0), stepContent{Calls: []toolCall{{ID: "call_add", Name: "calc__add", Arguments: `{"a":1,"b":1}`}}})
	fx.led.RecordStep(ctx, k, toolStep{Step: 0, Attempt: 1, Sealed: sealed})
	fx.led.MarkToolStarted(ctx, k, events.ToolCallID(k.Conversation, k.Seq, k.Agent, 0, 0))

	eventually(t, "the call finished", func() bool { return fx.finished(k) })
	if got := ms.calls.Load(); got != 0 {
		t.Errorf("MCP tool calls = %d, want 0 (it may have run before the crash)", got)
	}
	if got := fx.model.count(); got != 1 {
		t.Errorf("model requests = %d, want 1 (request 0 is not sent again)", got)
	}
	fx.model.mu.Lock()
	last := fx.model.requests[0].Messages[len(fx.model.requests[0].Messages)-1]
	fx.model.mu.Unlock()
	if !strings.HasPrefix(last.Content, "error: the tool call was interrupted") {
		t.Errorf("the tool message = %q, want the interrupted error", last.Content)
	}
	if len(fx.w.stored("bot")) != 1 {
		t.Error("not one reply")
	}
}

func TestCheckMCPServers(t *testing.T) {
	for _, bad := range [][]mcpServer{
		{{Name: "a__b", URL: "http://x"}}, {{Name: "x", URL: "ftp://x"}}, {{Name: "x", URL: "http://x"}, {Name: "x", URL: "http://y"}},
		{{Name: "x", URL: "http://x", Timeout: "soon"}},
	} {
		if _, err := checkMCPServers(bad, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The tool list of an MCP server is listed once per AGENT_MCP_TOOLS_TTL:
// a second turn within it offers the same tools without asking the
// server, and connects only to call one; once the list is older, the
// next turn lists again. A failed list is not kept.
func TestMCPToolsListCached(t *testing.T) {
	ms := newTestMCPServer(t)
	servers, _ := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url}}, nil)
	fx := newFixture(t, func(c *config) { c.Model.MCPServers = servers; c.MCPToolsTTL = time.Hour },
		chunks(""), chunks("it is 5"), chunks(""), chunks("it is 5 again"), chunks("no tools needed"))
	fx.model.toolCalls = map[int][]toolCall{
		0: {{ID: "call_add", Name: "calc__add", Arguments: `{"a": 2, "b": 3}`}},
		2: {{ID: "call_add", Name: "calc__add", Arguments: `{"a": 2, "b": 3}`}},
	}
	ask := func(text string) {
		t.Helper()
		m := fx.w.say("alice", text)
		fx.handle(t, m)
		eventually(t, "the call finished", func() bool { return fx.finished(callKey{"c-1", m.Seq, "bot"}) })
	}
	ask("what is 2+3?")
	ask("and again?")
	if lists, calls := ms.lists.Load(), ms.calls.Load(); lists != 1 || calls != 2 {
		t.Errorf("within the TTL: tools/list %d, calls %d; want 1, 2", lists, calls)
	}
	fx.model.mu.Lock()
	offered := fx.model.requests[2].Tools
	fx.model.mu.Unlock()
	if len(offered) != 1 || offered[0].Name != "calc__add" || !strings.Contains(fmt.Sprint(offered[0].Parameters), "the first number") {
		t.Errorf("tools offered from the cache = %+v", offered)
	}
	// The list grows old: the next turn lists again.
	d := fx.f.deps.Load()
	d.mcpLists.mu.Lock()
	for k, l := range d.mcpLists.lists {
		l.until = time.Now().Add(-time.Second)
		d.mcpLists.lists[k] = l
	}
	d.mcpLists.mu.Unlock()
	ask("anything?")
	if lists := ms.lists.Load(); lists != 2 {
		t.Errorf("after the TTL: tools/list %d, want 2", lists)
	}
	// A server that cannot list is not cached.
	if _, ok := d.mcpLists.get("bot", mcpServer{Name: "down", URL: "http://127.0.0.1:1/mcp"}); ok {
		t.Error("an unknown server's list is cached")
	}
}

// An MCP server that wants credentials gets the headers the agent's
// config names by variable (headersEnv): its tools are listed and called
// with them; the value is in no error and no log value of the server.
func TestMCPHeaders(t *testing.T) {
	const secret = "Bearer mcp-s3cret-token"
	ms := newTestMCPServerWith(t, secret)
	env := map[string]string{"CALC_MCP_AUTH": secret}
	servers, err := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url, HeadersEnv: map[string]string{"authorization": "CALC_MCP_AUTH"}}}, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(servers[0].LogValue(), servers[0].String()); strings.Contains(got, "s3cret") {
		t.Errorf("the server's log value shows its header: %s", got)
	}
	fx := newFixture(t, func(c *config) { c.Model.MCPServers = servers }, chunks(""), chunks("it is 5"))
	fx.model.toolCalls = map[int][]toolCall{0: {{ID: "call_add", Name: "calc__add", Arguments: `{"a": 2, "b": 3}`}}}
	m := fx.w.say("alice", "what is 2+3?")
	fx.handle(t, m)
	eventually(t, "the call finished", func() bool { return fx.finished(callKey{"c-1", m.Seq, "bot"}) })
	if calls := ms.calls.Load(); calls != 1 {
		t.Errorf("MCP tool calls = %d, want 1 (with the header)", calls)
	}
	if replies := fx.w.stored("bot"); len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != "it is 5" {
		t.Errorf("replies = %d, want one 'it is 5'", len(replies))
	}

	// Without the header the server refuses: no tools offered.
	bare, _ := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url}}, nil)
	mt := (&turn{d: fx.f.deps.Load(), k: callKey{"c-1", 99, "other"}, log: fx.f.log}).openMCP(context.Background(), modelConfig{MCPServers: bare})
	defer mt.close()
	if len(mt.specs) != 0 {
		t.Errorf("tools offered without credentials: %+v", mt.specs)
	}

	for _, tc := range []struct {
		headers map[string]string
		env     map[string]string
	}{
		{map[string]string{"Authorization": "MISSING"}, env},
		{map[string]string{"Content-Type": "CALC_MCP_AUTH"}, env},
		{map[string]string{"Mcp-Session-Id": "CALC_MCP_AUTH"}, env},
		{map[string]string{"Bad Header": "CALC_MCP_AUTH"}, env},
		{map[string]string{"Authorization": "X"}, map[string]string{"X": "Bearer " + secret + "\r\nX-Evil: 1"}},
	} {
		_, err := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url, HeadersEnv: tc.headers}}, tc.env)
		if err == nil {
			t.Errorf("headers %v accepted", tc.headers)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}
