package function

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/fn"
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
	// ConfirmTimeout is how long a posted reply waits for persist's
	// answer (message.stored or message.rejected, brought by the
	// agent-invoke-outcome Trigger) before a sweep posts it again.
	ConfirmTimeout time.Duration `env:"AGENT_CONFIRM_TIMEOUT" default:"15s"`
	LogLevel       slog.Level    `env:"LOG_LEVEL" default:"INFO"`
}

// modelEnv is the part of the model configuration read by fn.Load.
type modelEnv struct {
	BaseURL      string `env:"OPENAI_BASE_URL"`
	APIKey       string `env:"OPENAI_API_KEY"`
	Model        string `env:"OPENAI_MODEL" default:"gpt-4o-mini"`
	SystemPrompt string `env:"AGENT_SYSTEM_PROMPT"`
	Context      int    `env:"AGENT_CONTEXT_MESSAGES" default:"20"`
	MaxTokens    int    `env:"AGENT_MAX_TOKENS"`
	Store        bool   `env:"OPENAI_STORE"`
}

// modelConfig is one agent's model: an OpenAI-compatible endpoint.
type modelConfig struct {
	BaseURL      string `json:"baseURL,omitempty"`      // e.g. http://ollama:11434/v1; "" is OpenAI's
	APIKey       string `json:"-"`                      // from OPENAI_API_KEY or the variable APIKeyEnv names
	APIKeyEnv    string `json:"apiKeyEnv,omitempty"`    // name of the variable holding this agent's API key
	Model        string `json:"model,omitempty"`        // e.g. llama3.2, gpt-4o-mini
	SystemPrompt string `json:"systemPrompt,omitempty"` // the first message of every call
	Context      int    `json:"contextMessages,omitempty"`
	MaxTokens    int    `json:"maxTokens,omitempty"` // 0: the endpoint's default
	// Store asks the endpoint to keep each answer (OpenAI's store: true),
	// so that a call whose runtime died mid-stream is finished by reading
	// the stored answer instead of failing as interrupted. The endpoint
	// then keeps the conversation's text (its retention policy applies):
	// off unless OPENAI_STORE=true or the agent's "store": true.
	Store bool `json:"store,omitempty"`
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
	c.Model = modelConfig{BaseURL: me.BaseURL, APIKey: me.APIKey, Model: me.Model,
		SystemPrompt: cmp.Or(me.SystemPrompt, defaultSystemPrompt), Context: me.Context, MaxTokens: me.MaxTokens, Store: me.Store}
	var err error
	if c.Keys, err = agent.ParseKeys(m["AGENT_KEYS"]); err != nil {
		return c, fmt.Errorf("agent-invoke: config: AGENT_KEYS: %w", err)
	}
	if c.Lease < time.Second || c.Sweep <= 0 || c.MaxCalls < 1 || c.Retries < 0 || c.Model.Context < 0 {
		return c, fmt.Errorf("agent-invoke: config: AGENT_LEASE must be >= 1s, AGENT_SWEEP_INTERVAL and AGENT_MAX_CALLS positive")
	}
	if c.Agents, err = agentConfigs(m["AGENT_CONFIG"], c.Model, m); err != nil {
		return c, fmt.Errorf("agent-invoke: config: AGENT_CONFIG: %w", err)
	}
	return c, nil
}

// agentConfigs reads AGENT_CONFIG, a JSON object from agent id to the
// fields of modelConfig that differ from the defaults, e.g.
//
//	{"helper": {"model": "llama3.2", "baseURL": "http://ollama:11434/v1",
//	            "systemPrompt": "You are Helper.", "contextMessages": 10}}
func agentConfigs(raw string, defaults modelConfig, env map[string]string) (map[string]modelConfig, error) {
	out := map[string]modelConfig{}
	if raw == "" {
		return out, nil
	}
	var in map[string]modelConfig
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, err
	}
	for id, o := range in {
		c := defaults
		c.BaseURL = cmp.Or(o.BaseURL, c.BaseURL)
		c.Model = cmp.Or(o.Model, c.Model)
		c.SystemPrompt = cmp.Or(o.SystemPrompt, c.SystemPrompt)
		c.Context = cmp.Or(o.Context, c.Context)
		c.MaxTokens = cmp.Or(o.MaxTokens, c.MaxTokens)
		c.Store = c.Store || o.Store
		if o.APIKeyEnv != "" {
			c.APIKey = env[o.APIKeyEnv]
		}
		if c.Context < 0 {
			return nil, fmt.Errorf("%s: contextMessages must be >= 0", id)
		}
		out[id] = c
	}
	return out, nil
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
