package function

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	mongoevent "go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	storedir "github.com/agentchat/agentchat/store/directory"
)

// tripCounter counts round trips to MongoDB (commands) and Redis
// (commands and pipelines).
type tripCounter struct {
	mu           sync.Mutex
	mongo, redis []string
}

func (c *tripCounter) add(list *[]string, name string) {
	c.mu.Lock()
	*list = append(*list, name)
	c.mu.Unlock()
}

func (c *tripCounter) monitor() *options.ClientOptions {
	return options.Client().SetMonitor(&mongoevent.CommandMonitor{Started: func(_ context.Context, e *mongoevent.CommandStartedEvent) {
		switch e.CommandName {
		case "hello", "isMaster", "ping", "endSessions", "buildInfo":
			return
		}
		c.add(&c.mongo, e.CommandName)
	}})
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "ping" && n != "client" {
			c.add(&c.redis, n)
		}
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		if names[0] != "client" && names[0] != "hello" { // connection setup
			c.add(&c.redis, "pipeline("+strings.Join(names, ",")+")")
		}
		return next(ctx, cmds)
	}
}

func (c *tripCounter) take() (mongo, redis []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mongo, redis, c.mongo, c.redis = c.mongo, c.redis, nil, nil
	return mongo, redis
}

func pageBehind(d *mongoDirectory) int {
	if d.ferret {
		return 2 + 101 + 11
	}
	return 6
}

// TestRoundTrips pins what each kind of event costs in round trips.
func TestRoundTrips(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 120, 16)
	// the directory cache off (TTL 0): every event reads what it needs
	f, counter := counted(t, fx, 0)
	src := events.SourceConnectorPrefix + "A"
	syncFrom := func(after int64) func() {
		return func() {
			handle(t, f, must(events.NewSyncRequested(src, "c1", "alice", "a1", events.SyncRequested{After: after})))
		}
	}
	tests := []struct {
		name              string
		run               func()
		wantMongo, wantRd int
	}{
		// nothing from MongoDB (the audience comes with the event); MGET,
		// one pipelined PUBLISH per connector
		{"message.stored", func() {
			handle(t, f, stored(message("c1", 121, "alice", "a1", 16), audienceFor(dev("alice", "a1"), dev("bob", "b1"), dev("bob", "b2"))))
		}, 0, 2},
		{"typing", func() { handle(t, f, must(events.NewTyping(src, "c1", "bob", "b1", events.TypingStarted))) }, 3, 2},
		{"message.rejected", func() {
			handle(t, f, must(events.NewMessageRejected("c1", "alice", "a1", events.MessageRejected{Code: "x", Reason: "y"})))
		}, 0, 2},
		// presence first; members; the device; seq 121 (absent); seq 120 (the last)
		{"sync, up to date", syncFrom(120), 5, 2},
		// members; the device; the page of 100 (+1 to know there is more) by
		// _id; the last seq from 100: 100, 101, 102, 104, 108, 116, 132,
		// then bisecting 124, 120, 122, 121. On MongoDB the page and the
		// last seq are one query each (6).
		{"sync, a page behind", syncFrom(0), pageBehind(f.deps.Load().dir.(*mongoDirectory)), 2},
	}
	for _, tt := range tests {
		tt.run()
		m, r := counter.take()
		t.Logf("%s: MongoDB %d %v; Redis %d %v", tt.name, len(m), m, len(r), r)
		if len(m) != tt.wantMongo || len(r) != tt.wantRd {
			t.Errorf("%s: %d MongoDB and %d Redis round trips, want %d and %d", tt.name, len(m), len(r), tt.wantMongo, tt.wantRd)
		}
	}
}

// TestCommandsPerStoredMessage: in a direct conversation where each stored
// message is acked delivered and read by the other member (persist's
// receipts, which route fans out), route asks MongoDB for nothing once its
// directory cache is warm: the stored message brings its audience, the
// receipts are routed from the cache. (persist's TestCommandsPerMessage
// counts the other side.)
func TestCommandsPerStoredMessage(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1")
	fx.user("bob", "b1")
	fx.conversation("d1", "alice", "bob")
	fx.online("A", dev("alice", "a1"), dev("bob", "b1"))
	// A cache that does not expire during the test: what is counted must
	// not depend on the machine's speed.
	f, counter := counted(t, fx, time.Hour)
	w := fx.watch()
	both := audienceFor(dev("alice", "a1"), dev("bob", "b1"))
	round := func(seq int64) {
		from, to := dev("alice", "a1"), dev("bob", "b1")
		if seq%2 == 0 {
			from, to = to, from
		}
		handle(t, f, stored(message("d1", seq, from.User, from.Device, 16), both))
		for _, typ := range []string{events.TypeReceiptDelivered, events.TypeReceiptRead} {
			r := must(events.New(typ, events.DeriveID("persisted", typ, fmt.Sprint(seq)),
				events.Meta{Source: events.SourcePersist, Conversation: "d1", Sender: to.User, Device: to.Device}, events.Receipt{Seq: seq}))
			handle(t, f, r)
		}
	}
	round(1) // warms the cache
	counter.take()
	const n = 20
	for seq := int64(2); seq < 2+n; seq++ {
		round(seq)
	}
	m, r := counter.take()
	t.Logf("%d stored messages, each acked delivered+read: MongoDB %d %v; Redis %d", n, len(m), m, len(r))
	if len(m) != 0 {
		t.Errorf("%d MongoDB commands for %d stored messages and their receipts, want 0", len(m), n)
	}
	// Everything reached the devices: per message, the stored message to
	// both, and each receipt to the sender.
	if got := len(w.drain()); got != 3*(n+1) {
		t.Errorf("%d deliveries, want %d", got, 3*(n+1))
	}
}

// TestSyncMembersFromTheCache: with the directory cache warm, a member's
// sync reads no membership (in a group of 1,024 it is read whole); a user
// the cache does not have as a member is looked up afresh before the
// refusal.
func TestSyncMembersFromTheCache(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 120, 16)
	f, counter := counted(t, fx, time.Minute)
	w := fx.watch()
	syncReq(t, f, w, "c1", events.SyncRequested{After: 120}) // warms the cache
	counter.take()
	syncReq(t, f, w, "c1", events.SyncRequested{After: 120})
	// the device; seq 121 (absent); seq 120 (the last)
	if m, _ := counter.take(); len(m) != 3 {
		t.Errorf("a member's sync with the cache warm: %d MongoDB round trips %v, want 3", len(m), m)
	}
	// eve is not a member: the cache's answer is checked against the storage
	handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c1", "eve", "e1", events.SyncRequested{RequestID: "sync:9"})))
	if got := w.drain(); len(got) != 1 || !strings.Contains(string(got[0].inner.Data()), protocol.CodeNotMember) {
		t.Errorf("eve's sync: %q, want one not_member refusal", summary(got))
	}
	if m, _ := counter.take(); len(m) < 2 {
		t.Errorf("eve's refusal read %v from MongoDB, want the conversation read afresh", m)
	}
	// ... and leaves the cache to the members: a non-member's syncs (a
	// removed member's client, or anyone naming the conversation) must
	// not make every member's next sync and event read the group again
	syncReq(t, f, w, "c1", events.SyncRequested{After: 120})
	if m, _ := counter.take(); len(m) != 3 {
		t.Errorf("a member's sync after eve's refusal: %d MongoDB round trips %v, want 3 (the cache kept)", len(m), m)
	}
}

// counted is a Function on fx's storage whose MongoDB and Redis round
// trips counter counts, its directory cache kept for ttl (0: off), and the
// MongoDB directory it reads.
func counted(t *testing.T, fx *fixture, ttl time.Duration) (*Function, *tripCounter) {
	t.Helper()
	counter := &tripCounter{}
	ctx := context.Background()
	dir, err := openMongo(ctx, fx.cfg["MONGODB_URI"], fx.cfg["MONGODB_DATABASE"], counter.monitor())
	if err != nil {
		t.Fatal(err)
	}
	hub, err := openRedis(ctx, fx.cfg["REDIS_URL"], fx.prefix)
	if err != nil {
		t.Fatal(err)
	}
	hub.client.AddHook(counter)
	t.Cleanup(func() { _ = dir.Close(ctx); _ = hub.Close() })
	f := New()
	f.deps.Store(&deps{dir: dir, presence: hub, publisher: hub.publisher, audiences: storedir.NewCached(dir.people, ttl),
		closeFn: func(context.Context) error { return nil }})
	return f, counter
}
