// Package toolruns records the tool calls a tool function has started, so
// that it runs each call id at most once however often the broker
// delivers the call (sdk/tool.Runs). A claim is one insert under a unique
// _id — the design that holds on FerretDB, which does not apply
// concurrent updates atomically, and on MongoDB alike.
//
//	tool_runs {_id: <tool>/<callId>, tool, callId, at, expireAt}
//
// Only the claim is kept, never the arguments or the result: they may
// quote the conversation, and a server keeps no plaintext of it. A claim
// only matters while a runtime may post the call again (until its agent
// call ended: AGENT_CALL_TIMEOUT and the sweeps, a day is ample), so it is
// kept for a retention after it was made (DefaultRetention, or the tool's
// TOOL_RUNS_RETENTION: expireAt) and then goes — a TTL index removes it on
// MongoDB, and Claim sweeps at most hourly (store.Expiry) where there is
// none (FerretDB).
package toolruns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/agentchat/agentchat/store"
)

// Collection is the MongoDB collection of claims.
const Collection = "tool_runs"

// DefaultRetention is how long a claim is kept unless the store is told
// otherwise (WithRetention, TOOL_RUNS_RETENTION).
const DefaultRetention = 7 * 24 * time.Hour

// Mongo is sdk/tool's Runs on MongoDB.
type Mongo struct {
	c         *mongo.Collection
	retention time.Duration
	expiry    *store.Expiry
}

// NewMongo uses db's tool_runs; claims are kept for DefaultRetention.
func NewMongo(db *mongo.Database) *Mongo {
	c := db.Collection(Collection)
	return &Mongo{c: c, retention: DefaultRetention, expiry: store.NewExpiry(c)}
}

// WithRetention keeps the claims made from now on for d (at least an
// hour: a claim must outlive its call); call it before using m.
func (m *Mongo) WithRetention(d time.Duration) *Mongo {
	m.retention = max(d, time.Hour)
	return m
}

// EnsureIndexes creates the TTL index (the _id index is all Claim needs).
func (m *Mongo) EnsureIndexes(ctx context.Context) error {
	if err := store.EnsureIndexes(ctx, m.c, []mongo.IndexModel{store.TTLIndex()}); err != nil {
		return fmt.Errorf("toolruns: %w", err)
	}
	return nil
}

type runDoc struct {
	ID       string    `bson:"_id"`
	Tool     string    `bson:"tool"`
	CallID   string    `bson:"callId"`
	At       time.Time `bson:"at"`
	ExpireAt time.Time `bson:"expireAt"`
}

// Claim inserts the call's claim: a duplicate key means it was claimed.
func (m *Mongo) Claim(ctx context.Context, name, callID string) (bool, error) {
	now := time.Now().UTC()
	_, err := m.c.InsertOne(ctx, runDoc{ID: name + "/" + callID, Tool: name, CallID: callID, At: now, ExpireAt: now.Add(m.retention)})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("toolruns: claim: %w", err)
	}
	m.expiry.Due(ctx, now)
	return true, nil
}

// Expire removes the claims whose retention ended at or before now and
// says how many: what MongoDB's TTL index does by itself, and what Claim
// does at most hourly where there is none.
func (m *Mongo) Expire(ctx context.Context, now time.Time) (int64, error) {
	return m.expiry.Sweep(ctx, now)
}

// Memory is the in-memory twin, for tests.
type Memory struct {
	mu   sync.Mutex
	runs map[string]time.Time // claim → when it expires
}

// NewMemory is an empty Memory; claims are kept for DefaultRetention.
func NewMemory() *Memory { return &Memory{runs: map[string]time.Time{}} }

// Claim records the call unless it is recorded.
func (m *Memory) Claim(_ context.Context, name, callID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[name+"/"+callID]; ok {
		return false, nil
	}
	m.runs[name+"/"+callID] = time.Now().Add(DefaultRetention)
	return true, nil
}

// Expire removes the claims expired at now.
func (m *Memory) Expire(_ context.Context, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, at := range m.runs {
		if !at.After(now) {
			delete(m.runs, k)
			n++
		}
	}
	return n, nil
}

// Open connects a tool function to MongoDB as func's config map cfg says
// (MONGODB_URI, required; MONGODB_DATABASE, default agentchat) and gives
// its tool_runs on that connection, kept for TOOL_RUNS_RETENTION (a Go
// duration, at least 1h; default DefaultRetention), their index ensured;
// the tool opens the rest of what it reads there on db. app names the
// process in the server's logs. The caller closes db.
func Open(ctx context.Context, cfg map[string]string, app string) (db *store.Mongo, runs *Mongo, err error) {
	uri := cfg["MONGODB_URI"]
	if uri == "" {
		return nil, nil, errors.New("config: MONGODB_URI is required")
	}
	retention := DefaultRetention
	if v := cfg["TOOL_RUNS_RETENTION"]; v != "" {
		if retention, err = time.ParseDuration(v); err != nil || retention < time.Hour {
			return nil, nil, errors.New("config: TOOL_RUNS_RETENTION: want a duration of at least 1h")
		}
	}
	db, err = store.OpenMongo(uri, cmp.Or(cfg["MONGODB_DATABASE"], "agentchat"), app)
	if err != nil {
		return nil, nil, err
	}
	runs = NewMongo(db.DB).WithRetention(retention)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := runs.EnsureIndexes(ctx); err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return db, runs, nil
}
