package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentchat/agentchat/sdk/events"
)

// MCP servers as a tool source (docs/agents.md, "MCP servers"). An agent's
// config names MCP servers (streamable HTTP); for each turn agent-invoke
// connects to them with the official MCP Go SDK, lists their tools and
// offers them to the model as "<server>__<tool>", next to the agent's
// tool functions. A call of one is made by agent-invoke itself, not
// through the broker — the server is the tool — and exactly once per call
// id like any: the ledger's tool/<callId>/started marker is inserted
// before the call, so an attempt that finds it without a result (the
// previous one died during the call) records an error result instead of
// calling again. A server that cannot be reached offers no tools for that
// turn (the model answers without them).

// mcpServer is one MCP server an agent's config names.
type mcpServer struct {
	// Name prefixes its tools' names: the model sees "<name>__<tool>".
	Name string `json:"name"`
	// URL is its streamable HTTP endpoint, e.g. http://weather.tools.svc/mcp.
	URL string `json:"url"`
	// Timeout bounds one tool call (a duration: "20s"); empty: AGENT_TOOL_TIMEOUT.
	Timeout string `json:"timeout,omitempty"`
	timeout time.Duration
}

// mcpSeparator joins a server's name and its tool's in the name the model
// sees (OpenAI allows letters, digits, _ and - only).
const mcpSeparator = "__"

// mcpConnectTimeout bounds connecting to one server and listing its tools.
const mcpConnectTimeout = 10 * time.Second

// checkMCPServers checks an agent's MCP servers: a name that can prefix a
// tool name, each once, an http(s) URL, a readable timeout.
func checkMCPServers(in []mcpServer) ([]mcpServer, error) {
	seen := map[string]bool{}
	out := make([]mcpServer, 0, len(in))
	for _, s := range in {
		switch {
		case !events.ValidToolName(s.Name) || strings.Contains(s.Name, mcpSeparator) || len(s.Name) > 24:
			return nil, fmt.Errorf("name %q: 1-24 of letters, digits, _ and - (no %q)", s.Name, mcpSeparator)
		case seen[s.Name]:
			return nil, fmt.Errorf("%s: named twice", s.Name)
		case !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://"):
			return nil, fmt.Errorf("%s: url %q is not an http(s) URL", s.Name, s.URL)
		}
		seen[s.Name] = true
		if s.Timeout != "" {
			d, err := time.ParseDuration(s.Timeout)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: timeout %q is not a positive duration", s.Name, s.Timeout)
			}
			s.timeout = d
		}
		out = append(out, s)
	}
	return out, nil
}

// mcpTools are the MCP tools of one turn: a session per server that
// answered, and its tools by the name the model sees.
type mcpTools struct {
	sessions []*mcp.ClientSession
	tools    map[string]mcpTool
	specs    []toolSpec // offered to the model
}

// mcpTool is one tool of one server.
type mcpTool struct {
	server  mcpServer
	name    string // the server's name for it
	session *mcp.ClientSession
}

// openMCP connects to the agent's MCP servers and lists their tools.
// It never fails the turn: a server that does not answer is logged and
// left out.
func (t *turn) openMCP(ctx context.Context, cfg modelConfig) *mcpTools {
	mt := &mcpTools{tools: map[string]mcpTool{}}
	for _, s := range cfg.MCPServers {
		if err := mt.open(ctx, s); err != nil {
			t.log.Warn("agent-invoke: MCP server not reached: its tools are not offered", "server", s.Name, "err", err)
		}
	}
	return mt
}

func (mt *mcpTools) open(ctx context.Context, s mcpServer) error {
	ctx, cancel := context.WithTimeout(ctx, mcpConnectTimeout)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentchat-agent-invoke", Version: "1"}, nil)
	// No standalone SSE stream (the turn only asks), no reconnects (a
	// turn is short; the next one connects anew).
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.URL, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return err
	}
	var specs []toolSpec
	tools := map[string]mcpTool{}
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			cs.Close()
			return err
		}
		name := s.Name + mcpSeparator + tool.Name
		if !events.ValidToolName(name) {
			continue // a name the model could not call
		}
		params := map[string]any{"type": "object", "properties": map[string]any{}}
		if tool.InputSchema != nil {
			raw, err := json.Marshal(tool.InputSchema)
			if err == nil {
				var m map[string]any
				if json.Unmarshal(raw, &m) == nil && m["type"] == "object" {
					params = m
				}
			}
		}
		specs = append(specs, toolSpec{Name: name, Description: tool.Description, Parameters: params, timeout: s.timeout})
		tools[name] = mcpTool{server: s, name: tool.Name, session: cs}
	}
	mt.sessions = append(mt.sessions, cs)
	mt.specs = append(mt.specs, specs...)
	for k, v := range tools {
		mt.tools[k] = v
	}
	return nil
}

// close ends the turn's sessions.
func (mt *mcpTools) close() {
	for _, cs := range mt.sessions {
		cs.Close()
	}
}

// call runs one MCP tool call: the server's text content, or its error
// (an error result) — as the model reads it.
func (mt *mcpTools) call(ctx context.Context, tool mcpTool, arguments string, timeout time.Duration) toolOutput {
	var args map[string]any
	if strings.TrimSpace(arguments) != "" {
		if err := json.Unmarshal([]byte(arguments), &args); err != nil {
			return toolOutput{Error: true, Content: "arguments: not a JSON object"}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := tool.session.CallTool(ctx, &mcp.CallToolParams{Name: tool.name, Arguments: args})
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return toolOutput{Error: true, Content: fmt.Sprintf("the tool %s%s%s did not answer within %s", tool.server.Name, mcpSeparator, tool.name, timeout)}
	case err != nil:
		return toolOutput{Error: true, Content: "the tool's server failed the call"}
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	if len(text) == 0 && res.StructuredContent != nil {
		if raw, err := json.Marshal(res.StructuredContent); err == nil {
			text = append(text, string(raw))
		}
	}
	return toolOutput{Content: strings.Join(text, "\n"), Error: res.IsError}
}
