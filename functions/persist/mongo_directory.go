package function

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/events"
)

// Members reads the conversation fresh on every call: nothing is cached,
// so a removed member stops receiving the moment accounts updates it.
func (s *mongoStore) Members(ctx context.Context, conversation string) ([]string, bool, error) {
	var doc struct {
		Members []string `bson:"members"`
	}
	err := s.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: conversation}},
		options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("persist: read conversation: %w", err)
	}
	return doc.Members, true, nil
}

// CurrentDevices treats a device as current while revokedAt is absent or
// null ({revokedAt: null} matches both).
func (s *mongoStore) CurrentDevices(ctx context.Context, users []string) ([]events.DeviceRef, error) {
	if len(users) == 0 {
		return nil, nil
	}
	cur, err := s.devices.Find(ctx,
		bson.D{{Key: "user", Value: bson.D{{Key: "$in", Value: users}}}, {Key: "revokedAt", Value: nil}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "user", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("persist: read devices: %w", err)
	}
	var docs []struct {
		ID   string `bson:"_id"`
		User string `bson:"user"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("persist: read devices: %w", err)
	}
	refs := make([]events.DeviceRef, len(docs))
	for i, d := range docs {
		refs[i] = events.DeviceRef{User: d.User, Device: d.ID}
	}
	return refs, nil
}
