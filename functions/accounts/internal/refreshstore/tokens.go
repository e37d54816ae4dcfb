package refreshstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/agentchat/agentchat/store"
)

// RefreshToken is a stored refresh token: only its SHA-256 (hex) is kept,
// so a database leak yields no usable token.
type RefreshToken struct {
	Hash      string     `bson:"_id"`
	User      string     `bson:"user"`
	Device    string     `bson:"device"`
	Parent    string     `bson:"parent,omitempty"` // the token this one replaced
	CreatedAt time.Time  `bson:"createdAt"`
	ExpiresAt time.Time  `bson:"expiresAt"`
	UsedAt    *time.Time `bson:"usedAt,omitempty"`
	RevokedAt *time.Time `bson:"revokedAt,omitempty"`
}

// InsertRefreshToken stores a new token.
func (s *Store) InsertRefreshToken(ctx context.Context, t RefreshToken) error {
	return insert(ctx, s.tokens, t)
}

// RefreshTokenByHash finds a token by its hash.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error) {
	var t RefreshToken
	err := s.tokens.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&t)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return t, store.ErrNotFound
	case err != nil:
		return t, fmt.Errorf("refreshstore: find refresh token: %w", err)
	}
	return t, nil
}

// ClaimRotation records that the token hash was exchanged for child. It is
// an insert keyed by the old hash, so of any number of concurrent refreshes
// with one token exactly one succeeds; the others get ErrDuplicate, which
// is token reuse. The caller inserts child before claiming: a failure in
// between leaves only an unclaimed token whose secret nobody was given.
func (s *Store) ClaimRotation(ctx context.Context, hash, child string, at time.Time) error {
	return insert(ctx, s.rotations, bson.D{{Key: "_id", Value: hash}, {Key: "child", Value: child}, {Key: "at", Value: at}})
}

// MarkUsed sets usedAt on a rotated token. It is informational (the
// rotation record is the authority) and lets a reuse be refused before any
// insert; a failure here must not fail the refresh that claimed the token.
func (s *Store) MarkUsed(ctx context.Context, hash string, at time.Time) error {
	_, err := s.tokens.UpdateOne(ctx, bson.D{{Key: "_id", Value: hash}}, bson.D{{Key: "$set", Value: bson.D{{Key: "usedAt", Value: at}}}})
	if err != nil {
		return fmt.Errorf("refreshstore: mark refresh token used: %w", err)
	}
	return nil
}

// RevokeDeviceTokens revokes every live refresh token of a device. Setting
// the same field on every token is safe under concurrent calls.
func (s *Store) RevokeDeviceTokens(ctx context.Context, device string, at time.Time) error {
	_, err := s.tokens.UpdateMany(ctx, bson.D{{Key: "device", Value: device}, {Key: "revokedAt", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: at}}}})
	if err != nil {
		return fmt.Errorf("refreshstore: revoke refresh tokens: %w", err)
	}
	return nil
}
