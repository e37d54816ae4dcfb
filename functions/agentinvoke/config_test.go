package function

import (
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

func keyB64(t *testing.T) (string, *e2ee.PrivateKey) {
	t.Helper()
	k, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k.Bytes()), k
}

func TestConfigFrom(t *testing.T) {
	a, _ := keyB64(t)
	base := func() map[string]string {
		return map[string]string{"MONGODB_URI": "mongodb://x", "K_SINK": "http://broker", "AGENT_KEYS": "helper:" + a}
	}
	c, err := configFrom(base())
	if err != nil {
		t.Fatal(err)
	}
	if c.Database != "agentchat" || len(c.Model.Endpoints) != 1 || c.Model.Endpoints[0].Model != defaultModel || c.Model.Context != defaultContext ||
		c.Lease != 30*time.Second || c.Hold != 10*time.Second || c.MaxCalls != 16 || len(c.Keys) != 1 ||
		c.EndpointTimeout != 30*time.Second || c.BudgetPeriod != "month" || c.Model.TokenBudget != 0 || c.Model.ConversationTokenBudget != 0 {
		t.Errorf("defaults = %+v", c)
	}

	m := base()
	m["OPENAI_BASE_URL"] = "http://ollama:11434/v1"
	m["OPENAI_API_KEY"] = "sk-default"
	m["HELPER_KEY"] = "sk-helper"
	m["AGENT_LEASE"] = "3s"
	m["AGENT_TOKEN_BUDGET"] = "100000"
	m["AGENT_CONVERSATION_TOKEN_BUDGET"] = "5000"
	m["AGENT_CONFIG"] = `{"helper": {"model": "llama3.2", "systemPrompt": "You are Helper.", "contextMessages": 5, "apiKeyEnv": "HELPER_KEY",
		"conversationTokenBudget": 700},
		"writer": {"model": "gpt-4o", "apiKeyEnv": "HELPER_KEY", "endpoints": [{"baseURL": "https://one/v1"},
			{"baseURL": "http://two/v1", "model": "qwen2.5", "apiKeyEnv": "TWO_KEY"}], "tokenBudget": 9}}`
	m["TWO_KEY"] = "sk-two"
	c, err = configFrom(m)
	if err != nil {
		t.Fatal(err)
	}
	h, w, other := c.modelFor("helper"), c.modelFor("writer"), c.modelFor("other")
	if h.Endpoints[0] != (endpoint{BaseURL: "http://ollama:11434/v1", APIKey: "sk-helper", Model: "llama3.2"}) || len(h.Endpoints) != 1 ||
		h.SystemPrompt != "You are Helper." || h.Context != 5 || h.TokenBudget != 100000 || h.ConversationTokenBudget != 700 {
		t.Errorf("helper = %+v", h)
	}
	if want := []endpoint{{BaseURL: "https://one/v1", APIKey: "sk-helper", Model: "gpt-4o"}, {BaseURL: "http://two/v1", APIKey: "sk-two", Model: "qwen2.5"}}; !slices.Equal(w.Endpoints, want) ||
		w.TokenBudget != 9 || w.ConversationTokenBudget != 5000 {
		t.Errorf("writer = %+v, want endpoints %+v", w, want)
	}
	if other.Endpoints[0] != (endpoint{BaseURL: "http://ollama:11434/v1", APIKey: "sk-default", Model: defaultModel}) || other.Context != defaultContext {
		t.Errorf("other = %+v", other)
	}
	if got := w.endpointFor("http://two/v1"); got.Model != "qwen2.5" {
		t.Errorf("endpointFor(two) = %+v", got)
	}
	if got := w.endpointFor("http://gone/v1"); got.BaseURL != "https://one/v1" {
		t.Errorf("endpointFor(an endpoint no longer listed) = %+v, want the first", got)
	}

	if c.Lease != 3*time.Second {
		t.Errorf("lease = %v", c.Lease)
	}

	// OPENAI_FALLBACK_BASE_URLS: more endpoints for every agent without its own, same key and model.
	m = base()
	m["OPENAI_BASE_URL"], m["OPENAI_FALLBACK_BASE_URLS"], m["OPENAI_API_KEY"] = "http://a/v1", " http://b/v1, http://c/v1 ", "sk"
	m["AGENT_CONFIG"] = `{"helper": {"model": "llama3.2"}}`
	if c, err = configFrom(m); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, e := range c.modelFor("helper").Endpoints {
		urls = append(urls, e.BaseURL+" "+e.Model+" "+e.APIKey)
	}
	if want := []string{"http://a/v1 llama3.2 sk", "http://b/v1 llama3.2 sk", "http://c/v1 llama3.2 sk"}; !slices.Equal(urls, want) {
		t.Errorf("endpoints = %q, want %q", urls, want)
	}

	for name, edit := range map[string]func(map[string]string){
		"no MONGODB_URI":   func(m map[string]string) { delete(m, "MONGODB_URI") },
		"no K_SINK":        func(m map[string]string) { delete(m, "K_SINK") },
		"bad AGENT_KEYS":   func(m map[string]string) { m["AGENT_KEYS"] = "x" },
		"bad AGENT_CONFIG": func(m map[string]string) { m["AGENT_CONFIG"] = "{" },
		"bad duration":     func(m map[string]string) { m["AGENT_HOLD"] = "soon" },
		"short lease":      func(m map[string]string) { m["AGENT_LEASE"] = "10ms" },
		"bad LOG_LEVEL":    func(m map[string]string) { m["LOG_LEVEL"] = "LOUD" },
		"bad period":       func(m map[string]string) { m["AGENT_BUDGET_PERIOD"] = "week" },
		"negative budget":  func(m map[string]string) { m["AGENT_TOKEN_BUDGET"] = "-1" },
		"negative agent budget": func(m map[string]string) {
			m["AGENT_CONFIG"] = `{"helper": {"conversationTokenBudget": -5}}`
		},
		"baseURL and endpoints": func(m map[string]string) {
			m["AGENT_CONFIG"] = `{"helper": {"baseURL": "http://a/v1", "endpoints": [{"baseURL": "http://b/v1"}]}}`
		},
	} {
		m := base()
		edit(m)
		if _, err := configFrom(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
