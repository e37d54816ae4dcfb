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
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Collections agent-invoke reads and never writes (docs/data.md).
const (
	collUsers         = "users"
	collDevices       = "devices"
	collConversations = "conversations"
	collChanges       = "conversation_changes"
	collMessages      = "messages"
)

// maxChangesBehind bounds how many logged membership changes Recipients
// applies on top of a conversation document (as persist and route do).
const maxChangesBehind = 64

type mongoDirectory struct {
	client        *mongo.Client
	users         *mongo.Collection
	devices       *mongo.Collection
	conversations *mongo.Collection
	changes       *mongo.Collection
	messages      *mongo.Collection
}

var _ directory = (*mongoDirectory)(nil)

func newMongoDirectory(client *mongo.Client, db *mongo.Database) *mongoDirectory {
	return &mongoDirectory{client: client, users: db.Collection(collUsers), devices: db.Collection(collDevices),
		conversations: db.Collection(collConversations), changes: db.Collection(collChanges),
		messages: db.Collection(collMessages)}
}

// Recipients reads the members as persist does (the conversation, then
// any change accounts logged past its rev), then their current devices.
// Round trips: 3 (the devices query scans the collection on FerretDB).
func (d *mongoDirectory) Recipients(ctx context.Context, conversation string) ([]e2ee.Recipient, []string, error) {
	var doc struct {
		Members []string `bson:"members"`
		Rev     int64    `bson:"rev"`
	}
	err := d.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: conversation}},
		options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}, {Key: "rev", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("agent-invoke: read conversation: %w", err)
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
			return nil, nil, fmt.Errorf("agent-invoke: read conversation changes: %w", err)
		}
		doc.Members, doc.Rev = change.Members, doc.Rev+1
	}
	if len(doc.Members) == 0 {
		return nil, []string{}, nil
	}
	cur, err := d.devices.Find(ctx,
		bson.D{{Key: "user", Value: bson.D{{Key: "$in", Value: doc.Members}}}, {Key: "revokedAt", Value: nil}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "publicKey", Value: 1}}))
	if err != nil {
		return nil, nil, fmt.Errorf("agent-invoke: read devices: %w", err)
	}
	var devs []struct {
		ID        string `bson:"_id"`
		PublicKey string `bson:"publicKey"`
	}
	if err := cur.All(ctx, &devs); err != nil {
		return nil, nil, fmt.Errorf("agent-invoke: read devices: %w", err)
	}
	rs := make([]e2ee.Recipient, 0, len(devs))
	for _, dv := range devs {
		raw, err := base64.StdEncoding.DecodeString(dv.PublicKey)
		if err != nil {
			return nil, nil, fmt.Errorf("agent-invoke: device %s: public key is not base64", dv.ID)
		}
		pub, err := e2ee.ParsePublicKey(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("agent-invoke: device %s: %w", dv.ID, err)
		}
		rs = append(rs, e2ee.Recipient{Device: dv.ID, PublicKey: pub})
	}
	return rs, doc.Members, nil
}

func (d *mongoDirectory) AgentDevice(ctx context.Context, agent string) (string, []byte, bool, error) {
	var u struct {
		Kind     string `bson:"kind"`
		DeviceID string `bson:"deviceId"`
	}
	err := d.users.FindOne(ctx, bson.D{{Key: "_id", Value: agent}},
		options.FindOne().SetProjection(bson.D{{Key: "kind", Value: 1}, {Key: "deviceId", Value: 1}})).Decode(&u)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return "", nil, false, nil
	case err != nil:
		return "", nil, false, fmt.Errorf("agent-invoke: read agent: %w", err)
	}
	if u.Kind != "agent" || u.DeviceID == "" {
		return "", nil, false, nil
	}
	var dv struct {
		User      string     `bson:"user"`
		PublicKey string     `bson:"publicKey"`
		RevokedAt *time.Time `bson:"revokedAt"`
	}
	err = d.devices.FindOne(ctx, bson.D{{Key: "_id", Value: u.DeviceID}}).Decode(&dv)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return "", nil, false, nil
	case err != nil:
		return "", nil, false, fmt.Errorf("agent-invoke: read agent device: %w", err)
	}
	pub, err := base64.StdEncoding.DecodeString(dv.PublicKey)
	if err != nil || dv.User != agent || dv.RevokedAt != nil {
		return "", nil, false, nil
	}
	return u.DeviceID, pub, true, nil
}

// messageDoc is persist's document shape (docs/data.md).
type messageDoc struct {
	Conversation    string    `bson:"conversation"`
	Seq             int64     `bson:"seq"`
	Sender          string    `bson:"sender"`
	SenderDevice    string    `bson:"senderDevice"`
	ClientMessageID string    `bson:"clientMessageId"`
	StoredAt        time.Time `bson:"storedAt"`
	Envelope        struct {
		V          int    `bson:"v"`
		Nonce      []byte `bson:"nonce"`
		Ciphertext []byte `bson:"ct"`
		Keys       []struct {
			Device    string `bson:"device"`
			Ephemeral []byte `bson:"epk"`
			Nonce     []byte `bson:"nonce"`
			Wrapped   []byte `bson:"wk"`
		} `bson:"keys"`
	} `bson:"envelope"`
}

func (d *mongoDirectory) Message(ctx context.Context, conversation string, seq int64) (events.Message, bool, error) {
	var doc messageDoc
	err := d.messages.FindOne(ctx, bson.D{{Key: "_id", Value: conversation + "/" + strconv.FormatInt(seq, 10)}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return events.Message{}, false, nil
	case err != nil:
		return events.Message{}, false, fmt.Errorf("agent-invoke: read message: %w", err)
	}
	env := &e2ee.Envelope{V: doc.Envelope.V, Nonce: doc.Envelope.Nonce, Ciphertext: doc.Envelope.Ciphertext,
		Keys: make([]e2ee.WrappedKey, len(doc.Envelope.Keys))}
	for i, k := range doc.Envelope.Keys {
		env.Keys[i] = e2ee.WrappedKey{Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped}
	}
	return events.Message{ConversationID: doc.Conversation, Seq: doc.Seq, SenderID: doc.Sender,
		SenderDevice: doc.SenderDevice, ClientMessageID: doc.ClientMessageID, Envelope: env,
		StoredAt: doc.StoredAt.UTC()}, true, nil
}

func (d *mongoDirectory) Ping(ctx context.Context) error {
	if err := d.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("agent-invoke: ping mongo: %w", err)
	}
	return nil
}
