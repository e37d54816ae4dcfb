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

// messageDoc is a document of persist's messages collection (docs/data.md;
// persist's mongo_messages.go writes it).
type messageDoc struct {
	ID              string      `bson:"_id"` // conversation + "/" + seq
	Conversation    string      `bson:"conversation"`
	Seq             int64       `bson:"seq"`
	Sender          string      `bson:"sender"`
	SenderDevice    string      `bson:"senderDevice"`
	ClientMessageID string      `bson:"clientMessageId"`
	Envelope        envelopeDoc `bson:"envelope"`
	StoredAt        time.Time   `bson:"storedAt"`
}

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

func messageID(conversation string, seq int64) string {
	return conversation + "/" + strconv.FormatInt(seq, 10)
}

// MessagesAfter reads with the (conversation, seq) index on MongoDB. On
// FerretDB the query decodes every document of the collection, so it is
// only made when seq after+1 exists, which a lookup by _id answers first:
// an up-to-date device, the usual sync, never pays for the query.
func (d *mongoDirectory) MessagesAfter(ctx context.Context, conversation string, after int64, limit int) ([]events.Message, error) {
	if d.ferret {
		if next, err := d.messageAt(ctx, conversation, after+1); next == nil || err != nil {
			return nil, err
		}
	}
	cur, err := d.messages.Find(ctx,
		bson.D{{Key: "conversation", Value: conversation}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: after}}}},
		// A negative limit asks for one batch and no cursor left open (no
		// getMore round trip). A batch stops at 16 MiB, far above what one
		// sync batch may carry (syncBudget), so a cut never hides More.
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(-int64(limit)).SetBatchSize(int32(limit)))
	if err != nil {
		return nil, fmt.Errorf("route: read messages: %w", err)
	}
	var docs []messageDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("route: read messages: %w", err)
	}
	msgs := make([]events.Message, len(docs))
	for i, doc := range docs {
		msgs[i] = doc.message()
	}
	return msgs, nil
}

// messageAt returns the message with seq, or nil.
func (d *mongoDirectory) messageAt(ctx context.Context, conversation string, seq int64) (*events.Message, error) {
	var doc messageDoc
	err := d.messages.FindOne(ctx, bson.D{{Key: "_id", Value: messageID(conversation, seq)}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("route: read message: %w", err)
	}
	m := doc.message()
	return &m, nil
}

// LastSeq sorts on the (conversation, seq) index. On FerretDB, when the
// caller's guess sits right below a seq it knows is missing (an
// up-to-date device's sync), a lookup of the guess by _id settles it
// without the query.
func (d *mongoDirectory) LastSeq(ctx context.Context, conversation string, guess, missing int64) (int64, error) {
	if d.ferret && guess > 0 && missing == guess+1 {
		m, err := d.messageAt(ctx, conversation, guess)
		if err != nil || m != nil {
			return guess, err
		}
	}
	var doc struct {
		Seq int64 `bson:"seq"`
	}
	err := d.messages.FindOne(ctx, bson.D{{Key: "conversation", Value: conversation}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("route: read last seq: %w", err)
	}
	return doc.Seq, nil
}
