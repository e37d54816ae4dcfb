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

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// messageDoc is one document of the messages collection (docs/data.md).
// route reads the same shape. _id is conversation/seq, a third guard of
// the seq besides the (conversation, seq) unique index.
type messageDoc struct {
	ID              string      `bson:"_id"`
	Conversation    string      `bson:"conversation"`
	Seq             int64       `bson:"seq"`
	Sender          string      `bson:"sender"`
	SenderDevice    string      `bson:"senderDevice"`
	ClientMessageID string      `bson:"clientMessageId"`
	Envelope        envelopeDoc `bson:"envelope"`
	StoredAt        time.Time   `bson:"storedAt"`
}

// envelopeDoc stores an e2ee.Envelope with its byte fields as BSON binary,
// under the same short names as its JSON form.
type envelopeDoc struct {
	V          int             `bson:"v"`
	Nonce      []byte          `bson:"nonce"`
	Ciphertext []byte          `bson:"ct"`
	Keys       []wrappedKeyDoc `bson:"keys"`
}

type wrappedKeyDoc struct {
	Device    string `bson:"device"`
	Ephemeral []byte `bson:"epk"`
	Nonce     []byte `bson:"nonce"`
	Wrapped   []byte `bson:"wk"`
}

func messageID(conversation string, seq int64) string {
	return conversation + "/" + strconv.FormatInt(seq, 10)
}

func toMessageDoc(m events.Message) messageDoc {
	env := envelopeDoc{V: m.Envelope.V, Nonce: m.Envelope.Nonce, Ciphertext: m.Envelope.Ciphertext,
		Keys: make([]wrappedKeyDoc, len(m.Envelope.Keys))}
	for i, k := range m.Envelope.Keys {
		env.Keys[i] = wrappedKeyDoc{Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped}
	}
	return messageDoc{
		ID: messageID(m.ConversationID, m.Seq), Conversation: m.ConversationID, Seq: m.Seq,
		Sender: m.SenderID, SenderDevice: m.SenderDevice, ClientMessageID: m.ClientMessageID,
		Envelope: env, StoredAt: m.StoredAt,
	}
}

func (d messageDoc) message() events.Message {
	env := &e2ee.Envelope{V: d.Envelope.V, Nonce: d.Envelope.Nonce, Ciphertext: d.Envelope.Ciphertext,
		Keys: make([]e2ee.WrappedKey, len(d.Envelope.Keys))}
	for i, k := range d.Envelope.Keys {
		env.Keys[i] = e2ee.WrappedKey{Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped}
	}
	return events.Message{
		ConversationID: d.Conversation, Seq: d.Seq, SenderID: d.Sender, SenderDevice: d.SenderDevice,
		ClientMessageID: d.ClientMessageID, Envelope: env, StoredAt: d.StoredAt.UTC(),
	}
}

func (s *mongoStore) HasSeq(ctx context.Context, conversation string, seq int64) (bool, error) {
	err := s.messages.FindOne(ctx, bson.D{{Key: "_id", Value: messageID(conversation, seq)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("persist: probe seq: %w", err)
	}
	return true, nil
}

func (s *mongoStore) MessageAt(ctx context.Context, conversation string, seq int64) (events.Message, bool, error) {
	var doc messageDoc
	err := s.messages.FindOne(ctx, bson.D{{Key: "_id", Value: messageID(conversation, seq)}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return events.Message{}, false, nil
	case err != nil:
		return events.Message{}, false, fmt.Errorf("persist: read message: %w", err)
	}
	return doc.message(), true, nil
}

func (s *mongoStore) InsertMessage(ctx context.Context, m events.Message) error {
	_, err := s.messages.InsertOne(ctx, toMessageDoc(m))
	switch {
	case mongo.IsDuplicateKeyError(err):
		return errDuplicate
	case err != nil:
		return fmt.Errorf("persist: insert message: %w", err)
	}
	return nil
}

func (s *mongoStore) FindMessage(ctx context.Context, k idemKey) (events.Message, bool, error) {
	var doc messageDoc
	err := s.messages.FindOne(ctx, bson.D{
		{Key: "conversation", Value: k.Conversation}, {Key: "sender", Value: k.Sender},
		{Key: "senderDevice", Value: k.SenderDevice}, {Key: "clientMessageId", Value: k.ClientMessageID},
	}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return events.Message{}, false, nil
	case err != nil:
		return events.Message{}, false, fmt.Errorf("persist: find message: %w", err)
	}
	return doc.message(), true, nil
}
