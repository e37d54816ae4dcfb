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
// sdk/tool does the rest: decode the call, run it once per call id
// (store/toolruns), reply io.agentchat.tool.result.
//
// It is an instanced func (knative.dev/func-go): New, Start, Stop, Ready,
// Alive, Handle.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/tool"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
	"github.com/agentchat/agentchat/store/toolruns"
)

// toolName is the tool this function is (its Trigger filters toolname).
const toolName = "history"

// Function is one history-tool instance.
type Function struct {
	level  slog.LevelVar
	log    *slog.Logger
	deps   atomic.Pointer[deps]
	handle fn.Handler
}

type config struct {
	MongoURI string `env:"MONGODB_URI" required:"true"`
	Database string `env:"MONGODB_DATABASE" default:"agentchat"`
	// Keys are the agents whose history it may read ("agentId:base64key",
	// comma-separated): the model agents' keys. Empty: it serves no agent
	// (each call gets an error result), as agent-invoke answers for none —
	// the dev runner starts every function, keys or not.
	Keys     string     `env:"AGENT_KEYS"`
	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
}

// deps is what Start opens; a test builds one around in-memory stores.
type deps struct {
	keys  map[string]agent.Key
	msgs  messages.Store
	runs  tool.Runs
	ping  func(context.Context) error
	close func(context.Context) error
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("history-tool", &f.level)
	f.handle = fn.Logged(f.log, func(ctx context.Context, e event.Event) (*event.Event, error) {
		d := f.deps.Load()
		if d == nil {
			return nil, fn.Unavailable("history-tool: not started")
		}
		return tool.Handler(toolName, d.runs, f.log, d.history)(ctx, e)
	})
	return f
}

// Start reads the configuration and connects to MongoDB.
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return fmt.Errorf("history-tool: %w", err)
	}
	f.level.Set(c.LogLevel)
	keys, err := agent.ParseKeys(c.Keys)
	if err != nil {
		return fmt.Errorf("history-tool: config: AGENT_KEYS: %w", err)
	}
	db, err := store.OpenMongo(c.MongoURI, c.Database, "agentchat-history-tool")
	if err != nil {
		return fmt.Errorf("history-tool: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msgs, err := messages.NewMongoDB(ctx, db.DB)
	if err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("history-tool: %w", err)
	}
	f.deps.Store(&deps{keys: keys, msgs: msgs, runs: toolruns.NewMongo(db.DB), ping: db.Ping, close: db.Close})
	f.log.Info("history-tool: started", "agents", len(keys))
	return nil
}

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent answers one io.agentchat.tool.called for "history".
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

// Stop disconnects from MongoDB.
func (f *Function) Stop(ctx context.Context) error {
	d := f.deps.Swap(nil)
	if d == nil || d.close == nil {
		return nil
	}
	return d.close(ctx)
}

// Ready is true once Start has finished and MongoDB answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if d.ping != nil {
		if err := d.ping(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
