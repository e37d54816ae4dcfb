// Package function is persist, the agentchat function that makes a sent
// message durable: it checks membership and the envelope's recipients,
// gives the message its conversation's next gapless seq, stores it, and
// replies io.agentchat.message.stored (or message.rejected). It also keeps
// each member's delivered/read cursor from receipts.
//
// It is an instanced func handler: func's runtime calls New, then Start
// with the configuration, and Handle for every event its Triggers deliver.
// Every handler is idempotent, because every broker delivers at least once.
package function

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// errNotStarted makes a Handle that races Start fail with 500, so the
// broker retries it once the function is ready.
var errNotStarted = errors.New("persist: not started")

// Function is one persist instance. Its dependencies arrive in Start,
// which func runs while the server already serves: Handle and Ready read
// them through an atomic pointer.
type Function struct {
	deps    atomic.Pointer[deps]
	log     *slog.Logger
	stats   stats
	hints   seqHints
	recent  recentKeys
	turns   *turns
	members *membersCache // receipts only; nil until Start
}

type deps struct {
	store store
}

// stats counts what an operator wants to see about seq contention.
type stats struct {
	stored    atomic.Int64 // messages newly stored
	resends   atomic.Int64 // sends answered with an already stored message
	conflicts atomic.Int64 // inserts refused because another instance took the seq
	probes    atomic.Int64 // lookups by _id to find the last seq
}

// New is called by func's runtime once per process.
func New() *Function {
	return &Function{log: newLogger(slog.LevelInfo), turns: newTurns()}
}

// Start connects to MongoDB and ensures persist's indexes.
func (f *Function) Start(ctx context.Context, cfg map[string]string) error {
	c, err := configFrom(cfg)
	if err != nil {
		return err
	}
	f.log = newLogger(c.LogLevel)
	f.members = newMembersCache(c.CacheTTL)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := openMongo(ctx, c.MongoURI, c.Database)
	if err != nil {
		return err
	}
	f.deps.Store(&deps{store: s})
	f.log.Info("persist: started", "database", c.Database)
	return nil
}

// Stop closes the MongoDB client.
func (f *Function) Stop(ctx context.Context) error {
	if d := f.deps.Swap(nil); d != nil {
		return d.store.Close(ctx)
	}
	return nil
}

// Ready is true once Start has finished and MongoDB answers a ping.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if err := d.store.Ping(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Alive is true while the process runs: a lost database makes persist
// unready, not dead, so it is not restarted for someone else's outage.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
