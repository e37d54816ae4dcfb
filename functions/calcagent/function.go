// Package function is calc-agent, agentchat's example of an agent written
// as its own trigger-bound function: a calculator that needs no model. Its
// Triggers bring it two things (triggers/calc-agent.yaml,
// triggers/calc-agent-outcome.yaml):
//
//   - io.agentchat.agent.invoke for its agent id: a stored message to
//     answer, with its audience (every member device and its public key).
//     It opens the message with the agent's private key, answers
//     (arithmetic, or how many messages / who is here), seals the answer
//     for exactly that audience and posts it to the broker as an ordinary
//     io.agentchat.message.sent — persist stores it, route delivers it.
//   - persist's answer to that reply (message.stored or message.rejected,
//     senderid = the agent): it then posts io.agentchat.agent.done, or
//     agent.error when the reply was not stored.
//
// It imports only the SDK (events, e2ee, agent, fn) and cloudevents, and
// reads no database. Its reply's client message id is "r-<seq>", so a
// redelivered invoke sends the same message again and persist stores it
// once: no ledger is needed when answering costs nothing (agent-invoke
// has one because a model call does). docs/agents.md walks through it.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Function is one calc-agent instance.
type Function struct {
	level  slog.LevelVar
	log    *slog.Logger
	deps   atomic.Pointer[deps]
	handle fn.Handler
}

// config is what Start reads from func's config map (the environment).
type config struct {
	// Sink is the broker, where replies go.
	Sink string `env:"K_SINK" required:"true"`
	// Keys are "agentId:base64key" entries (comma-separated): the agent's
	// X25519 private key (32 bytes, standard base64), from a Secret on a
	// cluster — never from a database.
	Keys     string     `env:"AGENT_KEYS" required:"true"`
	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
}

type deps struct {
	keys map[string]agent.Key // agent id → its key (AGENT_KEYS)
	sink fn.Sink
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("calc-agent", &f.level)
	f.handle = fn.Logged(f.log, fn.Mux{
		events.TypeAgentInvoke:     f.answer,
		events.TypeMessageStored:   f.heard,
		events.TypeMessageRejected: f.heard,
	}.Handle)
	return f
}

// Start reads the configuration and prepares the broker sink.
func (f *Function) Start(_ context.Context, m map[string]string) error {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return fmt.Errorf("calc-agent: %w", err)
	}
	f.level.Set(c.LogLevel)
	keys, err := agent.ParseKeys(c.Keys)
	if err != nil {
		return fmt.Errorf("calc-agent: config: AGENT_KEYS: %w", err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("calc-agent: config: AGENT_KEYS holds no key: the agent cannot read or answer anything")
	}
	sink, err := fn.NewSink("calc-agent", c.Sink)
	if err != nil {
		return err
	}
	f.deps.Store(&deps{keys: keys, sink: sink})
	agents := make([]string, 0, len(keys))
	for id := range keys {
		agents = append(agents, id)
	}
	f.log.Info("calc-agent: started", "agents", agents)
	return nil
}

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent answers an invoke, or persist's answer to a reply; any other
// type is refused (400).
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

// Stop forgets the keys.
func (f *Function) Stop(context.Context) error {
	f.deps.Store(nil)
	return nil
}

// Ready is true once Start has finished: calc-agent needs nothing else.
func (f *Function) Ready(context.Context) (bool, error) { return f.deps.Load() != nil, nil }

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
