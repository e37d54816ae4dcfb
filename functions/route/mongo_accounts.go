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

func (d *mongoDirectory) Members(ctx context.Context, conversation string) ([]string, bool, error) {
	var doc struct {
		Members []string `bson:"members"`
	}
	err := d.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: conversation}},
		options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("route: read conversation: %w", err)
	}
	return doc.Members, true, nil
}

// Devices treats a device as current while revokedAt is absent or null
// ({revokedAt: null} matches both). It relies on accounts' index on
// devices.user; on FerretDB it is a scan of the devices collection.
func (d *mongoDirectory) Devices(ctx context.Context, users []string) ([]events.DeviceRef, error) {
	if len(users) == 0 {
		return nil, nil
	}
	cur, err := d.devices.Find(ctx,
		bson.D{{Key: "user", Value: bson.D{{Key: "$in", Value: users}}}, {Key: "revokedAt", Value: nil}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "user", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("route: read devices: %w", err)
	}
	var docs []struct {
		ID   string `bson:"_id"`
		User string `bson:"user"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("route: read devices: %w", err)
	}
	refs := make([]events.DeviceRef, len(docs))
	for i, doc := range docs {
		refs[i] = events.DeviceRef{User: doc.User, Device: doc.ID}
	}
	return refs, nil
}

func (d *mongoDirectory) Agents(ctx context.Context, users []string) ([]agent, error) {
	if len(users) == 0 {
		return nil, nil
	}
	cur, err := d.users.Find(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: users}}}, {Key: "kind", Value: "agent"}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "agentKind", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("route: read users: %w", err)
	}
	var docs []struct {
		ID        string `bson:"_id"`
		AgentKind string `bson:"agentKind"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("route: read users: %w", err)
	}
	agents := make([]agent, len(docs))
	for i, doc := range docs {
		agents[i] = agent{ID: doc.ID, Kind: doc.AgentKind}
	}
	return agents, nil
}
