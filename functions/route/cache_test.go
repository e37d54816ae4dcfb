package function

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

func removeMember(t *testing.T, fx *fixture, conv string, members ...string) {
	t.Helper()
	_, err := fx.db.Collection(collConversations).UpdateOne(context.Background(), bson.M{"_id": conv},
		bson.M{"$set": bson.M{"members": members}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAudienceCacheExpires: without a change event (the member is removed
// behind accounts' back), typing may reach a removed member for at most
// the TTL, the cache's backstop; a stored message never does.
func TestAudienceCacheExpires(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(map[string]string{"MEMBERSHIP_CACHE_TTL": "300ms"})
	typing := func() string {
		handle(t, f, must(events.NewTyping(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.TypingStarted)))
		return summary(w.drain())
	}
	if got := typing(); !strings.Contains(got, "bob/b1") {
		t.Fatalf("typing before the removal: %q, want bob's devices in it", got)
	}
	removed := time.Now()
	removeMember(t, fx, "c1", "alice", "carol", "dave")

	handle(t, f, must(events.NewMessageStored(message("c1", 1, "alice", "a1", 32))))
	if got := summary(w.drain()); strings.Contains(got, "bob/") {
		t.Errorf("a stored message reached a removed member: %q", got)
	}
	// An entry expires the TTL after it was read (cache.go); timing that
	// here would measure the machine's load. It must happen at all: 10 s
	// is a liveness bound far above the TTL.
	for strings.Contains(typing(), "bob/") {
		if time.Since(removed) > 10*time.Second {
			t.Fatal("typing still reaches the removed member after 10 s")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	t.Logf("the removal showed after %v (TTL 300 ms)", time.Since(removed))
}

// TestAudienceCacheReadsOnce: a burst of receipts in one conversation
// reads its audience once.
func TestAudienceCacheReadsOnce(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	f, counter := counted(t, fx, time.Minute)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			e := must(events.NewReceipt(events.TypeReceiptRead, events.SourceConnectorPrefix+"A", "c1", "bob", "b1", int64(i+1)))
			if _, err := f.HandleEvent(ctx, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m, _ := counter.take(); len(m) != 3 {
		t.Errorf("20 receipts made %d MongoDB round trips %v, want 3 (one audience read)", len(m), m)
	}
}

func TestCacheTTLIsCapped(t *testing.T) {
	for _, ttl := range []string{"2m", "-1s", "soon"} {
		_, err := configFrom(map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "MEMBERSHIP_CACHE_TTL": ttl})
		if err == nil || !strings.HasPrefix(err.Error(), "route: config: MEMBERSHIP_CACHE_TTL") {
			t.Errorf("MEMBERSHIP_CACHE_TTL=%s: %v, want an error naming it", ttl, err)
		}
	}
	if _, err := configFrom(map[string]string{"MONGODB_URI": "mongodb://x"}); err == nil || !strings.Contains(err.Error(), "REDIS_URL is required") {
		t.Errorf("without REDIS_URL: %v", err)
	}
	c, err := configFrom(map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x"})
	if err != nil || c.CacheTTL != 10*time.Second || c.RedisPrefix != events.DefaultRedisPrefix {
		t.Errorf("default TTL %v, prefix %q (%v), want 10s (config/README.md) and %q", c.CacheTTL, c.RedisPrefix, err, events.DefaultRedisPrefix)
	}
}

// TestAudienceFollowsChangeEvents: accounts' change events, brought by
// route's directory Trigger, update the cache at once (the TTL is far
// away): a member added is typed to, a member removed is not, a revoked
// device drops out. Each event is what accounts emits after committing.
func TestAudienceFollowsChangeEvents(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(map[string]string{"MEMBERSHIP_CACHE_TTL": "1m"})
	typing := func() string {
		handle(t, f, must(events.NewTyping(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.TypingStarted)))
		return summary(w.drain())
	}
	if got := typing(); !strings.Contains(got, "bob/b1") {
		t.Fatalf("typing before the change: %q, want bob's devices in it", got)
	}
	removeMember(t, fx, "c1", "alice", "carol", "dave")
	if got := typing(); !strings.Contains(got, "bob/b1") {
		t.Fatalf("before the event, a 1 m TTL still routes to bob: %q", got)
	}
	handle(t, f, must(events.NewConversationChanged("c1", "alice", "a1",
		events.ConversationChanged{Kind: "group", Rev: 2, Members: []string{"alice", "carol", "dave"}})))
	w.drain() // the change itself, for the members' devices (TestConversationChangeReachesMembersAndTheRemoved)
	if got := typing(); strings.Contains(got, "bob/") {
		t.Errorf("after conversation.changed, typing still reaches bob: %q", got)
	}
	// a late, older revision changes nothing
	handle(t, f, must(events.NewConversationChanged("c1", "alice", "a1",
		events.ConversationChanged{Kind: "group", Rev: 1, Members: []string{"alice", "bob", "carol", "dave"}})))
	w.drain()
	if got := typing(); strings.Contains(got, "bob/") {
		t.Errorf("an older revision brought bob back: %q", got)
	}
	if got := typing(); !strings.Contains(got, "dave/d2") {
		t.Fatalf("typing: %q, want dave/d2 in it", got)
	}
	fx.revoke("d2")
	handle(t, f, must(events.NewDeviceChanged(events.DeviceChanged{User: "dave", Device: "d2", Revoked: true})))
	if got := typing(); strings.Contains(got, "dave/d2") {
		t.Errorf("after device.changed, typing still reaches the revoked device: %q", got)
	}
}

// TestConversationChangeReachesMembersAndTheRemoved: accounts' change is
// delivered, as it came, to the online current devices of the members at
// the new revision and of the users it removed — nobody else.
func TestConversationChangeReachesMembersAndTheRemoved(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	removeMember(t, fx, "c1", "alice", "carol", "dave")
	e := must(events.NewConversationChanged("c1", "alice", "a1",
		events.ConversationChanged{Kind: "group", Rev: 2, Members: []string{"alice", "carol", "dave"}, Title: "T", Removed: []string{"bob"}}))
	handle(t, f, e)
	got := w.drain()
	// carol is offline, d1 revoked, eve no member
	if want := "A: alice/a1,bob/b1\nB: alice/a2,bob/b2,dave/d2"; summary(got) != want {
		t.Errorf("deliveries:\n%s\nwant:\n%s", summary(got), want)
	}
	for _, p := range got {
		if p.inner.ID() != e.ID() || p.inner.Type() != events.TypeConversationChanged || string(p.inner.Data()) != string(e.Data()) {
			t.Errorf("%s got inner %s %s, want the change event as it came", p.connector, p.inner.Type(), p.inner.ID())
		}
	}
	// a change of a conversation that is new to the cache: its members' devices
	fx.conversation("c2", "eve", "bob")
	handle(t, f, must(events.NewConversationChanged("c2", "eve", "e1",
		events.ConversationChanged{Kind: "direct", Rev: 1, Members: []string{"bob", "eve"}})))
	if got, want := summary(w.drain()), "A: bob/b1,eve/e1\nB: bob/b2"; got != want {
		t.Errorf("deliveries of a new conversation:\n%s\nwant:\n%s", got, want)
	}
	// data that does not decode is refused, and delivered to nobody
	bad := must(events.NewConversationChanged("c2", "eve", "e1",
		events.ConversationChanged{Kind: "direct", Rev: 1, Members: []string{"bob", "eve"}}))
	_ = bad.SetData("application/json", map[string]any{"kind": "direct", "rev": 1, "members": []string{"bob"}, "removed": []string{"bob"}})
	if _, err := f.HandleEvent(context.Background(), bad); fn.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("a change removing a member it keeps: %v, want 400", err)
	}
	if got := summary(w.drain()); got != "" {
		t.Errorf("deliveries of a refused change: %q", got)
	}
}

// TestReplicasShareChangeEvents: a Trigger brings each change event to one
// replica of route. B, never given the event A got, stops typing to the
// removed member once the Redis broadcast reached it — with a 1 m TTL,
// nothing else can explain it.
func TestReplicasShareChangeEvents(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	a := fx.start(map[string]string{"MEMBERSHIP_CACHE_TTL": "1m"})
	b := fx.start(map[string]string{"MEMBERSHIP_CACHE_TTL": "1m"})
	typing := func() string {
		handle(t, b, must(events.NewTyping(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.TypingStarted)))
		return summary(w.drain())
	}
	if got := typing(); !strings.Contains(got, "bob/b1") {
		t.Fatalf("typing before the change: %q, want bob's devices in it", got)
	}
	removeMember(t, fx, "c1", "alice", "carol", "dave")
	handle(t, a, must(events.NewConversationChanged("c1", "alice", "a1",
		events.ConversationChanged{Kind: "group", Rev: 2, Members: []string{"alice", "carol", "dave"}})))
	fntest.Eventually(t, "B's cache at rev 2", func() bool {
		m, err := b.deps.Load().audiences.Members(context.Background(), "c1")
		return err == nil && m.Rev == 2
	})
	if got := typing(); strings.Contains(got, "bob/") {
		t.Errorf("B, after A got conversation.changed: typing still reaches bob: %q", got)
	}
}
