// Package function is agentchat's agent-invoke function: the runtime of
// the platform's built-in model agents. route sends it
// io.agentchat.agent.invoke for every stored message an agent member must
// answer (Triggers filter on the agentkind extension).
//
// For now it only validates the invoke and records that it arrived; opening
// the envelope with the agent's key, calling the model and streaming the
// reply come with the agents work. It is an instanced func
// (knative.dev/func-go/cloudevents): New, Start, Stop, Ready, Alive, Handle.
package function

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/kelseyhightower/envconfig"
)

// Config is agent-invoke's configuration, read once by Start from the
// environment (func-go's config map is that environment plus an unused
// ./cfg file).
type Config struct {
	LogLevel string `envconfig:"LOG_LEVEL"` // DEBUG, INFO, WARN, ERROR; "" is INFO
}

// Function is one agent-invoke instance.
type Function struct {
	mu  sync.Mutex // guards log
	log *slog.Logger
}

// New is called once by the func runtime.
func New() *Function {
	return &Function{log: newLogger(slog.LevelInfo)}
}

func newLogger(level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("function", "agent-invoke")
}

// Start reads the configuration.
func (f *Function) Start(_ context.Context, _ map[string]string) error {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return fmt.Errorf("agent-invoke: config: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(c.LogLevel, "INFO"))); err != nil {
		return fmt.Errorf("agent-invoke: config: LOG_LEVEL: %w", err)
	}
	f.mu.Lock()
	f.log = newLogger(level)
	f.mu.Unlock()
	return nil
}

// Stop has nothing to close yet.
func (f *Function) Stop(context.Context) error { return nil }

// Ready is always true: there is no backing service to wait for yet.
func (f *Function) Ready(context.Context) (bool, error) { return true, nil }

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

func (f *Function) logger() *slog.Logger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log
}
