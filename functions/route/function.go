// Package function is route, the agentchat function that delivers: for
// each event its Triggers bring (a stored or rejected message, a receipt,
// typing, a sync or resume request, agent activity, media notices) it works out
// which devices the event is for, finds the connector that holds each
// online one in Redis, and publishes one delivery per connector on that
// connector's Redis channel (store/deliveries: a plain message carrying
// the event's data as it came). A stored message also becomes an
// io.agentchat.agent.invoke, posted to the broker, for every agent in the
// conversation.
//
// It is an instanced func handler (New, Start, Stop, Ready, Alive,
// Handle). It never replies through the broker. A stored message carries
// its audience (the member devices persist checked, the agent members):
// route reads nothing from MongoDB for it. Sync requests read membership
// and devices afresh; receipts, typing and agent activity are routed from
// memory kept current by accounts' change events (cache.go).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/deliveries"
	storedir "github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/partials"
	"github.com/agentchat/agentchat/store/seen"
)

// errNotStarted makes a Handle that races Start fail with 500, so the
// broker retries it once the function is ready.
var errNotStarted = errors.New("route: not started")

// Function is one route instance. Its dependencies arrive in Start, which
// func runs while the server already serves: Handle and Ready read them
// through an atomic pointer.
type Function struct {
	deps      atomic.Pointer[deps]
	level     slog.LevelVar // LOG_LEVEL, set by Start
	log       *slog.Logger
	handle    fn.Handler
	stats     stats
	noSinkLog sync.Once
}

type deps struct {
	dir       directory
	presence  presence
	publisher deliveries.Publisher
	invoker   invoker          // nil without K_SINK
	audiences *storedir.Cached // receipts, typing, agent activity
	partials  partials.Store   // answers in progress (answers.go)
	watch     watchDirectory   // presence: who watches whom, their settings (watch.go)
	seen      seen.Store       // presence: users' states (store/seen)
	closeFn   func(context.Context) error
}

// stats counts what tests and operators want to see.
type stats struct {
	deliveries atomic.Int64 // deliveries published (one per connector)
	invokes    atomic.Int64 // agent invokes posted
}

// New is called by func's runtime once per process.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("route", &f.level)
	f.handle = fn.Logged(f.log, f.dispatch)
	return f
}

// Start connects to MongoDB and Redis and prepares the broker client.
func (f *Function) Start(ctx context.Context, cfg map[string]string) error {
	c, err := configFrom(cfg)
	if err != nil {
		return err
	}
	f.level.Set(c.LogLevel)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dir, err := openMongo(ctx, c.MongoURI, c.Database)
	if err != nil {
		return err
	}
	hub, err := openRedis(ctx, c.RedisURL, c.RedisPrefix)
	if err != nil {
		_ = dir.Close(ctx)
		return err
	}
	audiences := storedir.NewCached(dir.people, c.CacheTTL)
	// A Trigger brings each change event to one replica: the replicas
	// share what they apply on Redis, so that none routes to a removed
	// member until its TTL ends.
	unshare, err := audiences.Share(ctx, storedir.NewRedisBroadcast(hub.client, c.RedisPrefix))
	if err != nil {
		_ = dir.Close(ctx)
		_ = hub.Close()
		return fmt.Errorf("route: %w", err)
	}
	d := &deps{dir: dir, presence: hub, publisher: hub.publisher, audiences: audiences, closeFn: func(ctx context.Context) error {
		unshare()
		return errors.Join(dir.Close(ctx), hub.Close())
	}}
	d.partials = partials.NewRedis(hub.client, c.RedisPrefix, partials.Limits{})
	d.watch, d.seen = dir.people, seen.NewRedis(hub.client, c.RedisPrefix, 0)
	if c.Sink != "" {
		inv, err := newSinkInvoker(c.Sink)
		if err != nil {
			_ = d.closeFn(ctx)
			return err
		}
		d.invoker = inv
	}
	f.deps.Store(d)
	f.log.Info("route: started", "database", c.Database, "prefix", c.RedisPrefix,
		"agentInvokes", c.Sink != "", "ferretdb", dir.ferret, "membershipCacheTTL", c.CacheTTL.String())
	return nil
}

// Stop closes the clients.
func (f *Function) Stop(ctx context.Context) error {
	if d := f.deps.Swap(nil); d != nil {
		return d.closeFn(ctx)
	}
	return nil
}

// Ready is true once Start has finished and MongoDB and Redis answer.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if err := d.dir.Ping(ctx); err != nil {
		return false, err
	}
	if p, ok := d.presence.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Alive is true while the process runs: a lost backend makes route
// unready, not dead.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
