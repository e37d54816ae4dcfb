// Package toolruns records the tool calls a tool function has started, so
// that it runs each call id at most once however often the broker
// delivers the call (sdk/tool.Runs). A claim is one insert under a unique
// _id — the design that holds on FerretDB, which does not apply
// concurrent updates atomically, and on MongoDB alike.
//
//	tool_runs {_id: <tool>/<callId>, tool, callId, at}
//
// Only the claim is kept, never the arguments or the result: they may
// quote the conversation, and a server keeps no plaintext of it. Entries
// may be removed once no runtime can ask for the call again (after its
// agent call ended: AGENT_CALL_TIMEOUT and the sweeps, a day is ample).
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

// Mongo is sdk/tool's Runs on MongoDB.
type Mongo struct{ c *mongo.Collection }

// NewMongo uses db's tool_runs (the _id index is all it needs).
func NewMongo(db *mongo.Database) *Mongo { return &Mongo{c: db.Collection(Collection)} }

type runDoc struct {
	ID     string    `bson:"_id"`
	Tool   string    `bson:"tool"`
	CallID string    `bson:"callId"`
	At     time.Time `bson:"at"`
}

// Claim inserts the call's claim: a duplicate key means it was claimed.
func (m *Mongo) Claim(ctx context.Context, name, callID string) (bool, error) {
	_, err := m.c.InsertOne(ctx, runDoc{ID: name + "/" + callID, Tool: name, CallID: callID, At: time.Now().UTC()})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("toolruns: claim: %w", err)
	}
	return true, nil
}

// Memory is the in-memory twin, for tests.
type Memory struct {
	mu   sync.Mutex
	runs map[string]bool
}

// NewMemory is an empty Memory.
func NewMemory() *Memory { return &Memory{runs: map[string]bool{}} }

// Claim records the call unless it is recorded.
func (m *Memory) Claim(_ context.Context, name, callID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs[name+"/"+callID] {
		return false, nil
	}
	m.runs[name+"/"+callID] = true
	return true, nil
}

// Open connects a tool function to MongoDB as func's config map cfg says
// (MONGODB_URI, required; MONGODB_DATABASE, default agentchat) and gives
// its tool_runs on that connection; the tool opens the rest of what it
// reads there on db. app names the process in the server's logs. The
// caller closes db.
func Open(cfg map[string]string, app string) (db *store.Mongo, runs *Mongo, err error) {
	uri := cfg["MONGODB_URI"]
	if uri == "" {
		return nil, nil, errors.New("config: MONGODB_URI is required")
	}
	db, err = store.OpenMongo(uri, cmp.Or(cfg["MONGODB_DATABASE"], "agentchat"), app)
	if err != nil {
		return nil, nil, err
	}
	return db, NewMongo(db.DB), nil
}
