package function

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
)

// TestReceiptBurstReadsMembersOnce: 20 concurrent receipts in one
// conversation read its members once (2 round trips), then 1 each.
func TestReceiptBurstReadsMembersOnce(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	counter := &commandCounter{}
	s, err := openMongo(context.Background(), fx.cfg["MONGODB_URI"], fx.cfg["MONGODB_DATABASE"], counter.monitor())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	f := New()
	f.members = newMembersCache(time.Second)
	f.deps.Store(&deps{store: s})
	f.hints.raise("c1", 100) // seen stored: no seq lookups (TestRoundTrips counts those)
	// The cursor exists already, so every receipt is one $max.
	handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 1))
	counter.take()
	f.members = newMembersCache(time.Second)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := f.Handle(context.Background(), *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", int64(i+2))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := counter.take(); len(got) != 2+20 {
		t.Errorf("20 receipts: %d commands %v, want 22", len(got), got)
	}
}

// TestSentMessagesIgnoreTheCache: a removed member's receipts may count
// for at most the TTL, their messages never.
func TestSentMessagesIgnoreTheCache(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	cfg := fx.cfg
	cfg["MEMBERSHIP_CACHE_TTL"] = "300ms"
	f := New()
	if err := f.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	// Every seq acked below counts as stored: only membership decides here.
	f.hints.raise("c1", 1<<40)
	handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "carol", "c1d", 1)) // caches [alice bob carol]
	removed := time.Now()
	if _, err := fx.db.Collection(collConversations).UpdateOne(context.Background(), bson.M{"_id": "c1"},
		bson.M{"$set": bson.M{"members": []string{"alice", "bob"}}}); err != nil {
		t.Fatal(err)
	}
	rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "c1", "carol", "c1d", "late", envelope(all...))), events.TypeMessageRejected)
	if rej.Code != "not_member" {
		t.Errorf("a removed member's message: %s, want not_member", rej.Code)
	}
	for seq := int64(2); ; seq++ {
		handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "carol", "c1d", seq))
		var c cursorDoc
		if err := fx.db.Collection(collCursors).FindOne(context.Background(), bson.M{"_id": "c1/carol"}).Decode(&c); err != nil {
			t.Fatal(err)
		}
		if c.Read < seq { // ignored: the removal is seen
			break
		}
		// An entry expires the TTL after it was read (cache.go); timing that
		// here would measure the machine's load. It must happen at all: 10 s
		// is a liveness bound far above the TTL.
		if time.Since(removed) > 10*time.Second {
			t.Fatal("a removed member's receipts still count after 10 s")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	t.Logf("the removal showed in receipts after %v (TTL 300 ms)", time.Since(removed))
}

func TestCacheTTLIsCapped(t *testing.T) {
	for _, ttl := range []string{"2s", "-1s", "soon"} {
		if _, err := configFrom(map[string]string{"MONGODB_URI": "mongodb://x", "MEMBERSHIP_CACHE_TTL": ttl}); err == nil {
			t.Errorf("MEMBERSHIP_CACHE_TTL=%s accepted", ttl)
		}
	}
	if c, err := configFrom(map[string]string{"MONGODB_URI": "mongodb://x"}); err != nil || c.CacheTTL != time.Second {
		t.Errorf("default TTL %v (%v), want 1s", c.CacheTTL, err)
	}
}
