package function

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// collMessages is persist's collection, which agent-invoke reads and
// never writes (docs/data.md).
const collMessages = "messages"

type mongoMessages struct {
	client   *mongo.Client
	messages *mongo.Collection
}

var _ messages = (*mongoMessages)(nil)

func newMongoMessages(client *mongo.Client, db *mongo.Database) *mongoMessages {
	return &mongoMessages{client: client, messages: db.Collection(collMessages)}
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

func (d *mongoMessages) Message(ctx context.Context, conversation string, seq int64) (events.Message, bool, error) {
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

func (d *mongoMessages) Ping(ctx context.Context) error {
	if err := d.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("agent-invoke: ping mongo: %w", err)
	}
	return nil
}
