package messages

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// A sender key distribution (IsDistribution) carries one wrapped key per
// member device: ~190 bytes each, ~200 KB in a group of 1,024, of which
// each reader can use one (AllDevices). Stored inline, every sync past it
// would read and decode the whole document for one key. So the Mongo
// store keeps a big distribution's keys out of line, in KeysCollection:
//
//   - the keys go in n = ceil(len(keys)/keysPerBucket) buckets, a key in
//     bucket fnv32a(device) % n, one document per non-empty bucket
//     (keyBucketDoc), each key with its position in the envelope, so that
//     AllDevices reads the envelope back as sent (a v1 signature covers
//     the devices in order);
//   - a bucket's _id is keysAt/bucket, where keysAt is the message's
//     idempotency key and a fingerprint of its envelope (keysAtOf), never
//     its seq: a resend, or an attempt that lost its seq to another
//     message, writes the same buckets again (a duplicate is success), and
//     a resend sealed anew (other wrapped keys) writes other buckets, so
//     the message document that wins always names buckets that hold its
//     own keys;
//   - the buckets are written before the message document (one unordered
//     insert; duplicates ignored, as brokers deliver at least once), which
//     holds the envelope without keys, keysAt and n: a stored message's
//     buckets are all there. The buckets of a message never stored (a
//     refused attempt, the first of a resend sealed anew) stay unread;
//   - a read for a device looks up its one bucket by _id (the one indexed
//     read on FerretDB): ~6 KB instead of ~200 KB.
//
// A distribution of keysPerBucket keys or fewer stays inline (one bucket
// would cost a command more for no smaller read), and so does every other
// envelope. Documents stored before this layout hold every key inline and
// read right: reads filter inline keys the same way.

// keysPerBucket is how many wrapped keys a bucket holds on average: 32
// keys are ~6 KB to read for one device (against ~200 KB for 1,024), and
// a distribution to 1,024 devices is 32 bucket documents in one insert
// command. Smaller buckets make that insert, which FerretDB pays per
// document, dearer for a read already far below the message itself.
const keysPerBucket = 32

// keyBucketDoc is one document of KeysCollection.
type keyBucketDoc struct {
	ID   string         `bson:"_id"` // keysAt/bucket
	Keys []bucketKeyDoc `bson:"keys"`
}

// bucketKeyDoc is a wrapped key (as wrappedKeyDoc) with its position in
// the envelope's keys.
type bucketKeyDoc struct {
	I         int    `bson:"i"`
	Device    string `bson:"device"`
	Ephemeral []byte `bson:"epk"`
	Nonce     []byte `bson:"nonce"`
	Wrapped   []byte `bson:"wk"`
}

// outOfLine reports whether m's keys are stored in buckets.
func outOfLine(m events.Message) bool {
	return IsDistribution(m) && len(m.Envelope.Keys) > keysPerBucket
}

// bucketOf is the bucket of device's key among n.
func bucketOf(device string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(device))
	return int(h.Sum32() % uint32(n))
}

// bucketID is the _id of bucket b of the keys at keysAt.
func bucketID(keysAt string, b int) string { return keysAt + "/" + strconv.Itoa(b) }

// keysAtOf is the _id prefix of m's buckets: conversation, sender device
// and client message id (readable), then 16 hex digits of a SHA-256 over
// the whole idempotency key and the envelope (ciphertext and every
// wrapped key): the same message sealed the same way, and nothing else,
// has the same buckets.
func keysAtOf(m events.Message) string {
	h := sha256.New()
	field := func(b []byte) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(b)))
		_, _ = h.Write(b)
	}
	for _, s := range []string{m.ConversationID, m.SenderID, m.SenderDevice, m.ClientMessageID} {
		field([]byte(s))
	}
	env := m.Envelope
	field(env.Nonce)
	field(env.Ciphertext)
	for _, k := range env.Keys {
		field([]byte(k.Device))
		field(k.Ephemeral)
		field(k.Nonce)
		field(k.Wrapped)
	}
	return m.ConversationID + "/" + m.SenderDevice + "/" + m.ClientMessageID + "/" + hex.EncodeToString(h.Sum(nil)[:8])
}

// splitKeys puts m's keys in buckets: their _id prefix, how many, and the
// documents of the non-empty ones.
func splitKeys(m events.Message) (keysAt string, n int, docs []any) {
	keys := m.Envelope.Keys
	n = (len(keys) + keysPerBucket - 1) / keysPerBucket
	keysAt = keysAtOf(m)
	buckets := make([][]bucketKeyDoc, n)
	for i, k := range keys {
		b := bucketOf(k.Device, n)
		buckets[b] = append(buckets[b], bucketKeyDoc{I: i, Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped})
	}
	for b, ks := range buckets {
		if len(ks) > 0 {
			docs = append(docs, keyBucketDoc{ID: bucketID(keysAt, b), Keys: ks})
		}
	}
	return keysAt, n, docs
}

// insertKeys writes buckets in one unordered insert: every one is tried,
// and one already stored (a retry's, a resend's) is success.
func (s *Mongo) insertKeys(ctx context.Context, buckets []any) error {
	if len(buckets) == 0 {
		return nil
	}
	_, err := s.keys.InsertMany(ctx, buckets, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 &&
		!slices.ContainsFunc(bwe.WriteErrors, func(we mongo.BulkWriteError) bool { return !mongo.IsDuplicateKeyError(we) }) {
		return nil
	}
	return fmt.Errorf("messages: insert keys: %w", err)
}

// keysFor is keys as device reads them (AllDevices): nil when none.
func keysFor(keys []e2ee.WrappedKey, device string) []e2ee.WrappedKey {
	switch device {
	case AllDevices:
		return keys
	case NoDevice:
		return nil
	}
	for _, k := range keys {
		if k.Device == device {
			return []e2ee.WrappedKey{k}
		}
	}
	return nil
}

// withKeys is docs as device reads them: the distributions' keys cut to
// the device's (inline) or read from their buckets (out of line) — on
// MongoDB in one query by $in on _id, on FerretDB by lookups of one _id
// each, lookupWindow at a time.
func (s *Mongo) withKeys(ctx context.Context, docs []messageDoc, device string) ([]events.Message, error) {
	out := make([]events.Message, len(docs))
	var ids []string
	for i, d := range docs {
		out[i] = d.message()
		if !IsDistribution(out[i]) {
			continue
		}
		if d.Envelope.KeysAt == "" {
			out[i].Envelope.Keys = keysFor(out[i].Envelope.Keys, device)
			continue
		}
		switch device {
		case NoDevice:
		case AllDevices:
			for b := range d.Envelope.Buckets {
				ids = append(ids, bucketID(d.Envelope.KeysAt, b))
			}
		default:
			ids = append(ids, bucketID(d.Envelope.KeysAt, bucketOf(device, max(d.Envelope.Buckets, 1))))
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	buckets, err := s.readBuckets(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		if d.Envelope.KeysAt == "" || !IsDistribution(out[i]) {
			continue
		}
		var keys []bucketKeyDoc
		for b := range d.Envelope.Buckets {
			keys = append(keys, buckets[bucketID(d.Envelope.KeysAt, b)]...)
		}
		slices.SortFunc(keys, func(a, b bucketKeyDoc) int { return a.I - b.I })
		var env []e2ee.WrappedKey
		for _, k := range keys {
			if device == AllDevices || k.Device == device {
				env = append(env, e2ee.WrappedKey{Device: k.Device, Ephemeral: k.Ephemeral, Nonce: k.Nonce, Wrapped: k.Wrapped})
			}
		}
		out[i].Envelope.Keys = env
	}
	return out, nil
}

// readBuckets reads the buckets with ids (a missing one is empty: only
// non-empty buckets are written), by _id.
func (s *Mongo) readBuckets(ctx context.Context, ids []string) (map[string][]bucketKeyDoc, error) {
	out := make(map[string][]bucketKeyDoc, len(ids))
	if !s.byID {
		cur, err := s.keys.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return nil, fmt.Errorf("messages: read keys: %w", err)
		}
		var docs []keyBucketDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("messages: read keys: %w", err)
		}
		for _, d := range docs {
			out[d.ID] = d.Keys
		}
		return out, nil
	}
	for start := 0; start < len(ids); start += lookupWindow {
		batch := ids[start:min(start+lookupWindow, len(ids))]
		got := make([][]bucketKeyDoc, len(batch))
		err := concurrently(len(batch), func(i int) error {
			var d keyBucketDoc
			err := s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: batch[i]}}).Decode(&d)
			switch {
			case errors.Is(err, mongo.ErrNoDocuments):
				return nil
			case err != nil:
				return fmt.Errorf("messages: read keys: %w", err)
			}
			got[i] = d.Keys
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, id := range batch {
			out[id] = got[i]
		}
	}
	return out, nil
}
