package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// User kinds.
const (
	KindUser  = "user"
	KindAgent = "agent"
)

// User is a person (kind "user": username and password hash) or an agent
// (kind "agent": agentKind, ownerId, and its one device's id and key).
type User struct {
	ID           string    `bson:"_id"`
	Kind         string    `bson:"kind"`
	Username     string    `bson:"username,omitempty"`
	Name         string    `bson:"name"`
	PasswordHash string    `bson:"passwordHash,omitempty"`
	AgentKind    string    `bson:"agentKind,omitempty"`
	OwnerID      string    `bson:"ownerId,omitempty"`
	DeviceID     string    `bson:"deviceId,omitempty"`
	PublicKey    string    `bson:"publicKey,omitempty"`
	CreatedAt    time.Time `bson:"createdAt"`
}

// InsertUser stores a new user; ErrDuplicate when the id or username is taken.
func (s *Store) InsertUser(ctx context.Context, u User) error {
	return insert(ctx, s.users, u)
}

// UserByID finds a user or agent.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	return u, findOne(ctx, s.users, bson.D{{Key: "_id", Value: id}}, &u)
}

// UserByUsername finds a person by username.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	var u User
	return u, findOne(ctx, s.users, bson.D{{Key: "username", Value: username}}, &u)
}

// ExistingUsers returns which of ids exist (users or agents).
func (s *Store) ExistingUsers(ctx context.Context, ids []string) (map[string]bool, error) {
	var found []struct {
		ID string `bson:"_id"`
	}
	err := findAll(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &found,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for _, f := range found {
		out[f.ID] = true
	}
	return out, nil
}

// Agents lists every agent, oldest first, at most limit.
func (s *Store) Agents(ctx context.Context, limit int64) ([]User, error) {
	out := []User{}
	err := findAll(ctx, s.users, bson.D{{Key: "kind", Value: KindAgent}}, &out,
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: agents: %w", err)
	}
	return out, nil
}
