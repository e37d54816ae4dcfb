package e2e

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

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
)

// TestMCPServerTools: an agent whose config names an MCP server (a test
// server over streamable HTTP, the official Go SDK's) answers a question
// with one of its tools: the tool is offered to the model as calc__add
// with the server's schema, called once, its result given to the model,
// and the question gets exactly one reply.
func TestMCPServerTools(t *testing.T) {
	var calls atomic.Int32
	server := mcp.NewServer(&mcp.Implementation{Name: "calc", Version: "1"}, nil)
	type addArgs struct {
		A int `json:"a" jsonschema:"the first number"`
		B int `json:"b" jsonschema:"the second number"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "Adds two numbers."},
		func(_ context.Context, _ *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			calls.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(in.A + in.B)}}}, nil, nil
		})
	mcpSrv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(mcpSrv.Close)

	ap := startToolAgents(t, map[string]string{
		"AGENT_CONFIG": fmt.Sprintf(`{"helper": {"mcpServers": [{"name": "calc", "url": %q}]}}`, mcpSrv.URL),
	}, "http://127.0.0.1:1/")
	ap.model.Script(func(r modeltest.Request) modeltest.Reply {
		if !strings.HasPrefix(r.Last("user"), "[mcp]") {
			return modeltest.Echo(r)
		}
		if res := r.Last("tool"); res != "" {
			return modeltest.Reply{Chunks: modeltest.Words("2+3 is " + res)}
		}
		return modeltest.Reply{ToolCalls: []modeltest.ToolCall{{ID: "call_add", Name: "calc__add", Arguments: `{"a": 2, "b": 3}`}}}
	})
	alice := signup(t, ap.env, "alice")
	ca := alice.dial(t, ap.env)
	wa := watch(ca)
	conv := ap.group(t, alice, "mcp", "helper")
	question := send(t, ca, wa, conv, "[mcp] what is 2+3?")

	var replies []string
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() bool {
		replies = replies[:0]
		for _, m := range wa.messages(conv, "helper") {
			if m.Content.ReplyTo == question {
				replies = append(replies, m.Content.Text)
			}
		}
		return len(replies) > 0 && ap.callState(conv, question, "helper") == "replied"
	}, "the reply")
	if len(replies) != 1 || replies[0] != "2+3 is 5" {
		t.Errorf("replies = %q, want one '2+3 is 5'", replies)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("MCP tool calls = %d, want 1", n)
	}
	if errs := wa.activity(conv, client.AgentError); len(errs) != 0 {
		t.Errorf("agent errors: %+v", errs)
	}
	var asked []modeltest.Request
	for _, r := range ap.model.Requests() {
		if strings.HasPrefix(r.Last("user"), "[mcp]") {
			asked = append(asked, r)
		}
	}
	if len(asked) != 2 {
		t.Fatalf("model requests = %d, want 2", len(asked))
	}
	if len(asked[0].Tools) != 1 || asked[0].Tools[0].Name != "calc__add" || !strings.Contains(string(asked[0].Tools[0].Parameters), "the first number") {
		t.Errorf("tools offered = %+v", asked[0].Tools)
	}
}
