package function

import (
	"encoding/base64"
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
	if c.Database != "agentchat" || c.Model.Model != defaultModel || c.Model.Context != defaultContext ||
		c.Lease != 30*time.Second || c.Hold != 10*time.Second || c.MaxCalls != 16 || len(c.Keys) != 1 {
		t.Errorf("defaults = %+v", c)
	}

	m := base()
	m["OPENAI_BASE_URL"] = "http://ollama:11434/v1"
	m["OPENAI_API_KEY"] = "sk-default"
	m["HELPER_KEY"] = "sk-helper"
	m["AGENT_LEASE"] = "3s"
	m["AGENT_CONFIG"] = `{"helper": {"model": "llama3.2", "systemPrompt": "You are Helper.", "contextMessages": 5, "apiKeyEnv": "HELPER_KEY"}}`
	c, err = configFrom(m)
	if err != nil {
		t.Fatal(err)
	}
	h, other := c.modelFor("helper"), c.modelFor("other")
	if h.Model != "llama3.2" || h.SystemPrompt != "You are Helper." || h.Context != 5 || h.APIKey != "sk-helper" ||
		h.BaseURL != "http://ollama:11434/v1" {
		t.Errorf("helper = %+v", h)
	}
	if other.Model != defaultModel || other.APIKey != "sk-default" || other.Context != defaultContext {
		t.Errorf("other = %+v", other)
	}
	if c.Lease != 3*time.Second {
		t.Errorf("lease = %v", c.Lease)
	}

	for name, edit := range map[string]func(map[string]string){
		"no MONGODB_URI":   func(m map[string]string) { delete(m, "MONGODB_URI") },
		"no K_SINK":        func(m map[string]string) { delete(m, "K_SINK") },
		"bad AGENT_KEYS":   func(m map[string]string) { m["AGENT_KEYS"] = "x" },
		"bad AGENT_CONFIG": func(m map[string]string) { m["AGENT_CONFIG"] = "{" },
		"bad duration":     func(m map[string]string) { m["AGENT_HOLD"] = "soon" },
		"short lease":      func(m map[string]string) { m["AGENT_LEASE"] = "10ms" },
		"bad LOG_LEVEL":    func(m map[string]string) { m["LOG_LEVEL"] = "LOUD" },
	} {
		m := base()
		edit(m)
		if _, err := configFrom(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
