package function

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
)

// counted starts a persist instance on the fixture's database whose
// storage commands are counted (store.Mongo.Commands), with a directory
// cache that does not expire during the test, so that what is counted
// does not depend on the machine's speed.
func (fx *fixture) counted() (*Function, *store.Mongo) {
	fx.t.Helper()
	ctx := context.Background()
	db, err := store.OpenMongo(fx.cfg["MONGODB_URI"], fx.cfg["MONGODB_DATABASE"], "persist-test")
	if err != nil {
		fx.t.Fatal(err)
	}
	d, err := newMongoDeps(ctx, db, config{CacheTTL: time.Hour})
	if err != nil {
		fx.t.Fatal(err)
	}
	f := New()
	f.deps.Store(d)
	fx.t.Cleanup(func() { _ = f.Stop(ctx) })
	return f, db
}

// since returns the commands counted since before, by name, and in all.
func since(db *store.Mongo, before map[string]int64) (map[string]int64, int64) {
	out, total := map[string]int64{}, int64(0)
	for name, n := range db.Commands() {
		if d := n - before[name]; d > 0 {
			out[name], total = d, total+d
		}
	}
	return out, total
}

// TestCommandsPerMessage: in a direct conversation where every message is
// acked delivered and read by the other member's device (the two receipts
// arriving together, as a client's acks do), each stored message costs at
// most 2 storage commands with the directory cache warm: the insert, and
// one cursor write shared by the two receipts. (route adds none: its
// TestCommandsPerStoredMessage.)
func TestCommandsPerMessage(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1")
	fx.user("bob", "b1")
	fx.conversation("d1", "alice", "bob")
	f, db := fx.counted()
	// The delivered and read receipts of one message share one write
	// whatever the machine's speed: the first waits until the second has
	// joined (in production it lingers CURSOR_LINGER).
	f.deps.Load().group.LingerUntil(func(ctx context.Context, joined func() int) {
		for deadline := time.Now().Add(10 * time.Second); joined() < 2 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
	})
	round := func(i int) {
		from, to := events.DeviceRef{User: "alice", Device: "a1"}, events.DeviceRef{User: "bob", Device: "b1"}
		if i%2 == 1 {
			from, to = to, from
		}
		m := decodeReply[events.Message](t, handle(t, f, sent(t, "d1", from.User, from.Device, fmt.Sprint("m", i), envelope("a1", "b1"))),
			events.TypeMessageStored)
		var wg sync.WaitGroup
		for _, typ := range []string{events.TypeReceiptDelivered, events.TypeReceiptRead} {
			wg.Go(func() {
				reply, err := tryHandle(f, *receipt(t, typ, "d1", to.User, to.Device, m.Seq))
				if err != nil || reply == nil || reply.Type() != typ {
					t.Errorf("%s of %d: reply %v, err %v", typ, m.Seq, reply, err)
				}
			})
		}
		wg.Wait()
	}
	// Warm up: the directory cache, the seq hint, both members' cursors.
	round(0)
	round(1)
	before := db.Commands()
	const n = 20
	for i := range n {
		round(i + 2)
	}
	byName, total := since(db, before)
	perMessage := float64(total) / n
	t.Logf("%d messages, each acked delivered+read: %d storage commands %v = %.2f per message", n, total, byName, perMessage)
	if perMessage > 2 {
		t.Errorf("%.2f storage commands per stored message, want at most 2", perMessage)
	}
	if byName["insert"] != n {
		t.Errorf("%d inserts for %d messages", byName["insert"], n)
	}
	if got := fx.cursor("d1", "alice"); got.Delivered != n+2 || got.Read != n+2 {
		t.Errorf("alice's cursor %+v, want delivered and read %d (the last message, from bob)", got, n+2)
	}
}

// TestRoundTrips pins how many storage commands each case costs, so that
// a change that adds one shows up here.
func TestRoundTrips(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f, db := fx.counted()
	cold, coldDB := fx.counted()

	first := sent(t, "c1", "alice", "a1", "m1", envelope(all...))
	tests := []struct {
		name string
		f    *Function
		db   *store.Mongo
		run  func(f *Function)
		want int64
	}{
		// members (conversation, next change: none), devices, agents, seq
		// 1's _id (free: c1 is empty), insert
		{"first message, cold cache", f, db, func(f *Function) { handle(t, f, first) }, 6},
		// the insert after the seq this instance stored
		{"next message", f, db, func(f *Function) { handle(t, f, sent(t, "c1", "bob", "b1", "m2", envelope(all...))) }, 1},
		// the remembered seq's message by _id
		{"resend", f, db, func(f *Function) { handle(t, f, first) }, 1},
		// directory (4), then the last seq searched by _id: 1, 3, 2
		{"cold instance", cold, coldDB, func(f *Function) { handle(t, f, sent(t, "c1", "bob", "b1", "m5", envelope(all...))) }, 8},
		// a resend another instance stored: the insert refused, the seq's
		// holder (none), the message by its key (a scan on FerretDB)
		{"resend, not remembered", cold, coldDB, func(f *Function) { handle(t, f, first) }, 3},
		// another instance stored since: the insert refused, the holder
		// of the seq, the insert at the next seq
		{"stale seq hint", f, db, func(f *Function) { handle(t, f, sent(t, "c1", "carol", "c1d", "m6", envelope(all...))) }, 3},
		// refused on a fresh read: members (2), devices, then the message
		// by its key (not a resend)
		{"rejected: missing keys", f, db, func(f *Function) { handle(t, f, sent(t, "c1", "bob", "b1", "m3", envelope("b1"))) }, 4},
		// no such conversation, read twice (cached, then fresh)
		{"rejected: not a member", f, db, func(f *Function) { handle(t, f, sent(t, "c9", "bob", "b1", "m4", envelope("b1"))) }, 2},
		// update (no cursor yet), insert
		{"first receipt of a member", f, db, func(f *Function) {
			handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 1))
		}, 2},
		{"receipt", f, db, func(f *Function) { handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 2)) }, 1},
		// behind what this instance wrote: nothing to write
		{"stale receipt", f, db, func(f *Function) { handle(t, f, *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", 1)) }, 0},
		{"stale seq hint, other instance", cold, coldDB, func(f *Function) {
			handle(t, f, sent(t, "c1", "carol", "c1d", "m7", envelope(all...)))
		}, 3},
		// the seq by _id (this instance never saw seq 5 stored), $max
		{"receipt for a seq stored elsewhere", f, db, func(f *Function) {
			handle(t, f, *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", 5))
		}, 2},
		// the seq by _id (absent): refused, nothing written
		{"receipt beyond the last seq", f, db, func(f *Function) {
			handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 99))
		}, 1},
	}
	for _, tt := range tests {
		before := tt.db.Commands()
		tt.run(tt.f)
		byName, got := since(tt.db, before)
		t.Logf("%s: %d commands %v", tt.name, got, byName)
		if got != tt.want {
			t.Errorf("%s: %d commands %v, want %d", tt.name, got, slices.Sorted(maps.Keys(byName)), tt.want)
		}
	}
}
