package function

import (
	"context"
	"fmt"
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
// counting its calls.
type testMCPServer struct {
	url   string
	calls atomic.Int32
}

type addArgs struct {
	A int `json:"a" jsonschema:"the first number"`
	B int `json:"b" jsonschema:"the second number"`
}

func newTestMCPServer(t *testing.T) *testMCPServer {
	t.Helper()
	ts := &testMCPServer{}
	server := mcp.NewServer(&mcp.Implementation{Name: "calc", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "adds two numbers"},
		func(_ context.Context, _ *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			ts.calls.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(in.A + in.B)}}}, nil, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
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
	servers, err := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url}, {Name: "down", URL: "http://127.0.0.1:1/mcp"}})
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
	servers, _ := checkMCPServers([]mcpServer{{Name: "calc", URL: ms.url}})
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
		if _, err := checkMCPServers(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
