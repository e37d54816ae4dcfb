package function

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// config is what Start reads. func hands Start one map (its ./cfg file
// merged with the process environment), so config comes from that map and
// several instances in one test process can differ. Empty values mean
// "default" (a ConfigMap key that is present but empty arrives empty).
type config struct {
	MongoURI string // MONGODB_URI, required
	Database string // MONGODB_DATABASE, default "agentchat"
	Sink     string // K_SINK: the broker, where replies, partials and errors go; required

	// Keys are the agents this runtime answers for (AGENT_KEYS).
	Keys map[string]agentKey
	// Model is every agent's model endpoint unless Agents overrides it.
	Model modelConfig
	// Agents overrides Model per agent id (AGENT_CONFIG, JSON).
	Agents map[string]modelConfig

	Lease           time.Duration // AGENT_LEASE: how long a silent owner keeps a call, default 30s
	Sweep           time.Duration // AGENT_SWEEP_INTERVAL: how often unfinished calls are looked for, default 10s
	Hold            time.Duration // AGENT_HOLD: how long Handle waits for the turn before answering 200, default 10s
	CallTimeout     time.Duration // AGENT_CALL_TIMEOUT: one model call, retries included, default 5m
	MaxCalls        int           // AGENT_MAX_CALLS: model calls at once in this instance, default 16
	Retries         int           // AGENT_RETRIES: retries of a refused request (429, 503, connection refused), default 3
	PartialInterval time.Duration // AGENT_PARTIAL_INTERVAL: least time between partials, default 150ms
	ConfirmTimeout  time.Duration // AGENT_CONFIRM_TIMEOUT: wait for the stored reply before sealing it again, default 15s
	LogLevel        slog.Level    // LOG_LEVEL: DEBUG, INFO (default), WARN or ERROR
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

// Defaults.
const (
	defaultModel        = "gpt-4o-mini"
	defaultSystemPrompt = "You are a helpful assistant in a chat app. Answer briefly."
	defaultContext      = 20
	maxContext          = 200
)

func configFrom(m map[string]string) (config, error) {
	c := config{
		MongoURI: m["MONGODB_URI"],
		Database: cmp.Or(m["MONGODB_DATABASE"], "agentchat"),
		Sink:     m["K_SINK"],
		Model: modelConfig{
			BaseURL:      m["OPENAI_BASE_URL"],
			APIKey:       m["OPENAI_API_KEY"],
			Model:        cmp.Or(m["OPENAI_MODEL"], defaultModel),
			SystemPrompt: cmp.Or(m["AGENT_SYSTEM_PROMPT"], defaultSystemPrompt),
		},
	}
	switch {
	case c.MongoURI == "":
		return c, fmt.Errorf("agent-invoke: config: MONGODB_URI is required")
	case c.Sink == "":
		return c, fmt.Errorf("agent-invoke: config: K_SINK is required (replies go to the broker)")
	}
	var err error
	if c.Keys, err = parseKeys(m["AGENT_KEYS"]); err != nil {
		return c, fmt.Errorf("agent-invoke: config: AGENT_KEYS: %w", err)
	}
	ints := []struct {
		name string
		dst  *int
		def  int
	}{
		{"AGENT_CONTEXT_MESSAGES", &c.Model.Context, defaultContext},
		{"AGENT_MAX_TOKENS", &c.Model.MaxTokens, 0},
		{"AGENT_MAX_CALLS", &c.MaxCalls, 16},
		{"AGENT_RETRIES", &c.Retries, 3},
	}
	for _, v := range ints {
		if *v.dst, err = intOr(m[v.name], v.def); err != nil {
			return c, fmt.Errorf("agent-invoke: config: %s: %w", v.name, err)
		}
	}
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"AGENT_LEASE", &c.Lease, 30 * time.Second},
		{"AGENT_SWEEP_INTERVAL", &c.Sweep, 10 * time.Second},
		{"AGENT_HOLD", &c.Hold, 10 * time.Second},
		{"AGENT_CALL_TIMEOUT", &c.CallTimeout, 5 * time.Minute},
		{"AGENT_PARTIAL_INTERVAL", &c.PartialInterval, 150 * time.Millisecond},
		{"AGENT_CONFIRM_TIMEOUT", &c.ConfirmTimeout, 15 * time.Second},
	}
	for _, v := range durations {
		if *v.dst, err = durationOr(m[v.name], v.def); err != nil {
			return c, fmt.Errorf("agent-invoke: config: %s: %w", v.name, err)
		}
	}
	if c.Model.Store, err = boolOr(m["OPENAI_STORE"], false); err != nil {
		return c, fmt.Errorf("agent-invoke: config: OPENAI_STORE: %w", err)
	}
	if c.Lease < time.Second || c.Sweep <= 0 || c.MaxCalls < 1 || c.Retries < 0 || c.Model.Context < 0 {
		return c, fmt.Errorf("agent-invoke: config: AGENT_LEASE must be >= 1s, AGENT_SWEEP_INTERVAL and AGENT_MAX_CALLS positive")
	}
	if c.Agents, err = agentConfigs(m["AGENT_CONFIG"], c.Model, m); err != nil {
		return c, fmt.Errorf("agent-invoke: config: AGENT_CONFIG: %w", err)
	}
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(m["LOG_LEVEL"], "INFO"))); err != nil {
		return c, fmt.Errorf("agent-invoke: config: LOG_LEVEL: %w", err)
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

func intOr(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

func boolOr(s string, def bool) (bool, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseBool(s)
}

func durationOr(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}

// newLogger logs JSON to stderr: ids, codes and counts only, never
// content, envelopes, keys or prompts.
func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", "agent-invoke")
}
