// Package function is agentchat's dead-letter sink: Brokers and Triggers
// name it as delivery.deadLetterSink, so every event that exhausted its
// retries (or was refused with a non-retryable status) ends here.
//
// It stores each event whole in MongoDB (store/deadletters: keyed by
// source and id, so a redelivery is the same letter; bounded by
// DEADLETTER_MAX_EVENT_BYTES, over which only the metadata is kept), with
// the knativeerrordest / knativeerrorcode / knativeerrordata the broker
// added, so that an admin can list, inspect and replay it (accounts'
// admin API). It logs what an operator needs to find the cause — the
// event's type, id, source and conversation, the destination and code —
// and counts them per (type, destination, code). It never logs data or
// knativeerrordata: data is end-to-end encrypted content or metadata about
// it, and the error data is a subscriber's response body.
//
// It answers 200 with no reply once the letter is stored, so nothing
// loops back into the broker, and 500 if it could not store it (the
// broker retries the sink as it retries any subscriber).
//
// It is an instanced func (knative.dev/func-go/cloudevents) with no
// Trigger of its own.
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/deadletters"
)

// Config is the sink's configuration, read once by Start from func's
// config map (the environment).
type Config struct {
	// MongoURI is where letters are stored; empty: they are only logged
	// and counted (warned at start: nothing can be replayed).
	MongoURI      string `env:"MONGODB_URI"`
	MongoDatabase string `env:"MONGODB_DATABASE" default:"agentchat"`
	// MaxEventBytes bounds the event kept for a replay (its JSON); a
	// larger one keeps its metadata only. The biggest catalog event, a
	// message to 1,024 devices, is about 200 KB.
	MaxEventBytes int `env:"DEADLETTER_MAX_EVENT_BYTES" default:"1048576" min:"1024" max:"8388608"`
	// Retention is how long a letter is kept after its latest death
	// (store/deadletters: a TTL index, or a sweep where there is none).
	Retention time.Duration `env:"DEADLETTER_RETENTION" default:"720h" min:"1h"`
	LogLevel  slog.Level    `env:"LOG_LEVEL" default:"INFO"` // DEBUG, INFO, WARN, ERROR
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
	now   func() time.Time

	cfg     Config
	mongo   *store.Mongo      // nil until Start
	letters deadletters.Store // set by Start (a test may set a twin)

	mu     sync.Mutex // guards the fields below
	counts map[Key]int64
	total  int64
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{counts: map[Key]int64{}, now: time.Now}
	f.log = fn.NewLogger("deadletter", &f.level)
	return f
}

// Start reads the configuration, connects to MongoDB and ensures the
// letters' indexes (retrying while MongoDB comes up, until ctx ends).
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	var c Config
	if err := fn.Load(m, &c); err != nil {
		return fmt.Errorf("deadletter: %w", err)
	}
	f.level.Set(c.LogLevel)
	f.cfg = c
	if c.MongoURI == "" {
		f.log.Warn("deadletter: MONGODB_URI not set: dead letters are logged only, not stored (nothing can be replayed)")
		return nil
	}
	db, err := store.OpenMongo(c.MongoURI, c.MongoDatabase, "deadletter")
	if err != nil {
		return fmt.Errorf("deadletter: %w", err)
	}
	s := deadletters.NewMongo(db).WithRetention(c.Retention)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		if err = s.EnsureIndexes(ctx); err == nil {
			break
		}
		f.log.Warn("deadletter: mongo not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			db.Close(context.Background())
			return fmt.Errorf("deadletter: %w", errors.Join(err, ctx.Err()))
		case <-time.After(delay):
		}
	}
	f.mongo, f.letters = db, s
	return nil
}

// Stop logs the totals and disconnects.
func (f *Function) Stop(ctx context.Context) error {
	f.mu.Lock()
	if f.total > 0 {
		f.log.Info("deadletter: stopping", "total", f.total, "kinds", len(f.counts))
	}
	f.mu.Unlock()
	if f.mongo != nil {
		return f.mongo.Close(ctx)
	}
	return nil
}

// Ready reports whether MongoDB answers (when configured): a sink that
// cannot store must not take letters.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.mongo == nil {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := f.mongo.Ping(ctx); err != nil {
		f.log.Warn("deadletter: not ready", "err", err)
		return false, nil
	}
	return true, nil
}

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
