package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mongo is one process's connection to the platform's MongoDB database.
// Every command it sends is counted by name (Commands), so that a
// benchmark can tell how much storage work each stored message costs.
type Mongo struct {
	Client *mongo.Client
	DB     *mongo.Database
	counts *commandCounts
}

// OpenMongo connects to uri and uses database name; app names the process
// in the server's logs. It does not wait for the server: Ping does.
func OpenMongo(uri, database, app string) (*Mongo, error) {
	counts := &commandCounts{}
	opts := options.Client().ApplyURI(uri).SetAppName(app).
		SetTimeout(10 * time.Second).
		SetMonitor(&event.CommandMonitor{Started: counts.started})
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("store: connect mongo: %w", err)
	}
	return &Mongo{Client: client, DB: client.Database(database), counts: counts}, nil
}

// Ping checks that the server answers.
func (m *Mongo) Ping(ctx context.Context) error {
	if err := m.Client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("store: ping mongo: %w", err)
	}
	return nil
}

// Close disconnects.
func (m *Mongo) Close(ctx context.Context) error { return m.Client.Disconnect(ctx) }

// Commands returns how many commands of each name (insert, find, update,
// ...) this connection has sent since it was opened, handshakes and
// heartbeats excluded.
func (m *Mongo) Commands() map[string]int64 { return m.counts.snapshot() }

// commandCounts counts started commands by name.
type commandCounts struct {
	m sync.Map // name → *atomic.Int64
}

// notCounted are the driver's own connection upkeep, not work asked of
// the storage by the platform.
var notCounted = map[string]bool{"hello": true, "isMaster": true, "ismaster": true,
	"saslStart": true, "saslContinue": true, "ping": true, "endSessions": true, "killCursors": true}

func (c *commandCounts) started(_ context.Context, e *event.CommandStartedEvent) {
	if notCounted[e.CommandName] {
		return
	}
	v, ok := c.m.Load(e.CommandName)
	if !ok {
		v, _ = c.m.LoadOrStore(e.CommandName, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *commandCounts) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}
