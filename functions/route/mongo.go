package function

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/agentchat/agentchat/store"
	storedir "github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/messages"
)

// Collection names (docs/data.md). route only reads: accounts owns users,
// devices and conversations (with their change log); persist owns messages.
const (
	collUsers         = "users"
	collDevices       = "devices"
	collConversations = "conversations"
	collChanges       = "conversation_changes"
	collMessages      = "messages"
	collCursors       = "cursors"
)

// mongoDirectory is the directory on MongoDB or FerretDB.
type mongoDirectory struct {
	client        *mongo.Client
	users         *mongo.Collection
	devices       *mongo.Collection
	conversations *mongo.Collection
	changes       *mongo.Collection
	messages      *mongo.Collection
	cursors       *mongo.Collection
	people        *storedir.Mongo // accounts' users, devices and conversations
	msgs          *messages.Mongo // persist's messages and cursors
	// ferret is set on FerretDB, where no query uses an index: a query
	// other than by _id decodes every document of the collection in Go
	// (about 120 µs each on SQLite), one by _id scans in SQLite (about a
	// tenth of that). Message reads then try a lookup by _id first.
	ferret bool
}

var _ directory = (*mongoDirectory)(nil)

// openMongo connects and asks the server what it is (buildInfo), to pick
// how to read messages. extra client options are for tests (a
// command monitor that counts round trips).
func openMongo(ctx context.Context, uri, database string, extra ...*options.ClientOptions) (*mongoDirectory, error) {
	opts := append([]*options.ClientOptions{options.Client().ApplyURI(uri).SetAppName("agentchat-route"), store.CountCommands("route")}, extra...)
	client, err := mongo.Connect(opts...)
	if err != nil {
		return nil, fmt.Errorf("route: connect mongo: %w", err)
	}
	db := client.Database(database)
	info, err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("route: connect mongo: buildInfo: %w", err)
	}
	_, lookupErr := info.LookupErr("ferretdbVersion")
	msgs, err := messages.NewMongoDB(ctx, db)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("route: %w", err)
	}
	return &mongoDirectory{
		msgs:          msgs,
		client:        client,
		users:         db.Collection(collUsers),
		devices:       db.Collection(collDevices),
		conversations: db.Collection(collConversations),
		changes:       db.Collection(collChanges),
		messages:      db.Collection(collMessages),
		cursors:       db.Collection(collCursors),
		people:        storedir.NewMongoDB(db),
		ferret:        lookupErr == nil,
	}, nil
}

func (d *mongoDirectory) Ping(ctx context.Context) error {
	if err := d.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("route: ping mongo: %w", err)
	}
	return nil
}

func (d *mongoDirectory) Close(ctx context.Context) error { return d.client.Disconnect(ctx) }
