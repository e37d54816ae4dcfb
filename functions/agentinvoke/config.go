package function

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/usage"
)

// config is what Start reads. func hands Start one map (its ./cfg file
// merged with the process environment), so config comes from that map and
// several instances in one test process can differ. Empty values mean
// "default" (a ConfigMap key that is present but empty arrives empty).
type config struct {
	// MongoURI and Database: the history (persist's messages, read only)
	// and the ledger.
	MongoURI string `env:"MONGODB_URI" required:"true"`
	Database string `env:"MONGODB_DATABASE" default:"agentchat"`
	// Sink is the broker: replies, partials, typing, done and errors.
	Sink string `env:"K_SINK" required:"true"`

	// Keys are the agents this runtime answers for (AGENT_KEYS).
	Keys map[string]agent.Key
	// Model is every agent's model endpoint unless Agents overrides it.
	Model modelConfig
	// Agents overrides Model per agent id (AGENT_CONFIG, JSON).
	Agents map[string]modelConfig

	Lease           time.Duration `env:"AGENT_LEASE" default:"30s"`              // how long a silent owner keeps a call
	Sweep           time.Duration `env:"AGENT_SWEEP_INTERVAL" default:"10s"`     // how often unfinished calls are looked for
	Hold            time.Duration `env:"AGENT_HOLD" default:"10s"`               // how long Handle waits for the turn before answering 200
	CallTimeout     time.Duration `env:"AGENT_CALL_TIMEOUT" default:"5m"`        // one model call, retries included
	MaxCalls        int           `env:"AGENT_MAX_CALLS" default:"16"`           // model calls at once in this instance
	Retries         int           `env:"AGENT_RETRIES" default:"3"`              // retries of a refused request (429, 503, connection refused)
	PartialInterval time.Duration `env:"AGENT_PARTIAL_INTERVAL" default:"150ms"` // least time between partials
	// EndpointTimeout is how long an endpoint that is not the agent's
	// last may take to start its answer (the first chunk) before the
	// call moves to the next one.
	EndpointTimeout time.Duration `env:"AGENT_ENDPOINT_TIMEOUT" default:"30s" min:"1ms"`
	// BudgetPeriod is the period token budgets count in (usage.PeriodOf).
	BudgetPeriod string `env:"AGENT_BUDGET_PERIOD" default:"month"`
	// ConfirmTimeout is how long a posted reply waits for persist's
	// answer (message.stored or message.rejected, brought by the
	// agent-invoke-outcome Trigger) before a sweep posts it again.
	ConfirmTimeout time.Duration `env:"AGENT_CONFIRM_TIMEOUT" default:"15s"`
	// ToolTimeout is how long a tool call may take (from its tool.called
	// to its tool.result) unless the tool names its own timeout: then the
	// model is given an error result instead (docs/agents.md, "Tools").
	ToolTimeout time.Duration `env:"AGENT_TOOL_TIMEOUT" default:"30s" min:"1ms"`
	// MaxToolSteps bounds the model requests of one answer when the model
	// keeps asking for tools: the last one still asking fails the call
	// with tool_steps.
	MaxToolSteps int `env:"AGENT_MAX_TOOL_STEPS" default:"8" min:"1"`
	// IdleGap is how long this instance may go without a turn before the
	// calls it takes next say "waking" (lifecycle.go): its model server
	// may have unloaded the model meanwhile (Ollama does after 5 minutes).
	// 0: only the first calls after the process started say it.
	IdleGap time.Duration `env:"AGENT_IDLE_GAP" default:"5m" min:"0s"`
	// MCPToolsTTL is how long an MCP server's tool list is offered without
	// listing it again (mcpcache.go); 0 lists on every turn.
	MCPToolsTTL time.Duration `env:"AGENT_MCP_TOOLS_TTL" default:"5m" min:"0s" max:"1h"`
	LogLevel    slog.Level    `env:"LOG_LEVEL" default:"INFO"`
}

// modelEnv is the part of the model configuration read by fn.Load.
type modelEnv struct {
	BaseURL      string `env:"OPENAI_BASE_URL"`
	Fallbacks    string `env:"OPENAI_FALLBACK_BASE_URLS"` // comma-separated, tried in order after OPENAI_BASE_URL
	APIKey       string `env:"OPENAI_API_KEY"`
	Model        string `env:"OPENAI_MODEL" default:"gpt-4o-mini"`
	SystemPrompt string `env:"AGENT_SYSTEM_PROMPT"`
	Context      int    `env:"AGENT_CONTEXT_MESSAGES" default:"20"`
	MaxTokens    int    `env:"AGENT_MAX_TOKENS"`
	Store        bool   `env:"OPENAI_STORE"`
	TokenBudget  int64  `env:"AGENT_TOKEN_BUDGET" min:"0"`
	ConvBudget   int64  `env:"AGENT_CONVERSATION_TOKEN_BUDGET" min:"0"`
}

// endpoint is one OpenAI-compatible endpoint an agent's calls go to.
type endpoint struct {
	BaseURL string // e.g. http://ollama:11434/v1; "" is OpenAI's
	APIKey  string // sent as Authorization: Bearer
	Model   string // e.g. llama3.2, gpt-4o-mini
}

// modelConfig is one agent's model: its endpoints and how it asks them.
type modelConfig struct {
	// Endpoints are tried in this order: a call moves to the next one
	// when an endpoint refuses it (429, 503, unreachable), fails it with
	// another 5xx, or does not start answering within
	// AGENT_ENDPOINT_TIMEOUT (docs/agents.md, "Failover"). At least one.
	Endpoints    []endpoint
	SystemPrompt string // the first message of every call
	Context      int    // history messages sent
	MaxTokens    int    // 0: the endpoint's default
	// Store asks the endpoint to keep each answer (OpenAI's store: true),
	// so that a call whose runtime died mid-stream is finished by reading
	// the stored answer instead of failing as interrupted. The endpoint
	// then keeps the conversation's text (its retention policy applies):
	// off unless OPENAI_STORE=true or the agent's "store": true.
	Store bool
	// TokenBudget is what the agent may spend in a budget period over
	// all conversations, ConversationTokenBudget what it may spend in
	// one conversation; 0: no limit (docs/agents.md, "Budgets and usage").
	TokenBudget             int64
	ConversationTokenBudget int64
	// Tools are offered to the model with every request (AGENT_CONFIG's
	// "tools"); each is a function bound by a Trigger to tool.called
	// with its name (docs/agents.md, "Add a tool in minutes").
	Tools []toolSpec
	// MCPServers' tools are offered too (AGENT_CONFIG's "mcpServers",
	// mcp.go).
	MCPServers []mcpServer
}

// toolSpec is one tool an agent offers its model.
type toolSpec struct {
	Name        string         `json:"name"`        // the tool function's Trigger filters toolname on it
	Description string         `json:"description"` // what the model reads to decide when to call it
	Parameters  map[string]any `json:"parameters"`  // the JSON schema of its arguments (an object schema)
	// Timeout overrides AGENT_TOOL_TIMEOUT for this tool (a duration:
	// "20s"); empty: the default.
	Timeout string `json:"timeout,omitempty"`
	timeout time.Duration
}

// toolFor is the agent's tool named name.
func (m modelConfig) toolFor(name string) (toolSpec, bool) {
	for _, t := range m.Tools {
		if t.Name == name {
			return t, true
		}
	}
	return toolSpec{}, false
}

// endpointFor returns the endpoint whose base URL is baseURL, else the
// first (a completion recorded before the configuration changed).
func (m modelConfig) endpointFor(baseURL string) endpoint {
	for _, e := range m.Endpoints {
		if e.BaseURL == baseURL {
			return e
		}
	}
	return m.Endpoints[0]
}

// agentJSON is one agent's entry in AGENT_CONFIG: the fields that differ
// from the defaults.
type agentJSON struct {
	BaseURL      string         `json:"baseURL"`
	APIKeyEnv    string         `json:"apiKeyEnv"` // the variable holding this agent's API key
	Model        string         `json:"model"`
	Endpoints    []endpointJSON `json:"endpoints"` // instead of baseURL: several, in failover order
	SystemPrompt string         `json:"systemPrompt"`
	Context      int            `json:"contextMessages"`
	MaxTokens    int            `json:"maxTokens"`
	Store        bool           `json:"store"`
	TokenBudget  int64          `json:"tokenBudget"`
	ConvBudget   int64          `json:"conversationTokenBudget"`
	Tools        []toolSpec     `json:"tools"`
	MCPServers   []mcpServer    `json:"mcpServers"`
}

// endpointJSON is one of an agent's "endpoints"; model and apiKeyEnv
// default to the agent's.
type endpointJSON struct {
	BaseURL   string `json:"baseURL"`
	APIKeyEnv string `json:"apiKeyEnv"`
	Model     string `json:"model"`
}

// Defaults (those of fn.Load's tags, named for tests).
const (
	defaultModel        = "gpt-4o-mini"
	defaultSystemPrompt = "You are a helpful assistant in a chat app. Answer briefly."
	defaultContext      = 20
	maxContext          = 200
)

func configFrom(m map[string]string) (config, error) {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return c, fmt.Errorf("agent-invoke: %w", err)
	}
	var me modelEnv
	if err := fn.Load(m, &me); err != nil {
		return c, fmt.Errorf("agent-invoke: %w", err)
	}
	c.Model = modelConfig{Endpoints: []endpoint{{BaseURL: me.BaseURL, APIKey: me.APIKey, Model: me.Model}},
		SystemPrompt: cmp.Or(me.SystemPrompt, defaultSystemPrompt), Context: me.Context, MaxTokens: me.MaxTokens, Store: me.Store,
		TokenBudget: me.TokenBudget, ConversationTokenBudget: me.ConvBudget}
	for _, u := range strings.Split(me.Fallbacks, ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.Model.Endpoints = append(c.Model.Endpoints, endpoint{BaseURL: u, APIKey: me.APIKey, Model: me.Model})
		}
	}
	var err error
	if c.Keys, err = agent.ParseKeys(m["AGENT_KEYS"]); err != nil {
		return c, fmt.Errorf("agent-invoke: config: AGENT_KEYS: %w", err)
	}
	if c.Lease < time.Second || c.Sweep <= 0 || c.MaxCalls < 1 || c.Retries < 0 || c.Model.Context < 0 {
		return c, fmt.Errorf("agent-invoke: config: AGENT_LEASE must be >= 1s, AGENT_SWEEP_INTERVAL and AGENT_MAX_CALLS positive")
	}
	if !usage.ValidPeriod(c.BudgetPeriod) {
		return c, fmt.Errorf("agent-invoke: config: AGENT_BUDGET_PERIOD must be month, day or total")
	}
	if c.Agents, err = agentConfigs(m["AGENT_CONFIG"], c.Model, m); err != nil {
		return c, fmt.Errorf("agent-invoke: config: AGENT_CONFIG: %w", err)
	}
	return c, nil
}

// agentConfigs reads AGENT_CONFIG, a JSON object from agent id to the
// fields of agentJSON that differ from the defaults, e.g.
//
//	{"helper": {"model": "llama3.2", "baseURL": "http://ollama:11434/v1",
//	            "systemPrompt": "You are Helper.", "contextMessages": 10},
//	 "writer": {"endpoints": [{"baseURL": "https://api.openai.com/v1", "apiKeyEnv": "WRITER_KEY"},
//	                          {"baseURL": "http://vllm:8000/v1", "model": "qwen2.5"}],
//	            "tokenBudget": 2000000, "conversationTokenBudget": 50000,
//	            "tools": [{"name": "history", "description": "Reads earlier messages.",
//	                       "parameters": {"type": "object", "properties": {"count": {"type": "integer"}}}}]}}
//
// An agent names one endpoint (baseURL, model, apiKeyEnv: each defaults
// to OPENAI_BASE_URL, OPENAI_MODEL, OPENAI_API_KEY) or several
// (endpoints, in failover order: an entry without model or apiKeyEnv
// takes the agent's); not both. tools are offered to its model (checkTools),
// and so are the tools of its mcpServers ([{"name", "url", "timeout", "headersEnv"}]: checkMCPServers). A budget of 0 or absent is the default
// (AGENT_TOKEN_BUDGET, AGENT_CONVERSATION_TOKEN_BUDGET).
func agentConfigs(raw string, defaults modelConfig, env map[string]string) (map[string]modelConfig, error) {
	out := map[string]modelConfig{}
	if raw == "" {
		return out, nil
	}
	var in map[string]agentJSON
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, err
	}
	for id, o := range in {
		c := defaults
		first := defaults.Endpoints[0]
		first.Model = cmp.Or(o.Model, first.Model)
		if o.APIKeyEnv != "" {
			first.APIKey = env[o.APIKeyEnv]
		}
		switch {
		case o.BaseURL != "" && len(o.Endpoints) > 0:
			return nil, fmt.Errorf("%s: baseURL and endpoints: name one endpoint or list several, not both", id)
		case len(o.Endpoints) > 0:
			c.Endpoints = make([]endpoint, len(o.Endpoints))
			for i, e := range o.Endpoints {
				c.Endpoints[i] = endpoint{BaseURL: e.BaseURL, APIKey: first.APIKey, Model: cmp.Or(e.Model, first.Model)}
				if e.APIKeyEnv != "" {
					c.Endpoints[i].APIKey = env[e.APIKeyEnv]
				}
			}
		case o.BaseURL != "":
			first.BaseURL = o.BaseURL
			c.Endpoints = []endpoint{first}
		default: // the default endpoints, with the agent's model and key
			c.Endpoints = make([]endpoint, len(defaults.Endpoints))
			for i, e := range defaults.Endpoints {
				c.Endpoints[i] = endpoint{BaseURL: e.BaseURL, APIKey: first.APIKey, Model: first.Model}
			}
		}
		c.SystemPrompt = cmp.Or(o.SystemPrompt, c.SystemPrompt)
		c.Context = cmp.Or(o.Context, c.Context)
		c.MaxTokens = cmp.Or(o.MaxTokens, c.MaxTokens)
		c.Store = c.Store || o.Store
		c.TokenBudget = cmp.Or(o.TokenBudget, c.TokenBudget)
		c.ConversationTokenBudget = cmp.Or(o.ConvBudget, c.ConversationTokenBudget)
		if c.Context < 0 || c.TokenBudget < 0 || c.ConversationTokenBudget < 0 {
			return nil, fmt.Errorf("%s: contextMessages and budgets must be >= 0", id)
		}
		var err error
		if c.Tools, err = checkTools(o.Tools); err != nil {
			return nil, fmt.Errorf("%s: tools: %w", id, err)
		}
		if c.MCPServers, err = checkMCPServers(o.MCPServers, env); err != nil {
			return nil, fmt.Errorf("%s: mcpServers: %w", id, err)
		}
		out[id] = c
	}
	return out, nil
}

// checkTools checks an agent's tools: names as OpenAI and Trigger
// filters accept them, each once, a description, an object schema (an
// empty one when absent) and a readable timeout.
func checkTools(in []toolSpec) ([]toolSpec, error) {
	seen := map[string]bool{}
	out := make([]toolSpec, 0, len(in))
	for _, t := range in {
		switch {
		case !events.ValidToolName(t.Name):
			return nil, fmt.Errorf("name %q: 1-64 of letters, digits, _ and -", t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("%s: named twice", t.Name)
		case strings.TrimSpace(t.Description) == "":
			return nil, fmt.Errorf("%s: a description is required (the model chooses tools by it)", t.Name)
		}
		seen[t.Name] = true
		if t.Parameters == nil {
			t.Parameters = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		if typ, _ := t.Parameters["type"].(string); typ != "object" {
			return nil, fmt.Errorf("%s: parameters must be a JSON schema of type object", t.Name)
		}
		if t.Timeout != "" {
			d, err := time.ParseDuration(t.Timeout)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: timeout %q is not a positive duration", t.Name, t.Timeout)
			}
			t.timeout = d
		}
		out = append(out, t)
	}
	return out, nil
}

// toolTimeout is how long a call of tool t may take.
func (c config) toolTimeout(t toolSpec) time.Duration {
	if t.timeout > 0 {
		return t.timeout
	}
	return c.ToolTimeout
}

// modelFor is agent's model configuration.
func (c config) modelFor(agent string) modelConfig {
	m, ok := c.Agents[agent]
	if !ok {
		m = c.Model
	}
	m.Context = min(m.Context, maxContext)
	return m
}
