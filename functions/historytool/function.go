// Package function is history-tool, the example tool "history" of the
// model agents, written as its own trigger-bound function
// (triggers/history-tool.yaml): for a tool call of an agent in a
// conversation, it reads the conversation's messages before the one the
// agent answers — persist's log, read only — opens those sealed for the
// agent's device with the agent's private key (AGENT_KEYS: the same
// Secret as agent-invoke's, from a Secret, never a database), and answers
// them as text for the model. A message the agent cannot open (sent
// before it joined) is skipped: the tool sees what the agent's device
// sees, nothing more.
//
// sdk/tool does the rest: the function's lifecycle (tool.Function),
// decoding the call, running it once per call id (store/toolruns),
// replying io.agentchat.tool.result.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/tool"
	"github.com/agentchat/agentchat/store/messages"
	"github.com/agentchat/agentchat/store/toolruns"
)

// toolName is the tool this function is (its Trigger filters toolname).
const toolName = "history"

type config struct {
	// Keys are the agents whose history it may read ("agentId:base64key",
	// comma-separated): the model agents' keys. Empty: it serves no agent
	// (each call gets an error result), as agent-invoke answers for none —
	// the dev runner starts every function, keys or not.
	Keys string `env:"AGENT_KEYS"`
}

// deps is what the tool reads with; a test builds one around in-memory
// stores.
type deps struct {
	keys map[string]agent.Key
	msgs messages.Store
}

// New is called once by the func runtime.
func New() *tool.Function { return tool.New(toolName, open) }

// open reads AGENT_KEYS and opens persist's messages on MongoDB.
func open(ctx context.Context, m map[string]string, log *slog.Logger) (tool.Parts, error) {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return tool.Parts{}, err
	}
	keys, err := agent.ParseKeys(c.Keys)
	if err != nil {
		return tool.Parts{}, fmt.Errorf("config: AGENT_KEYS: %w", err)
	}
	db, runs, err := toolruns.Open(ctx, m, "agentchat-history-tool")
	if err != nil {
		return tool.Parts{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msgs, err := messages.NewMongoDB(ctx, db.DB)
	if err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return tool.Parts{}, err
	}
	log.Info("history-tool: agents served", "agents", len(keys))
	d := &deps{keys: keys, msgs: msgs}
	return tool.Parts{Run: d.history, Runs: runs, Ping: db.Ping, Close: db.Close}, nil
}
