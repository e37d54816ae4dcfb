package function

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/events"
)

// Members reads the conversation, then any membership change accounts
// has logged past the document's rev: accounts inserts the log entry
// (conversation_changes, _id conversation/rev, with the whole member list)
// before it updates the document, so the document may lag the log for a
// moment, or longer if accounts died in between (docs/accounts.md).
// Nothing is cached: a removed member stops counting with the next event.
// Round trips: 2 (the document, and the next rev's absence).
func (d *mongoDirectory) Members(ctx context.Context, conversation string) ([]string, bool, error) {
	var doc struct {
		Members []string `bson:"members"`
		Rev     int64    `bson:"rev"`
	}
	err := d.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: conversation}},
		options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}, {Key: "rev", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("route: read conversation: %w", err)
	}
	for range maxChangesBehind {
		var change struct {
			Members []string `bson:"members"`
		}
		err := d.changes.FindOne(ctx, bson.D{{Key: "_id", Value: conversation + "/" + strconv.FormatInt(doc.Rev+1, 10)}},
			options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}})).Decode(&change)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("route: read conversation changes: %w", err)
		}
		doc.Members, doc.Rev = change.Members, doc.Rev+1
	}
	return doc.Members, true, nil
}

// maxChangesBehind bounds how many logged membership changes Members
// applies on top of a conversation document.
const maxChangesBehind = 64

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

func (d *mongoDirectory) DeviceCurrent(ctx context.Context, user, device string) (bool, error) {
	var doc struct {
		User      string     `bson:"user"`
		RevokedAt *time.Time `bson:"revokedAt"`
	}
	err := d.devices.FindOne(ctx, bson.D{{Key: "_id", Value: device}},
		options.FindOne().SetProjection(bson.D{{Key: "user", Value: 1}, {Key: "revokedAt", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("route: read device: %w", err)
	}
	return doc.User == user && doc.RevokedAt == nil, nil
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
