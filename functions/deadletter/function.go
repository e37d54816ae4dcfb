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
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/kelseyhightower/envconfig"
)

// Config is the sink's configuration, read once by Start from the
// environment.
type Config struct {
	LogLevel string `envconfig:"LOG_LEVEL"` // DEBUG, INFO, WARN, ERROR; "" is INFO
}

// Key is what dead letters are counted by.
type Key struct {
	Type string // the event's type
	Dest string // knativeerrordest: the subscriber that failed
	Code string // knativeerrorcode: its last HTTP status ("" for network errors)
}

// Function is one dead-letter sink instance.
type Function struct {
	mu     sync.Mutex // guards the fields below
	log    *slog.Logger
	counts map[Key]int64
	total  int64
}

// New is called once by the func runtime.
func New() *Function {
	return &Function{log: newLogger(slog.LevelInfo), counts: map[Key]int64{}}
}

func newLogger(level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("function", "deadletter")
}

// Start reads the configuration.
func (f *Function) Start(_ context.Context, _ map[string]string) error {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return fmt.Errorf("deadletter: config: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(c.LogLevel, "INFO"))); err != nil {
		return fmt.Errorf("deadletter: config: LOG_LEVEL: %w", err)
	}
	f.mu.Lock()
	f.log = newLogger(level)
	f.mu.Unlock()
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
