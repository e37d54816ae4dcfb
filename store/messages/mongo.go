package messages

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
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
)

// Collection names (docs/data.md). persist is their only writer.
const (
	MessagesCollection = "messages"
	CursorsCollection  = "cursors"
	// KeysCollection holds the wrapped keys of the distributions stored
	// out of line (keys.go), in buckets read by _id.
	KeysCollection = "message_keys"
)

// Mongo is Store and Cursors on MongoDB, or on FerretDB, which speaks its
// wire protocol without transactions or atomic concurrent updates.
type Mongo struct {
	messages *mongo.Collection
	cursors  *mongo.Collection
	keys     *mongo.Collection
	// byID reads pages and the last seq with lookups by _id instead of a
	// sorted query on the (conversation, seq) index. Set on FerretDB,
	// where only a lookup by _id uses an index: a sorted query fetches
	// every message of the conversation and sorts them in Go (seconds for
	// a big group).
	byID bool
}

var (
	_ Store   = (*Mongo)(nil)
	_ Cursors = (*Mongo)(nil)
)

// NewMongo uses db's messages and cursors collections. It asks the server
// what it is (one buildInfo) to pick how to read pages.
func NewMongo(ctx context.Context, db *store.Mongo) (*Mongo, error) { return NewMongoDB(ctx, db.DB) }

// NewMongoDB is NewMongo for a process that opened its database itself.
func NewMongoDB(ctx context.Context, db *mongo.Database) (*Mongo, error) {
	info, err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return nil, fmt.Errorf("messages: buildInfo: %w", err)
	}
	_, notFerret := info.LookupErr("ferretdbVersion")
	return &Mongo{
		messages: db.Collection(MessagesCollection),
		cursors:  db.Collection(CursorsCollection),
		keys:     db.Collection(KeysCollection),
		byID:     notFerret == nil,
	}, nil
}

// Indexes are the unique indexes seq allocation and idempotency rest on
// (the _id conversation/seq is a third guard of the seq).
var Indexes = []mongo.IndexModel{
	{ // gapless seq: two messages can never share a seq
		Keys:    bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}},
		Options: options.Index().SetName("conversation_seq").SetUnique(true),
	},
	{ // idempotency: a resend is the same message
		Keys: bson.D{{Key: "conversation", Value: 1}, {Key: "sender", Value: 1},
			{Key: "senderDevice", Value: 1}, {Key: "clientMessageId", Value: 1}},
		Options: options.Index().SetName("conversation_sender_device_clientmessageid").SetUnique(true),
	},
}

// EnsureIndexes creates the missing ones of Indexes. The writer (persist)
// calls it once at start, before its first Insert.
func (s *Mongo) EnsureIndexes(ctx context.Context) error {
	if err := store.EnsureIndexes(ctx, s.messages, Indexes); err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	return nil
}

// messageDoc is one document of the messages collection (docs/data.md).
type messageDoc struct {
	ID              string      `bson:"_id"` // conversation/seq
	Conversation    string      `bson:"conversation"`
	Seq             int64       `bson:"seq"`
	Sender          string      `bson:"sender"`
	SenderDevice    string      `bson:"senderDevice"`
	ClientMessageID string      `bson:"clientMessageId"`
	Envelope        envelopeDoc `bson:"envelope"`
	StoredAt        time.Time   `bson:"storedAt"`
	// System is a membership entry's change (no envelope then).
	System *systemDoc `bson:"system,omitempty"`
}

// systemDoc stores a protocol.MemberChange.
type systemDoc struct {
	Op       string `bson:"op"`
	User     string `bson:"user"`
	By       string `bson:"by"`
	Rev      int64  `bson:"rev"`
	Promoted string `bson:"promoted,omitempty"`
}

// envelopeDoc stores an e2ee.Envelope with its byte fields as BSON binary,
// under the same short names as its JSON form.
type envelopeDoc struct {
	V          int             `bson:"v"`
	Nonce      []byte          `bson:"nonce"`
	Ciphertext []byte          `bson:"ct"`
	Epoch      uint32          `bson:"epoch,omitempty"` // v2 only
	Index      uint32          `bson:"index,omitempty"` // v2 only
	Keys       []wrappedKeyDoc `bson:"keys"`
	Sig        []byte          `bson:"sig,omitempty"` // absent from unsigned envelopes, which must read back unsigned
	// A distribution whose keys are out of line (keys.go) has no keys
	// here but the _id prefix of its buckets in KeysCollection and how
	// many there are. Documents stored before had every key inline,
	// and still read right.
	KeysAt  string `bson:"keysAt,omitempty"`
	Buckets int    `bson:"buckets,omitempty"`
}

type wrappedKeyDoc struct {
	Device    string `bson:"device"`
	Ephemeral []byte `bson:"epk"`
	Nonce     []byte `bson:"nonce"`
	Wrapped   []byte `bson:"wk"`
}

// docID is a message's _id.
func docID(conversation string, seq int64) string {
	return conversation + "/" + strconv.FormatInt(seq, 10)
}

// toDoc is m's document and, for a distribution stored out of line, the
// key buckets to write before it (keys.go).
func toDoc(m events.Message) (messageDoc, []any) {
	var env envelopeDoc
	var buckets []any
	if outOfLine(m) {
		env = envelopeDoc{V: m.Envelope.V, Nonce: m.Envelope.Nonce, Ciphertext: m.Envelope.Ciphertext,
			Keys: []wrappedKeyDoc{}, Sig: m.Envelope.Sig}
		env.KeysAt, env.Buckets, buckets = splitKeys(m)
	} else if m.Envelope != nil {
		env = envelopeDoc{V: m.Envelope.V, Nonce: m.Envelope.Nonce, Ciphertext: m.Envelope.Ciphertext,
			Epoch: m.Envelope.Epoch, Index: m.Envelope.Index,
			Keys: make([]wrappedKeyDoc, len(m.Envelope.Keys)), Sig: m.Envelope.Sig}
		for i, k := range m.Envelope.Keys {
			env.Keys[i] = wrappedKeyDoc{Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped}
		}
	}
	d := messageDoc{
		ID: docID(m.ConversationID, m.Seq), Conversation: m.ConversationID, Seq: m.Seq,
		Sender: m.SenderID, SenderDevice: m.SenderDevice, ClientMessageID: m.ClientMessageID,
		Envelope: env, StoredAt: m.StoredAt,
	}
	if c := m.System; c != nil {
		d.System = &systemDoc{Op: c.Op, User: c.User, By: c.By, Rev: c.Rev, Promoted: c.Promoted}
	}
	return d, buckets
}

// message is d as stored: a distribution out of line without its keys
// (withKeys adds them).
func (d messageDoc) message() events.Message {
	if c := d.System; c != nil {
		return events.Message{
			ConversationID: d.Conversation, Seq: d.Seq, SenderID: d.Sender, SenderDevice: d.SenderDevice,
			ClientMessageID: d.ClientMessageID, StoredAt: d.StoredAt.UTC(),
			System: &protocol.MemberChange{Op: c.Op, User: c.User, By: c.By, Rev: c.Rev, Promoted: c.Promoted},
		}
	}
	env := &e2ee.Envelope{V: d.Envelope.V, Nonce: d.Envelope.Nonce, Ciphertext: d.Envelope.Ciphertext,
		Epoch: d.Envelope.Epoch, Index: d.Envelope.Index,
		Sig: d.Envelope.Sig}
	if len(d.Envelope.Keys) > 0 { // a group message (v2) may carry none: nil, as sent
		env.Keys = make([]e2ee.WrappedKey, len(d.Envelope.Keys))
	}
	for i, k := range d.Envelope.Keys {
		env.Keys[i] = e2ee.WrappedKey{Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped}
	}
	return events.Message{
		ConversationID: d.Conversation, Seq: d.Seq, SenderID: d.Sender, SenderDevice: d.SenderDevice,
		ClientMessageID: d.ClientMessageID, Envelope: env, StoredAt: d.StoredAt.UTC(),
	}
}

// Insert is one insert; a unique index's refusal is store.ErrDuplicate.
// A distribution's key buckets are written first (insertKeys).
func (s *Mongo) Insert(ctx context.Context, m events.Message) error {
	doc, buckets := toDoc(m)
	if err := s.insertKeys(ctx, buckets); err != nil {
		return err
	}
	_, err := s.messages.InsertOne(ctx, doc)
	switch {
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("messages: insert %s: %w", docID(m.ConversationID, m.Seq), store.ErrDuplicate)
	case err != nil:
		return fmt.Errorf("messages: insert: %w", err)
	}
	return nil
}

// InsertMany is one ordered insert command (the driver splits one that
// outgrows a command's size, keeping the order): the server stops at the
// first document refused, so what is stored is a prefix, and the first
// write error's index says how long. The key buckets of every
// distribution in ms are written first, in one more command (insertKeys):
// those of a message the insert then refuses stay, for its next attempt.
func (s *Mongo) InsertMany(ctx context.Context, ms []events.Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	docs := make([]any, len(ms))
	var buckets []any
	for i, m := range ms {
		doc, bs := toDoc(m)
		docs[i], buckets = doc, append(buckets, bs...)
	}
	if err := s.insertKeys(ctx, buckets); err != nil {
		return 0, err
	}
	_, err := s.messages.InsertMany(ctx, docs)
	if err == nil {
		return len(ms), nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		n := bwe.WriteErrors[0].Index
		if n >= 0 && n < len(ms) {
			if mongo.IsDuplicateKeyError(bwe.WriteErrors[0]) {
				return n, fmt.Errorf("messages: insert %s: %w", docID(ms[n].ConversationID, ms[n].Seq), store.ErrDuplicate)
			}
			return n, fmt.Errorf("messages: insert %s: %w", docID(ms[n].ConversationID, ms[n].Seq), err)
		}
	}
	return 0, fmt.Errorf("messages: insert: %w", err)
}

// At is one lookup by _id, and one more of the device's key bucket for a
// distribution stored out of line (all of its buckets for AllDevices).
func (s *Mongo) At(ctx context.Context, conversation string, seq int64, device string) (events.Message, error) {
	var doc messageDoc
	err := s.messages.FindOne(ctx, bson.D{{Key: "_id", Value: docID(conversation, seq)}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return events.Message{}, store.ErrNotFound
	case err != nil:
		return events.Message{}, fmt.Errorf("messages: read message: %w", err)
	}
	ms, err := s.withKeys(ctx, []messageDoc{doc}, device)
	if err != nil {
		return events.Message{}, err
	}
	return ms[0], nil
}

// Has is one lookup by _id that returns only the _id.
func (s *Mongo) Has(ctx context.Context, conversation string, seq int64) (bool, error) {
	err := s.messages.FindOne(ctx, bson.D{{Key: "_id", Value: docID(conversation, seq)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("messages: probe seq: %w", err)
	}
	return true, nil
}

// ByKey is one query on the idempotency index (a scan on FerretDB), then
// reads keys as At does.
func (s *Mongo) ByKey(ctx context.Context, k Key, device string) (events.Message, error) {
	var doc messageDoc
	err := s.messages.FindOne(ctx, bson.D{
		{Key: "conversation", Value: k.Conversation}, {Key: "sender", Value: k.Sender},
		{Key: "senderDevice", Value: k.SenderDevice}, {Key: "clientMessageId", Value: k.ClientMessageID},
	}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return events.Message{}, store.ErrNotFound
	case err != nil:
		return events.Message{}, fmt.Errorf("messages: find message by key: %w", err)
	}
	ms, err := s.withKeys(ctx, []messageDoc{doc}, device)
	if err != nil {
		return events.Message{}, err
	}
	return ms[0], nil
}

// After is one query on the (conversation, seq) index on MongoDB; on
// FerretDB it reads seqs after+1, after+2, ... by _id, lookupWindow at a
// time, up to the first that does not exist (the first window is one
// lookup, so an up-to-date reader pays one). The page's distributions
// stored out of line cost one more query on MongoDB (their buckets by
// $in on _id), one more lookup each on FerretDB (in At, concurrent).
func (s *Mongo) After(ctx context.Context, conversation string, after int64, limit int, device string) ([]events.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	if s.byID {
		return s.afterByID(ctx, conversation, after, limit, device)
	}
	cur, err := s.messages.Find(ctx,
		bson.D{{Key: "conversation", Value: conversation}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: after}}}},
		// A negative limit asks for one batch and no cursor left open (no
		// getMore round trip); a batch stops at 16 MiB, far above a page.
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(-int64(limit)).SetBatchSize(int32(limit)))
	if err != nil {
		return nil, fmt.Errorf("messages: read page: %w", err)
	}
	var docs []messageDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("messages: read page: %w", err)
	}
	return s.withKeys(ctx, docs, device)
}

// lookupWindow is how many lookups by _id afterByID and Get make at once.
const lookupWindow = 16

func (s *Mongo) afterByID(ctx context.Context, conversation string, after int64, limit int, device string) ([]events.Message, error) {
	var out []events.Message
	for window := 1; len(out) < limit; window = lookupWindow {
		base := after + int64(len(out)) + 1
		got := make([]*events.Message, min(window, limit-len(out)))
		err := concurrently(len(got), func(i int) error {
			m, err := s.At(ctx, conversation, base+int64(i), device)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return nil
			case err != nil:
				return err
			}
			got[i] = &m
			return nil
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

// LastSeq is one sorted query on the (conversation, seq) index on
// MongoDB; on FerretDB a search by _id (SearchLastSeq) from guess.
func (s *Mongo) LastSeq(ctx context.Context, conversation string, guess, missing int64) (int64, error) {
	if s.byID {
		return s.lastSeqByID(ctx, conversation, guess, missing)
	}
	var doc struct {
		Seq int64 `bson:"seq"`
	}
	err := s.messages.FindOne(ctx, bson.D{{Key: "conversation", Value: conversation}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("messages: read last seq: %w", err)
	}
	return doc.Seq, nil
}

func (s *Mongo) lastSeqByID(ctx context.Context, conversation string, guess, missing int64) (int64, error) {
	has := func(seq int64) (bool, error) { return s.Has(ctx, conversation, seq) }
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
	return SearchLastSeq(lo, hi, has)
}

// cursorDoc is one document of the cursors collection.
type cursorDoc struct {
	ID           string `bson:"_id"` // conversation/user
	Conversation string `bson:"conversation"`
	User         string `bson:"user"`
	Delivered    int64  `bson:"delivered"`
	Read         int64  `bson:"read"`
}

// Advance raises the cursor with $max, filtered by _id alone, and inserts
// it when it does not exist yet.
//
// Why this shape: $max never lowers a value and is atomic per document on
// MongoDB. A filter on _id alone is the one FerretDB answers without
// scanning the collection (a conditional filter such as {delivered: {$lt:
// seq}} would scan every cursor). An upsert is avoided because FerretDB
// does not report a duplicate key raised by an update as E11000, while a
// plain insert guarded by _id does. Commands: 1, or 2–3 for a member's
// first receipt.
func (s *Mongo) Advance(ctx context.Context, conversation, user string, delivered, read int64) error {
	delivered = max(delivered, read) // what was shown was received
	if delivered <= 0 {
		return nil
	}
	id := conversation + "/" + user
	raise := bson.D{{Key: "delivered", Value: delivered}}
	if read > 0 {
		raise = append(raise, bson.E{Key: "read", Value: read})
	}
	for range 2 {
		res, err := s.cursors.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$max", Value: raise}})
		if err != nil {
			return fmt.Errorf("messages: update cursor: %w", err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		_, err = s.cursors.InsertOne(ctx, cursorDoc{ID: id, Conversation: conversation, User: user,
			Delivered: delivered, Read: max(read, 0)})
		switch {
		case err == nil:
			return nil
		case !mongo.IsDuplicateKeyError(err):
			return fmt.Errorf("messages: insert cursor: %w", err)
		}
		// Another receipt created it meanwhile, maybe lower: raise it.
	}
	return nil
}

// Get reads each user's cursor by _id, lookupWindow at a time: on
// FerretDB a lookup by _id is the one read that uses an index, and on
// MongoDB it is as cheap as any.
func (s *Mongo) Get(ctx context.Context, conversation string, users []string) ([]events.Cursor, error) {
	var out []events.Cursor
	for start := 0; start < len(users); start += lookupWindow {
		batch := users[start:min(start+lookupWindow, len(users))]
		got := make([]*events.Cursor, len(batch))
		err := concurrently(len(batch), func(i int) error {
			var doc cursorDoc
			err := s.cursors.FindOne(ctx, bson.D{{Key: "_id", Value: conversation + "/" + batch[i]}}).Decode(&doc)
			switch {
			case errors.Is(err, mongo.ErrNoDocuments):
				return nil
			case err != nil:
				return fmt.Errorf("messages: read cursor: %w", err)
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
