package function

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	platformstore "github.com/agentchat/agentchat/store"
)

// Collection names (docs/data.md). persist owns messages and cursors and
// only reads conversations (with their change log) and devices, which
// accounts owns.
const (
	collMessages      = "messages"
	collCursors       = "cursors"
	collConversations = "conversations"
	collChanges       = "conversation_changes"
	collDevices       = "devices"
)

// mongoStore is the store on MongoDB (or FerretDB, which speaks its wire
// protocol but has no transactions and no atomic concurrent updates).
type mongoStore struct {
	client        *mongo.Client
	messages      *mongo.Collection
	cursors       *mongo.Collection
	conversations *mongo.Collection
	changes       *mongo.Collection
	devices       *mongo.Collection
}

var _ store = (*mongoStore)(nil)

// openMongo connects and makes sure the unique indexes that seq
// allocation and idempotency rest on exist. extra client options are for
// tests (a command monitor that counts round trips).
func openMongo(ctx context.Context, uri, database string, extra ...*options.ClientOptions) (*mongoStore, error) {
	opts := append([]*options.ClientOptions{options.Client().ApplyURI(uri).SetAppName("agentchat-persist"), platformstore.CountCommands("persist")}, extra...)
	client, err := mongo.Connect(opts...)
	if err != nil {
		return nil, fmt.Errorf("persist: connect mongo: %w", err)
	}
	db := client.Database(database)
	s := &mongoStore{
		client:        client,
		messages:      db.Collection(collMessages),
		cursors:       db.Collection(collCursors),
		conversations: db.Collection(collConversations),
		changes:       db.Collection(collChanges),
		devices:       db.Collection(collDevices),
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// messageIndexes are the unique indexes seq allocation and idempotency
// rest on.
var messageIndexes = []mongo.IndexModel{
	{ // gapless seq: two messages can never share a seq
		Keys:    bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}},
		Options: options.Index().SetName("conversation_seq").SetUnique(true),
	},
	{ // idempotency: a resend is the same message
		Keys: bson.D{{Key: "conversation", Value: 1}, {Key: "sender", Value: 1},
			{Key: "senderDevice", Value: 1}, {Key: "clientMessageId", Value: 1}},
		Options: options.Index().SetName("conversation_sender_device_clientmessageid").SetUnique(true),
	},
}

// ensureIndexes creates the missing ones of messageIndexes. It lists
// first and creates only what is absent because FerretDB 1.24 (SQLite)
// drops the connection when asked to create an index that exists; two
// instances starting together may still race, so a failed create is
// retried after listing again.
func (s *mongoStore) ensureIndexes(ctx context.Context) error {
	var err error
	for attempt := range 5 {
		if err = createMissing(ctx, s.messages, messageIndexes); err == nil {
			return nil
		}
		if sleep(ctx, time.Duration(attempt+1)*50*time.Millisecond) != nil {
			break
		}
	}
	return fmt.Errorf("persist: create indexes on %s: %w", collMessages, err)
}

func createMissing(ctx context.Context, coll *mongo.Collection, want []mongo.IndexModel) error {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(specs))
	for _, sp := range specs {
		have[sp.Name] = true
	}
	for _, m := range want {
		var o options.IndexOptions
		for _, set := range m.Options.List() {
			_ = set(&o)
		}
		if o.Name != nil && have[*o.Name] {
			continue
		}
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *mongoStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("persist: ping mongo: %w", err)
	}
	return nil
}

func (s *mongoStore) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}
