// Package function is persist, the agentchat function that makes a sent
// message durable: it checks membership and the envelope's recipients,
// gives the message its conversation's next gapless seq, stores it, and
// replies io.agentchat.message.stored — carrying the audience it checked
// (member devices, agent members), which route fans out from — or
// message.rejected. It also keeps each member's delivered/read cursor from
// receipts.
//
// It is an instanced func handler: func's runtime calls New, then Start
// with the configuration, and Handle for every event its Triggers deliver.
// Every handler is idempotent, because every broker delivers at least once.
//
// Storage per stored message, in the common case: one insert, or less —
// the messages of a conversation that queue while its insert is under
// way share the next one (batches). The
// directory (members, devices, agents) is read through store/directory's
// Cached, kept current by accounts' change events; the seq comes from this
// instance's hint of the conversation's last seq; receipts' cursor writes
// are coalesced per member (store/messages.GroupCommit).
package function

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/messages"
)

// errNotStarted makes a Handle that races Start fail with 500, so the
// broker retries it once the function is ready.
var errNotStarted = errors.New("persist: not started")

// Function is one persist instance. Its dependencies arrive in Start,
// which func runs while the server already serves: Handle and Ready read
// them through an atomic pointer.
type Function struct {
	deps   atomic.Pointer[deps]
	level  slog.LevelVar // LOG_LEVEL, set by Start
	log    *slog.Logger
	handle fn.Handler
	stats  stats
	hints  seqHints
	recent recentKeys
	queue  *batches
}

// deps is what persist reads and writes.
type deps struct {
	dir     dirReader
	msgs    messages.Store
	cursors messages.Cursors
	db      *store.Mongo // nil for in-memory twins
	group   *messages.GroupCommit
	// unshare ends the directory's cross-replica sharing and closes its
	// Redis client; nil without REDIS_URL.
	unshare func()
}

// dirReader is what persist reads of the directory: store/directory's
// Cached, whose answers may be as old as its TTL when a change event was
// lost. Forget makes the next read of a conversation and of users'
// devices fresh: persist refuses a message or a receipt only on a fresh
// read.
type dirReader interface {
	directory.Reader
	Forget(conversation string, users ...string)
	// Apply takes one of accounts' change events (conversation.changed,
	// device.changed), which keep the cache current, and shares it with
	// the other replicas (REDIS_URL).
	Apply(ctx context.Context, e event.Event) error
	// Share makes the cache one replica among those of a Broadcast.
	Share(ctx context.Context, b directory.Broadcast) (stop func(), err error)
}

// stats counts what an operator wants to see about seq contention.
type stats struct {
	stored    atomic.Int64 // messages newly stored
	resends   atomic.Int64 // sends answered with an already stored message
	conflicts atomic.Int64 // inserts refused because another instance took the seq
	probes    atomic.Int64 // lookups to find the last seq
	batches   atomic.Int64 // insert commands of queued messages (stored/batches: messages per insert)
}

// New is called by func's runtime once per process.
func New() *Function {
	f := &Function{queue: newBatches()}
	f.log = fn.NewLogger("persist", &f.level)
	f.handle = fn.Logged(f.log, f.dispatch)
	return f
}

// Start connects to MongoDB and ensures persist's indexes.
func (f *Function) Start(ctx context.Context, cfg map[string]string) error {
	var c config
	if err := fn.Load(cfg, &c); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	f.level.Set(c.LogLevel)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := store.OpenMongo(c.MongoURI, c.Database, "persist")
	if err != nil {
		return err
	}
	d, err := newMongoDeps(ctx, db, c)
	if err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return err
	}
	if c.RedisURL == "" {
		f.log.Warn("persist: REDIS_URL unset: cross-replica directory invalidation is off; " +
			"with several replicas, a change event reaches one and the others follow within MEMBERSHIP_CACHE_TTL")
	} else if d.unshare, err = share(ctx, d.dir, c); err != nil {
		d.group.Close()
		_ = db.Close(context.WithoutCancel(ctx))
		return err
	}
	f.deps.Store(d)
	f.log.Info("persist: started", "database", c.Database, "directoryCacheTTL", c.CacheTTL.String(),
		"cursorLinger", c.CursorLinger.String(), "sharedDirectory", c.RedisURL != "")
	return nil
}

// share subscribes the directory cache to the changes the other replicas
// apply, on Redis (store/directory.RedisBroadcast), and has it publish
// its own.
func share(ctx context.Context, dir dirReader, c config) (func(), error) {
	opts, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("persist: redis url: %w", err)
	}
	client := redis.NewClient(opts)
	stop, err := dir.Share(ctx, directory.NewRedisBroadcast(client, cmp.Or(c.RedisPrefix, events.DefaultRedisPrefix)))
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("persist: %w", err)
	}
	return func() { stop(); _ = client.Close() }, nil
}

// newMongoDeps is persist's storage on db: the message log (with its
// indexes ensured), cursors written through a group commit, and the
// directory through a cache.
func newMongoDeps(ctx context.Context, db *store.Mongo, c config) (*deps, error) {
	msgs, err := messages.NewMongo(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := msgs.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	group := messages.NewGroupCommit(msgs, c.CursorLinger)
	return &deps{
		dir:     directory.NewCached(directory.NewMongo(db), c.CacheTTL),
		msgs:    msgs,
		cursors: group,
		db:      db,
		group:   group,
	}, nil
}

// Stop waits for the cursor writes in flight and closes the MongoDB client.
func (f *Function) Stop(ctx context.Context) error {
	d := f.deps.Swap(nil)
	if d == nil {
		return nil
	}
	if d.group != nil {
		d.group.Close()
	}
	if d.unshare != nil {
		d.unshare()
	}
	if d.db != nil {
		return d.db.Close(ctx)
	}
	return nil
}

// Ready is true once Start has finished and MongoDB answers a ping.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if d.db != nil {
		if err := d.db.Ping(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Alive is true while the process runs: a lost database makes persist
// unready, not dead, so it is not restarted for someone else's outage.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
