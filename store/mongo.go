package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mongo is one process's connection to the platform's MongoDB database.
// Every command it sends is counted by name (Commands), and reported to a
// benchmark when CommandCountsDirEnv is set, so that it can tell how much
// storage work each stored message costs.
type Mongo struct {
	Client *mongo.Client
	DB     *mongo.Database
	counts *commandCounts
}

// OpenMongo connects to uri and uses database name; app names the process
// in the server's logs. It does not wait for the server: Ping does.
func OpenMongo(uri, database, app string) (*Mongo, error) {
	counts := newCommandCounts(app)
	opts := options.Client().ApplyURI(uri).SetAppName(app).
		SetTimeout(10 * time.Second).
		SetMonitor(&event.CommandMonitor{Started: counts.started})
	client, err := mongo.Connect(opts)
	if err != nil {
		counts.close()
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

// Close disconnects, and writes the last command report when reporting
// (CommandCountsDirEnv).
func (m *Mongo) Close(ctx context.Context) error {
	defer m.counts.close()
	return m.Client.Disconnect(ctx)
}

// Commands returns how many commands of each name (insert, find, update,
// ...) this connection has sent since it was opened, handshakes and
// heartbeats excluded.
func (m *Mongo) Commands() map[string]int64 { return m.counts.snapshot() }
