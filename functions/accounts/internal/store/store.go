// Package store is accounts' MongoDB adapter: users, devices, refresh
// tokens and conversations (see docs/data.md for the shapes other functions
// read).
//
// Every guarantee rests on inserts guarded by unique indexes, never on
// transactions or on the atomicity of concurrent updates: the FerretDB
// stand-in used here applies neither, and nothing more is needed from a real
// MongoDB. Where a change spans documents, writes are ordered so that a
// failure in between leaves nothing another reader would act on (each
// method's comment says how).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	platformstore "github.com/agentchat/agentchat/store"
)

// Sentinel errors; anything else is an infrastructure failure.
var (
	// ErrNotFound: no document matched.
	ErrNotFound = errors.New("store: not found")
	// ErrDuplicate: an insert hit a unique index (the id or another unique key).
	ErrDuplicate = errors.New("store: duplicate")
	// ErrContention: a conversation changed under us too often to apply a change.
	ErrContention = errors.New("store: too much contention")
)

// Collection names. users, devices and conversations are read by other
// functions (route, persist); the rest are private to accounts.
const (
	CollUsers         = "users"
	CollDevices       = "devices"
	CollConversations = "conversations"
	CollRefreshTokens = "refresh_tokens"
	CollRotations     = "refresh_rotations"
	CollChanges       = "conversation_changes"
)

// Store is accounts' view of its MongoDB database.
type Store struct {
	client                                   *mongo.Client
	db                                       *mongo.Database
	users, devices, convs, tokens, rotations *mongo.Collection
	changes                                  *mongo.Collection
}

// Open connects to uri and uses database name. It does not wait for the
// server: Ping and EnsureIndexes do.
func Open(uri, name string) (*Store, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10*time.Second), platformstore.CountCommands("accounts"))
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	db := client.Database(name)
	return &Store{
		client: client, db: db,
		users: db.Collection(CollUsers), devices: db.Collection(CollDevices),
		convs: db.Collection(CollConversations), tokens: db.Collection(CollRefreshTokens),
		rotations: db.Collection(CollRotations), changes: db.Collection(CollChanges),
	}, nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// EnsureIndexes creates the indexes correctness depends on (idempotent).
// Sparse rather than partial unique indexes: FerretDB has no partial ones,
// and sparse gives the same meaning for "unique when present".
func (s *Store) EnsureIndexes(ctx context.Context) error {
	idx := []struct {
		coll  *mongo.Collection
		name  string
		model mongo.IndexModel
	}{
		// usernames are unique among users that have one (agents have none)
		{s.users, "username_unique", mongo.IndexModel{Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetName("username_unique").SetUnique(true).SetSparse(true)}},
		{s.users, "kind", mongo.IndexModel{Keys: bson.D{{Key: "kind", Value: 1}}, Options: options.Index().SetName("kind")}},
		// one device per (user, public key): a retried login reuses its device
		{s.devices, "user_publicKey_unique", mongo.IndexModel{Keys: bson.D{{Key: "user", Value: 1}, {Key: "publicKey", Value: 1}}, Options: options.Index().SetName("user_publicKey_unique").SetUnique(true)}},
		{s.tokens, "device", mongo.IndexModel{Keys: bson.D{{Key: "device", Value: 1}}, Options: options.Index().SetName("device")}},
		{s.convs, "members_updatedAt", mongo.IndexModel{Keys: bson.D{{Key: "members", Value: 1}, {Key: "updatedAt", Value: -1}}, Options: options.Index().SetName("members_updatedAt")}},
	}
	for _, i := range idx {
		if _, err := i.coll.Indexes().CreateOne(ctx, i.model); err != nil {
			return fmt.Errorf("store: create index %s.%s: %w", i.coll.Name(), i.name, err)
		}
	}
	return nil
}

// insert maps a duplicate-key error to ErrDuplicate.
func insert(ctx context.Context, c *mongo.Collection, doc any) error {
	_, err := c.InsertOne(ctx, doc)
	switch {
	case mongo.IsDuplicateKeyError(err):
		return ErrDuplicate
	case err != nil:
		return fmt.Errorf("store: insert %s: %w", c.Name(), err)
	}
	return nil
}

// findOne decodes the first match of filter into out, ErrNotFound if none.
func findOne(ctx context.Context, c *mongo.Collection, filter, out any) error {
	err := c.FindOne(ctx, filter).Decode(out)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("store: find %s: %w", c.Name(), err)
	}
	return nil
}

// findAll decodes every match of filter into out (a pointer to a slice).
func findAll(ctx context.Context, c *mongo.Collection, filter any, out any, opts ...options.Lister[options.FindOptions]) error {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return fmt.Errorf("store: find %s: %w", c.Name(), err)
	}
	if err := cur.All(ctx, out); err != nil {
		return fmt.Errorf("store: read %s: %w", c.Name(), err)
	}
	return nil
}

// Drop deletes the whole database (tests).
func (s *Store) Drop(ctx context.Context) error { return s.db.Drop(ctx) }
