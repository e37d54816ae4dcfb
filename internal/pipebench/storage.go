package pipebench

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// messageDoc is the document persist stores for a message (docs/data.md):
// a conversation/seq _id, the (conversation, seq) unique index's fields,
// the sender and its idempotency key, and the envelope with its wrapped
// keys as BSON binary. The same shape, written directly: the storage's own
// rate for it is what the pipeline is compared with.
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

// Sizes of a direct message from the load clients: a short text, signed
// and sealed (AES-GCM), its key wrapped for 3 devices (X25519 ephemeral
// key, nonce, a 32-byte key plus its tag).
const (
	ciphertextBytes = 200
	wrappedKeys     = 3
)

func newMessageDoc(conversation string, seq int64) messageDoc {
	b := func(n int) []byte {
		p := make([]byte, n)
		rand.Read(p)
		return p
	}
	keys := make([]wrappedKeyDoc, wrappedKeys)
	for i := range keys {
		keys[i] = wrappedKeyDoc{Device: fmt.Sprintf("dev-%s-%d", conversation, i), Ephemeral: b(32), Nonce: b(12), Wrapped: b(48)}
	}
	return messageDoc{
		ID: conversation + "/" + strconv.FormatInt(seq, 10), Conversation: conversation, Seq: seq,
		Sender: "user-" + conversation, SenderDevice: "dev-" + conversation + "-0",
		ClientMessageID: fmt.Sprintf("m-%s-%d", conversation, seq),
		Envelope:        envelopeDoc{V: 1, Nonce: b(12), Ciphertext: b(ciphertextBytes), Keys: keys},
		StoredAt:        time.Now(),
	}
}

// InsertRate measures the storage's own insert-only rate for message
// documents: writers goroutines, each inserting into its own conversation
// with seqs counting up, total documents in all (after a warm-up of 10 per
// writer), in a database of its own that is dropped at the end. It returns
// documents inserted per second.
func InsertRate(ctx context.Context, uri, database string, writers, total int) (float64, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		return 0, fmt.Errorf("pipebench: storage: connect: %w", err)
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	db := client.Database(database)
	defer db.Drop(context.WithoutCancel(ctx))
	coll := db.Collection("messages")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}},
		Options: options.Index().SetName("conversation_seq").SetUnique(true),
	}); err != nil {
		return 0, fmt.Errorf("pipebench: storage: create index: %w", err)
	}
	const warmup = 10
	insert := func(w, from, n int) error {
		conv := fmt.Sprintf("c%d", w)
		for seq := from; seq < from+n; seq++ {
			if _, err := coll.InsertOne(ctx, newMessageDoc(conv, int64(seq))); err != nil {
				return fmt.Errorf("pipebench: storage: insert %s/%d: %w", conv, seq, err)
			}
		}
		return nil
	}
	all := func(n func(w int) int, from int) error {
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() { errs <- insert(w, from, n(w)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := all(func(int) int { return warmup }, 1); err != nil {
		return 0, err
	}
	per, extra := total/writers, total%writers
	start := time.Now()
	if err := all(func(w int) int {
		if w < extra {
			return per + 1
		}
		return per
	}, warmup+1); err != nil {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}
