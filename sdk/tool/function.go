package tool

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/fn"
)

// Function is a tool as a func-go instanced function (func.yaml invoke:
// http): the lifecycle every tool has, so that a tool's package holds only
// its own logic. Its package-level New returns one:
//
//	func New() *tool.Function { return tool.New("weather", open) }
//
// Start reads LOG_LEVEL and calls open with the configuration; until open
// has returned, Ready is false and every call is answered 503 (the broker
// retries it). Stop closes what open opened.
type Function struct {
	name   string
	level  slog.LevelVar
	log    *slog.Logger
	open   Open
	live   atomic.Pointer[Parts]
	handle fn.Handler
}

// Open reads the tool's own configuration from cfg (func's config map: use
// fn.Load) and opens what it needs. log is the function's logger.
type Open func(ctx context.Context, cfg map[string]string, log *slog.Logger) (Parts, error)

// Parts are what a started tool runs with.
type Parts struct {
	Run  Func // the tool itself
	Runs Runs // its claims, e.g. store/toolruns on MongoDB
	// Ping, if set, tells Ready whether what Run needs answers.
	Ping func(context.Context) error
	// Close, if set, releases what Open opened (Stop calls it).
	Close func(context.Context) error
}

// New is the function of the tool name: its Trigger filters
// toolname: name, and its logs and errors say "<name>-tool".
func New(name string, open Open) *Function {
	f := &Function{name: name, open: open}
	f.log = fn.NewLogger(f.component(), &f.level)
	f.handle = fn.Logged(f.log, func(ctx context.Context, e event.Event) (*event.Event, error) {
		p := f.live.Load()
		if p == nil {
			return nil, fn.Unavailable("%s: not started", f.component())
		}
		return Handler(f.name, p.Runs, f.log, p.Run)(ctx, e)
	})
	return f
}

func (f *Function) component() string { return f.name + "-tool" }

// Use makes the tool run with p, as if Start had opened it: for tests,
// which give a tool in-memory stores.
func (f *Function) Use(p Parts) { f.live.Store(&p) }

// Start reads LOG_LEVEL and opens the tool (Open).
func (f *Function) Start(ctx context.Context, cfg map[string]string) error {
	var c struct {
		LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
	}
	if err := fn.Load(cfg, &c); err != nil {
		return fmt.Errorf("%s: %w", f.component(), err)
	}
	f.level.Set(c.LogLevel)
	p, err := f.open(ctx, cfg, f.log)
	if err != nil {
		return fmt.Errorf("%s: %w", f.component(), err)
	}
	if p.Run == nil || p.Runs == nil {
		return fmt.Errorf("%s: open gave no Run or no Runs", f.component())
	}
	if old := f.live.Swap(&p); old != nil && old.Close != nil {
		_ = old.Close(ctx) // started again: what the last Start opened goes
	}
	f.log.Info(f.component() + ": started")
	return nil
}

// Handle serves one event delivered over HTTP by the tool's Trigger
// (fn.Serve says why not through func-go's cloudevents runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	fn.Serve(w, r, f.HandleEvent)
}

// HandleEvent answers one io.agentchat.tool.called for the tool (Handler).
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

// Stop closes what Start opened.
func (f *Function) Stop(ctx context.Context) error {
	p := f.live.Swap(nil)
	if p == nil || p.Close == nil {
		return nil
	}
	return p.Close(ctx)
}

// Ready is true once Start has finished and Ping answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	p := f.live.Load()
	if p == nil {
		return false, nil
	}
	if p.Ping != nil {
		if err := p.Ping(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
