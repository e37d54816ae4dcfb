package function

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
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
// FerretDB no such query uses an index (it fetches every message of the
// conversation and sorts them in Go: seconds for a big group), so it reads
// the seqs one by one by _id instead.
func (d *mongoDirectory) MessagesAfter(ctx context.Context, conversation string, after int64, limit int) ([]events.Message, error) {
	if d.ferret {
		return d.messagesByID(ctx, conversation, after, limit)
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

// lookupWindow is how many _id lookups messagesByID makes at once.
const lookupWindow = 16

// messagesByID reads seqs after+1, after+2, ... by _id up to the first that
// does not exist: seqs are gapless and never deleted, and seq k+1 is only
// ever inserted once k exists. The first window is one lookup, so an
// up-to-date device's sync costs one.
func (d *mongoDirectory) messagesByID(ctx context.Context, conversation string, after int64, limit int) ([]events.Message, error) {
	var out []events.Message
	for window := 1; len(out) < limit; window = lookupWindow {
		base := after + int64(len(out)) + 1
		got := make([]*events.Message, min(window, limit-len(out)))
		err := concurrently(len(got), func(i int) (err error) {
			got[i], err = d.messageAt(ctx, conversation, base+int64(i))
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, m := range got {
			if m == nil {
				return out, nil
			}
			out = append(out, *m)
		}
	}
	return out, nil
}

// concurrently runs fn(0), ..., fn(n-1) at once and joins their errors;
// callers keep n at lookupWindow or below.
func concurrently(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
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

// LastSeq sorts on the (conversation, seq) index. On FerretDB, where that
// query fetches the whole conversation, it searches by _id lookups instead
// (lastSeqByID).
func (d *mongoDirectory) LastSeq(ctx context.Context, conversation string, guess, missing int64) (int64, error) {
	if d.ferret {
		return d.lastSeqByID(ctx, conversation, guess, missing)
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

// lastSeqByID finds the newest seq with events.SearchLastSeq and lookups
// by _id, starting from the caller's guess; missing, when > 0, is a seq
// known not to exist. An up-to-date device's guess costs one lookup.
func (d *mongoDirectory) lastSeqByID(ctx context.Context, conversation string, guess, missing int64) (int64, error) {
	has := func(seq int64) (bool, error) {
		err := d.messages.FindOne(ctx, bson.D{{Key: "_id", Value: messageID(conversation, seq)}},
			options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("route: read last seq: %w", err)
		}
		return true, nil
	}
	lo, hi := int64(0), missing
	if guess > 0 && (hi <= 0 || guess < hi) {
		ok, err := has(guess)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = guess
		} else {
			hi = guess
		}
	}
	return events.SearchLastSeq(lo, hi, has)
}

// Cursors reads each member's cursor by _id (conversation/user), lookupWindow
// at a time: on FerretDB a lookup by _id is the one read that uses an
// index, and on MongoDB it is as cheap as any.
func (d *mongoDirectory) Cursors(ctx context.Context, conversation string, members []string) ([]events.Cursor, error) {
	var out []events.Cursor
	for start := 0; start < len(members); start += lookupWindow {
		batch := members[start:min(start+lookupWindow, len(members))]
		got := make([]*events.Cursor, len(batch))
		err := concurrently(len(batch), func(i int) error {
			var doc struct {
				Delivered int64 `bson:"delivered"`
				Read      int64 `bson:"read"`
			}
			err := d.cursors.FindOne(ctx, bson.D{{Key: "_id", Value: conversation + "/" + batch[i]}}).Decode(&doc)
			switch {
			case errors.Is(err, mongo.ErrNoDocuments):
				return nil
			case err != nil:
				return fmt.Errorf("route: read cursor: %w", err)
			}
			got[i] = &events.Cursor{User: batch[i], Delivered: doc.Delivered, Read: doc.Read}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, c := range got {
			if c != nil {
				out = append(out, *c)
			}
		}
	}
	return out, nil
}
