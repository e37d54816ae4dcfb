// Package refreshstore keeps accounts' refresh tokens and their rotations:
// private to accounts (the directory of users, devices and conversations
// that other functions read is store/directory).
//
// Every guarantee rests on inserts guarded by unique indexes, never on
// transactions or on the atomicity of concurrent updates: the FerretDB
// stand-in applies neither.
package refreshstore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
)

// Collection names (private to accounts).
const (
	CollRefreshTokens = "refresh_tokens"
	CollRotations     = "refresh_rotations"
)

// Store is accounts' refresh tokens in MongoDB.
type Store struct {
	tokens, rotations *mongo.Collection
}

// New uses m's database.
func New(m *store.Mongo) *Store {
	return &Store{tokens: m.DB.Collection(CollRefreshTokens), rotations: m.DB.Collection(CollRotations)}
}

// EnsureIndexes creates the index revocation uses (idempotent).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	return store.EnsureIndexes(ctx, s.tokens, []mongo.IndexModel{
		{Keys: bson.D{{Key: "device", Value: 1}}, Options: options.Index().SetName("device")},
	})
}

// insert maps a duplicate-key error to store.ErrDuplicate.
func insert(ctx context.Context, c *mongo.Collection, doc any) error {
	_, err := c.InsertOne(ctx, doc)
	switch {
	case mongo.IsDuplicateKeyError(err):
		return store.ErrDuplicate
	case err != nil:
		return fmt.Errorf("refreshstore: insert %s: %w", c.Name(), err)
	}
	return nil
}
