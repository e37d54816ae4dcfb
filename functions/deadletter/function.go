// Package function is agentchat's dead-letter sink: Brokers and Triggers
// name it as delivery.deadLetterSink, so every event that exhausted its
// retries (or was refused with a non-retryable status) ends here.
//
// It logs what an operator needs to find the cause — the event's type, id,
// source and conversation, and the knativeerrordest / knativeerrorcode the
// broker added — and counts them per (type, destination, code). It never
// logs data or knativeerrordata: data is end-to-end encrypted content or
// metadata about it, and the error data is a subscriber's response body.
// It always answers 200 with no reply, so nothing loops back into the broker.
//
// It is an instanced func (knative.dev/func-go/cloudevents) with no
// Trigger of its own.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/agentchat/agentchat/sdk/fn"
)

// Config is the sink's configuration, read once by Start from func's
// config map (the environment).
type Config struct {
	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"` // DEBUG, INFO, WARN, ERROR
}

// Key is what dead letters are counted by.
type Key struct {
	Type string // the event's type
	Dest string // knativeerrordest: the subscriber that failed
	Code string // knativeerrorcode: its last HTTP status ("" for network errors)
}

// Function is one dead-letter sink instance.
type Function struct {
	level slog.LevelVar
	log   *slog.Logger // set by New; a test may replace it before use

	mu     sync.Mutex // guards the fields below
	counts map[Key]int64
	total  int64
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{counts: map[Key]int64{}}
	f.log = fn.NewLogger("deadletter", &f.level)
	return f
}

// Start reads the configuration.
func (f *Function) Start(_ context.Context, m map[string]string) error {
	var c Config
	if err := fn.Load(m, &c); err != nil {
		return fmt.Errorf("deadletter: %w", err)
	}
	f.level.Set(c.LogLevel)
	return nil
}

// Stop logs the totals, the only summary an operator gets from a sink
// that scales to zero.
func (f *Function) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.total > 0 {
		f.log.Info("deadletter: stopping", "total", f.total, "kinds", len(f.counts))
	}
	return nil
}

// Ready is always true: the sink needs nothing to accept events.
func (f *Function) Ready(context.Context) (bool, error) { return true, nil }

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Counts returns a copy of the dead letters seen so far, and their total.
func (f *Function) Counts() (map[Key]int64, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[Key]int64, len(f.counts))
	for k, v := range f.counts {
		c[k] = v
	}
	return c, f.total
}
