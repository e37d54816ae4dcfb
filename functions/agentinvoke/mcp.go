package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"sync"
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
	// HeadersEnv names, for each header the server wants on every request
	// (its credentials: "Authorization"), the variable of agent-invoke's
	// environment that holds the header's whole value ("Bearer …"): the
	// secret lives in a Secret, not in AGENT_CONFIG, and is never logged.
	HeadersEnv map[string]string `json:"headersEnv,omitempty"`
	timeout    time.Duration
	headers    map[string]string // HeadersEnv's values, read at start
}

// LogValue keeps a server's headers out of every log line.
func (s mcpServer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.String("url", s.URL))
}

// String is for errors: the name and URL, never the headers.
func (s mcpServer) String() string { return s.Name + " (" + s.URL + ")" }

// headerNamePattern is what a configured header's name may be; the
// transport's own headers are not the config's to set.
var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

var reservedMCPHeaders = []string{"Accept", "Content-Type", "Content-Length", "Host", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-Id"}

// mcpSeparator joins a server's name and its tool's in the name the model
// sees (OpenAI allows letters, digits, _ and - only).
const mcpSeparator = "__"

// mcpConnectTimeout bounds connecting to one server and listing its tools.
const mcpConnectTimeout = 10 * time.Second

// checkMCPServers checks an agent's MCP servers: a name that can prefix a
// tool name, each once, an http(s) URL, a readable timeout, headers whose
// variables env holds (their values are named in no error).
func checkMCPServers(in []mcpServer, env map[string]string) ([]mcpServer, error) {
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
		for h, name := range s.HeadersEnv {
			h = textproto.CanonicalMIMEHeaderKey(h)
			v := env[name]
			switch {
			case !headerNamePattern.MatchString(h) || slices.Contains(reservedMCPHeaders, h):
				return nil, fmt.Errorf("%s: header %q cannot be set (letters, digits and -; not %s)", s.Name, h, strings.Join(reservedMCPHeaders, ", "))
			case v == "":
				return nil, fmt.Errorf("%s: header %s: the variable %q is not set", s.Name, h, name)
			case strings.ContainsAny(v, "\r\n"):
				return nil, fmt.Errorf("%s: header %s: the value of %q holds a line break", s.Name, h, name)
			}
			if s.headers == nil {
				s.headers = map[string]string{}
			}
			s.headers[h] = v
		}
		out = append(out, s)
	}
	return out, nil
}

// mcpTools are the MCP tools of one turn: its tools by the name the
// model sees, and a session per server the turn connected to (to list
// its tools, or to call one: mcpcache.go).
type mcpTools struct {
	tools map[string]mcpTool
	specs []toolSpec // offered to the model

	mu       sync.Mutex
	sessions map[string]*mcp.ClientSession // by server name
}

// mcpTool is one tool of one server.
type mcpTool struct {
	server mcpServer
	name   string // the server's name for it
}

// openMCP offers the tools of the agent's MCP servers: a list cached
// within AGENT_MCP_TOOLS_TTL, else the server's, listed now (and cached).
// It never fails the turn: a server that does not answer is logged and
// left out.
func (t *turn) openMCP(ctx context.Context, cfg modelConfig) *mcpTools {
	mt := &mcpTools{tools: map[string]mcpTool{}, sessions: map[string]*mcp.ClientSession{}}
	for _, s := range cfg.MCPServers {
		l, ok := t.d.mcpLists.get(t.k.Agent, s)
		if !ok {
			var err error
			if l, err = mt.list(ctx, s); err != nil {
				t.log.Warn("agent-invoke: MCP server not reached: its tools are not offered", "server", s.Name, "err", err)
				continue
			}
			t.d.mcpLists.put(t.k.Agent, s, l)
		}
		mt.specs = append(mt.specs, l.specs...)
		for seen, name := range l.names {
			mt.tools[seen] = mcpTool{server: s, name: name}
		}
	}
	return mt
}

// session connects to s for this turn, once: the session a list opened,
// or a new one for a call.
func (mt *mcpTools) session(ctx context.Context, s mcpServer) (*mcp.ClientSession, error) {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	if cs := mt.sessions[s.Name]; cs != nil {
		return cs, nil
	}
	ctx, cancel := context.WithTimeout(ctx, mcpConnectTimeout)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentchat-agent-invoke", Version: "1"}, nil)
	// No standalone SSE stream (the turn only asks), no reconnects (a
	// turn is short; the next one connects anew).
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.URL, HTTPClient: s.httpClient(),
		MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return nil, err
	}
	mt.sessions[s.Name] = cs
	return cs, nil
}

// list connects to s and lists its tools.
func (mt *mcpTools) list(ctx context.Context, s mcpServer) (mcpList, error) {
	cs, err := mt.session(ctx, s)
	if err != nil {
		return mcpList{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, mcpConnectTimeout)
	defer cancel()
	l := mcpList{names: map[string]string{}}
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return mcpList{}, err
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
		l.specs = append(l.specs, toolSpec{Name: name, Description: tool.Description, Parameters: params, timeout: s.timeout})
		l.names[name] = tool.Name
	}
	return l, nil
}

// close ends the turn's sessions.
func (mt *mcpTools) close() {
	mt.mu.Lock()
	defer mt.mu.Unlock()
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
	cs, err := mt.session(ctx, tool.server)
	if err != nil {
		return toolOutput{Error: true, Content: "the tool's server could not be reached"}
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool.name, Arguments: args})
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
