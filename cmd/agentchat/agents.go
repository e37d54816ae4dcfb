package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// demoAgent is an agent the dev runner registers for the demo user: calc
// (calc-agent, always) and assistant (agent-invoke, when OPENAI_BASE_URL
// is set). Each agent's private key goes only to its own runtime.
type demoAgent struct {
	ID, Name, Kind string
	Function       string // the func name of its runtime
	Key            *e2ee.PrivateKey
}

// demoAgents loads the demo agents' keys from dir (creating them the first
// time): an agent registered in a database that outlives this run must
// keep its key, or accounts refuses the registration (409) and its
// runtime could not read what it is sent.
func demoAgents(dir string, withModel bool) ([]demoAgent, error) {
	agents := []demoAgent{{ID: "calc", Name: "Calc", Kind: "calc", Function: "calc-agent"}}
	if withModel {
		agents = append(agents, demoAgent{ID: "assistant", Name: "Assistant", Kind: "model", Function: "agent-invoke"})
	}
	path := filepath.Join(dir, "demo-agent-keys.json")
	saved := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &saved); err != nil {
			return nil, fmt.Errorf("agentchat: %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	changed := false
	for i := range agents {
		a := &agents[i]
		if raw, err := base64.StdEncoding.DecodeString(saved[a.ID]); err == nil && len(raw) == e2ee.KeySize {
			if a.Key, err = e2ee.ParsePrivateKey(raw); err == nil {
				continue
			}
		}
		k, err := e2ee.GenerateKey()
		if err != nil {
			return nil, err
		}
		a.Key, saved[a.ID], changed = k, base64.StdEncoding.EncodeToString(k.Bytes()), true
	}
	if changed {
		b, _ := json.MarshalIndent(saved, "", "  ")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return agents, nil
}

// agentEnv is each runtime's AGENT_KEYS (and agent-invoke's model
// endpoint, from this process's environment).
func agentEnv(agents []demoAgent) map[string]map[string]string {
	env := map[string]map[string]string{}
	for _, a := range agents {
		if env[a.Function] == nil {
			env[a.Function] = map[string]string{}
		}
		env[a.Function]["AGENT_KEYS"] = a.ID + ":" + base64.StdEncoding.EncodeToString(a.Key.Bytes())
	}
	if env["agent-invoke"] != nil {
		// The history tool reads what the model agents can read: their keys.
		env["history-tool"] = map[string]string{"AGENT_KEYS": env["agent-invoke"]["AGENT_KEYS"]}
		for _, name := range []string{"OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL", "AGENT_SYSTEM_PROMPT"} {
			if v := os.Getenv(name); v != "" {
				env["agent-invoke"][name] = v
			}
		}
	}
	return env
}

// registerDemoAgents registers the agents as the demo user's and opens a
// direct conversation between the demo user and each. It logs in with a
// throwaway device and revokes it at the end, so that the demo user's
// messages are not sealed for a key nobody holds.
func registerDemoAgents(ctx context.Context, accountsURL string, agents []demoAgent) error {
	key, err := e2ee.GenerateKey()
	if err != nil {
		return err
	}
	sess, err := client.NewAccounts(accountsURL, nil).Login(ctx, client.LoginRequest{Username: "demo", Password: demoPassword,
		PublicKey: key.PublicKey(), DeviceName: "dev runner (setup)"})
	if err != nil {
		return fmt.Errorf("log in as demo: %w", err)
	}
	defer sess.RevokeDevice(context.WithoutCancel(ctx), sess.DeviceID())
	for _, a := range agents {
		ag, err := sess.RegisterAgent(ctx, a.Name, a.Kind, a.Key.PublicKey(), a.ID)
		if err != nil {
			return fmt.Errorf("register agent %s (a database from another run with other keys? delete it, or the agent): %w", a.ID, err)
		}
		// The runtime signs with the key derived from the one AGENT_KEYS
		// holds; publishing it makes the agent's replies verify.
		if err := sess.SetSigningKey(ctx, ag.DeviceID, a.ID, a.Key.PublicKeyBytes(), e2ee.DeriveSigningKey(a.Key)); err != nil {
			return fmt.Errorf("register agent %s's signing key: %w", a.ID, err)
		}
		if _, err := sess.CreateConversation(ctx, client.KindDirect, []string{a.ID}, ""); err != nil {
			return fmt.Errorf("conversation with %s: %w", a.ID, err)
		}
	}
	return nil
}
