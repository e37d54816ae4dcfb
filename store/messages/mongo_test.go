package messages

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestMongo runs the suite on the test MongoDB (FerretDB on PostgreSQL in
// the test command) in both read modes: by _id (what FerretDB gets) and
// with queries on the (conversation, seq) index (what MongoDB gets).
func TestMongo(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	for _, byID := range []bool{true, false} {
		t.Run(map[bool]string{true: "by id", false: "by query"}[byID], func(t *testing.T) {
			runSuite(t, func(t *testing.T) backend {
				s := openMongo(t, uri)
				s.byID = byID
				return s
			})
		})
	}
}

// openMongo gives the test its own database, with the indexes, dropped at
// the end.
func openMongo(t testing.TB, uri string) *Mongo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db, err := store.OpenMongo(uri, "messages_"+hex.EncodeToString(b), "messages-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.DB.Drop(ctx)
		_ = db.Close(ctx)
	})
	s, err := NewMongo(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMongoDistributionLayout checks what only the MongoDB layout can get
// wrong (keys.go), in both read modes: a big distribution's message
// document holds no key and its buckets are small; a bucket lost from an
// earlier attempt is written by the next; a distribution stored inline
// (before the layout) reads as the contract says.
func TestMongoDistributionLayout(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	ctx := context.Background()
	for _, byID := range []bool{true, false} {
		t.Run(map[bool]string{true: "by id", false: "by query"}[byID], func(t *testing.T) {
			s := openMongo(t, uri)
			s.byID = byID
			// Sizes, with ids as long as accounts' ("dv-" and 24 hex
			// digits): the whole document before, the message and its
			// buckets now.
			sized := distribution(fmt.Sprintf("g-%024x", 1), 2, fmt.Sprintf("u-%024x", 2), fmt.Sprintf("dv-%024x", 3), 7, 1024)
			for i := range sized.Envelope.Keys {
				sized.Envelope.Keys[i].Device = fmt.Sprintf("dv-%024x", i)
			}
			inline, _ := bson.Marshal(legacyDoc(sized))
			doc, _ := toDoc(sized)
			stored, _ := bson.Marshal(doc)
			d := distribution("c1", 2, "alice", "a1", 7, 1024)
			_, buckets := toDoc(d)
			largest := 0
			for _, b := range splitOf(sized) {
				raw, _ := bson.Marshal(b)
				largest = max(largest, len(raw))
			}
			t.Logf("a distribution to 1,024 devices: %d bytes inline; now %d bytes and %d buckets of at most %d bytes",
				len(inline), len(stored), len(buckets), largest)
			if len(stored) > 1024 || largest > 10*1024 || len(buckets) != 1024/keysPerBucket {
				t.Errorf("message %d bytes, %d buckets of up to %d bytes", len(stored), len(buckets), largest)
			}

			// An attempt that lost its seq, with one of its buckets lost.
			if err := s.Insert(ctx, message("c1", 1, "bob", "b1", "m1")); err != nil {
				t.Fatal(err)
			}
			d.Seq = 1
			if err := s.Insert(ctx, d); !errors.Is(err, store.ErrDuplicate) {
				t.Fatalf("err = %v, want ErrDuplicate", err)
			}
			if n, err := s.keys.CountDocuments(ctx, bson.D{}); err != nil || n != int64(len(buckets)) {
				t.Fatalf("%d buckets stored, %v; want %d before the message", n, err, len(buckets))
			}
			lost := buckets[3].(keyBucketDoc).ID
			if _, err := s.keys.DeleteOne(ctx, bson.D{{Key: "_id", Value: lost}}); err != nil {
				t.Fatal(err)
			}
			d.Seq = 2
			if err := s.Insert(ctx, d); err != nil {
				t.Fatal(err)
			}
			if got, err := s.At(ctx, "c1", 2, AllDevices); err != nil || !reflect.DeepEqual(got, d) {
				t.Fatalf("At(all): %d keys, %v; want all %d", len(got.Envelope.Keys), err, len(d.Envelope.Keys))
			}

			// A distribution stored inline reads as any other.
			old := distribution("c1", 3, "carol", "c1", 9, 1024)
			if _, err := s.messages.InsertOne(ctx, legacyDoc(old)); err != nil {
				t.Fatal(err)
			}
			for device, want := range map[string][]e2ee.WrappedKey{
				"dv-0077": old.Envelope.Keys[77:78], NoDevice: nil, "dv-nobody": nil, AllDevices: old.Envelope.Keys,
			} {
				page, err := s.After(ctx, "c1", 2, 10, device)
				if err != nil || len(page) != 1 || !reflect.DeepEqual(page[0].Envelope.Keys, want) {
					t.Fatalf("After(%q) of an inline distribution: %v, %v", device, page, err)
				}
			}
		})
	}
}

// legacyDoc is m's document as stored before distributions' keys went
// out of line: every key inline.
func legacyDoc(m events.Message) messageDoc {
	cmid := m.ClientMessageID
	m.ClientMessageID = "not-a-distribution"
	doc, _ := toDoc(m)
	doc.ClientMessageID = cmid
	return doc
}

// splitOf is the key buckets of m.
func splitOf(m events.Message) []any {
	_, buckets := toDoc(m)
	return buckets
}
