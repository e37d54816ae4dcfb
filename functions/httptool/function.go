// Package function is http-tool, the example tool "http" of the model
// agents, written as its own trigger-bound function
// (triggers/http-tool.yaml): it calls an HTTP API the platform team
// allowed (HTTP_TOOL_ALLOW: URL prefixes) and answers with the status and
// the start of the body, as text for the model. Every request carries
// the call id (X-Agentchat-Tool-Call), so the API can dedupe too.
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

	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/tool"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/toolruns"
)

// toolName is the tool this function is (its Trigger filters toolname).
const toolName = "http"

// Function is one http-tool instance.
type Function struct {
	level  slog.LevelVar
	log    *slog.Logger
	deps   atomic.Pointer[deps]
	handle fn.Handler
}

type config struct {
	MongoURI string `env:"MONGODB_URI" required:"true"`
	Database string `env:"MONGODB_DATABASE" default:"agentchat"`
	// Allow lists the URL prefixes the tool may call, comma-separated
	// (e.g. https://api.example.com/v1/): scheme and host must be equal,
	// the path must start with the prefix's. Empty: it calls nothing.
	Allow    string        `env:"HTTP_TOOL_ALLOW"`
	Timeout  time.Duration `env:"HTTP_TOOL_TIMEOUT" default:"10s" min:"1ms"`
	MaxBytes int           `env:"HTTP_TOOL_MAX_BYTES" default:"16384" min:"1"`
	LogLevel slog.Level    `env:"LOG_LEVEL" default:"INFO"`
}

// deps is what Start opens; a test builds one around an in-memory Runs.
type deps struct {
	caller *caller
	runs   tool.Runs
	ping   func(context.Context) error
	close  func(context.Context) error
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("http-tool", &f.level)
	f.handle = fn.Logged(f.log, func(ctx context.Context, e event.Event) (*event.Event, error) {
		d := f.deps.Load()
		if d == nil {
			return nil, fn.Unavailable("http-tool: not started")
		}
		return tool.Handler(toolName, d.runs, f.log, d.caller.call)(ctx, e)
	})
	return f
}

// Start reads the configuration and connects to MongoDB.
func (f *Function) Start(_ context.Context, m map[string]string) error {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return fmt.Errorf("http-tool: %w", err)
	}
	f.level.Set(c.LogLevel)
	cl, err := newCaller(c.Allow, c.Timeout, c.MaxBytes)
	if err != nil {
		return fmt.Errorf("http-tool: config: HTTP_TOOL_ALLOW: %w", err)
	}
	db, err := store.OpenMongo(c.MongoURI, c.Database, "agentchat-http-tool")
	if err != nil {
		return fmt.Errorf("http-tool: %w", err)
	}
	f.deps.Store(&deps{caller: cl, runs: toolruns.NewMongo(db.DB), ping: db.Ping, close: db.Close})
	f.log.Info("http-tool: started", "allow", len(cl.allow))
	return nil
}

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent answers one io.agentchat.tool.called for "http".
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
