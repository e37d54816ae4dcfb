package function

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// mongoDirectory reads, never writes, what accounts owns (docs/data.md):
// an agent runtime has no user token for accounts' HTTP key directory,
// so it reads the same collections persist checks envelopes against.
type mongoDirectory struct {
	users, devices, conversations, changes *mongo.Collection
}

func newMongoDirectory(db *mongo.Database) *mongoDirectory {
	return &mongoDirectory{users: db.Collection("users"), devices: db.Collection("devices"),
		conversations: db.Collection("conversations"), changes: db.Collection("conversation_changes")}
}

// members reads the conversation's members: the document, then any
// change accounts logged past its rev (accounts writes the log first).
func (d *mongoDirectory) members(ctx context.Context, conversation string) ([]string, error) {
	var doc struct {
		Members []string `bson:"members"`
		Rev     int64    `bson:"rev"`
	}
	err := d.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: conversation}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("calc-agent: read conversation: %w", err)
	}
	for range 64 {
		var change struct {
			Members []string `bson:"members"`
		}
		err := d.changes.FindOne(ctx, bson.D{{Key: "_id", Value: conversation + "/" + strconv.FormatInt(doc.Rev+1, 10)}}).Decode(&change)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("calc-agent: read conversation changes: %w", err)
		}
		doc.Members, doc.Rev = change.Members, doc.Rev+1
	}
	return doc.Members, nil
}

// Recipients is every current device of every member, with its key.
func (d *mongoDirectory) Recipients(ctx context.Context, conversation string) ([]e2ee.Recipient, error) {
	members, err := d.members(ctx, conversation)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	cur, err := d.devices.Find(ctx, bson.D{{Key: "user", Value: bson.D{{Key: "$in", Value: members}}}, {Key: "revokedAt", Value: nil}})
	if err != nil {
		return nil, fmt.Errorf("calc-agent: read devices: %w", err)
	}
	var devs []struct {
		ID        string `bson:"_id"`
		PublicKey string `bson:"publicKey"`
	}
	if err := cur.All(ctx, &devs); err != nil {
		return nil, fmt.Errorf("calc-agent: read devices: %w", err)
	}
	rs := make([]e2ee.Recipient, 0, len(devs))
	for _, dv := range devs {
		raw, err := base64.StdEncoding.DecodeString(dv.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("calc-agent: device %s: bad public key", dv.ID)
		}
		pub, err := e2ee.ParsePublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("calc-agent: device %s: %w", dv.ID, err)
		}
		rs = append(rs, e2ee.Recipient{Device: dv.ID, PublicKey: pub})
	}
	return rs, nil
}

// AgentDevice returns the agent's one device and its public key.
func (d *mongoDirectory) AgentDevice(ctx context.Context, agent string) (string, []byte, bool, error) {
	var u struct {
		DeviceID string `bson:"deviceId"`
	}
	err := d.users.FindOne(ctx, bson.D{{Key: "_id", Value: agent}, {Key: "kind", Value: "agent"}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("calc-agent: read agent: %w", err)
	}
	var dv struct {
		User      string     `bson:"user"`
		PublicKey string     `bson:"publicKey"`
		RevokedAt *time.Time `bson:"revokedAt"`
	}
	err = d.devices.FindOne(ctx, bson.D{{Key: "_id", Value: u.DeviceID}}).Decode(&dv)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("calc-agent: read agent device: %w", err)
	}
	pub, err := base64.StdEncoding.DecodeString(dv.PublicKey)
	if err != nil || dv.User != agent || dv.RevokedAt != nil {
		return "", nil, false, nil
	}
	return u.DeviceID, pub, true, nil
}

// MemberNames returns the members' display names (for "who is here?").
func (d *mongoDirectory) MemberNames(ctx context.Context, conversation string) ([]string, error) {
	members, err := d.members(ctx, conversation)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	cur, err := d.users.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: members}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("calc-agent: read users: %w", err)
	}
	var users []struct {
		ID   string `bson:"_id"`
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &users); err != nil {
		return nil, fmt.Errorf("calc-agent: read users: %w", err)
	}
	byID := map[string]string{}
	for _, u := range users {
		byID[u.ID] = u.Name
	}
	names := make([]string, 0, len(members))
	for _, id := range members {
		if n := byID[id]; n != "" {
			names = append(names, n)
		} else {
			names = append(names, id)
		}
	}
	return names, nil
}
