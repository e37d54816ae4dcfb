package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestBroadcast runs one suite against the real Redis, miniredis (the dev
// runner's) and the in-memory twin.
func TestBroadcast(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		b := make([]byte, 4)
		rand.Read(b)
		prefix := "test:directory:" + hex.EncodeToString(b) + ":"
		broadcastSuite(t, func() Broadcast { return NewRedisBroadcast(rdb, prefix) })
		t.Run("SkipsUndecodable", func(t *testing.T) {
			got := subscribe(t, NewRedisBroadcast(rdb, prefix))
			if err := rdb.Publish(context.Background(), BroadcastChannel(prefix), "not json").Err(); err != nil {
				t.Fatal(err)
			}
			publish(t, NewRedisBroadcast(rdb, prefix), Change{User: "u1"})
			fntest.Eventually(t, "the change after the undecodable message", func() bool { return len(got.all()) > 0 })
			if all := got.all(); len(all) != 1 || all[0].User != "u1" {
				t.Errorf("got %+v, want only the change", all)
			}
		})
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		broadcastSuite(t, func() Broadcast { return NewRedisBroadcast(rdb, "test:") })
	})
	t.Run("memory", func(t *testing.T) {
		b := NewMemoryBroadcast()
		broadcastSuite(t, func() Broadcast { return b })
	})
}

// broadcastSuite is the contract; replica returns one replica's view of
// the same broadcast (each call: another process, for Redis).
func broadcastSuite(t *testing.T, replica func() Broadcast) {
	ctx := context.Background()

	t.Run("EveryReplicaGetsEveryChange", func(t *testing.T) {
		a, b := replica(), replica()
		gotA, gotB := subscribe(t, a), subscribe(t, b)
		want := []Change{
			{Conversation: "g1", Kind: Group, Members: []string{"u1", "u2"}, Rev: 3},
			{User: "u2"},
		}
		for _, c := range want {
			publish(t, a, c)
		}
		for name, got := range map[string]*received{"publisher": gotA, "other": gotB} {
			fntest.Eventually(t, name+" receiving both changes", func() bool { return len(got.all()) == 2 })
			if all := got.all(); !slices.EqualFunc(all, want, equalChange) {
				t.Errorf("%s got %+v, want %+v", name, all, want)
			}
		}
	})

	t.Run("StopEndsApplying", func(t *testing.T) {
		a, b := replica(), replica()
		var stopped atomic.Bool
		stop, err := a.Subscribe(ctx, func(c Change) {
			if stopped.Load() {
				t.Errorf("applied %+v after stop returned", c)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		stop()
		stopped.Store(true)
		stop() // twice is harmless
		live := subscribe(t, b)
		publish(t, b, Change{User: "u1"})
		fntest.Eventually(t, "the live subscriber", func() bool { return len(live.all()) == 1 })
	})

	// Two caches over a storage that never changes: only the broadcast
	// can tell B what A applied.
	t.Run("ReplicasFollowEachOther", func(t *testing.T) {
		a, ra, _, _ := newTestCache(t)
		b, rb, _, _ := newTestCache(t)
		for c, bc := range map[*Cached]Broadcast{a: replica(), b: replica()} {
			stop, err := c.Share(ctx, bc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(stop)
		}
		if m, err := b.Members(ctx, "g1"); err != nil || !m.IsMember("u2") {
			t.Fatalf("b: %+v, %v", m, err)
		}
		b.CurrentDevices(ctx, []string{"u1"})
		e, err := events.NewConversationChanged("g1", "u1", "d1", events.ConversationChanged{Kind: Group, Rev: 2, Members: []string{"u1"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
		fntest.Eventually(t, "b dropping the removed member", func() bool {
			m, err := b.Members(ctx, "g1")
			return err == nil && m.Rev == 2 && !m.IsMember("u2")
		})
		if m, _ := a.Members(ctx, "g1"); m.Rev != 2 || ra.members.Load() != 0 {
			t.Errorf("a: %+v after %d reads, want rev 2 from the event alone", m, ra.members.Load())
		}
		if n := rb.members.Load(); n != 1 {
			t.Errorf("b read the members %d times, want 1 (before the change)", n)
		}
		e, err = events.NewDeviceChanged(events.DeviceChanged{User: "u1", Device: "d1", Revoked: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
		fntest.Eventually(t, "b reading u1's devices again", func() bool {
			b.CurrentDevices(ctx, []string{"u1"})
			return rb.devices.Load() >= 2
		})
	})
}

func equalChange(a, b Change) bool {
	return a.Conversation == b.Conversation && a.Kind == b.Kind && slices.Equal(a.Members, b.Members) &&
		a.Rev == b.Rev && a.User == b.User
}

// received collects what one subscriber applied.
type received struct {
	mu sync.Mutex
	cs []Change
}

func (r *received) all() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cs)
}

func subscribe(t *testing.T, b Broadcast) *received {
	t.Helper()
	r := &received{}
	stop, err := b.Subscribe(context.Background(), func(c Change) {
		r.mu.Lock()
		r.cs = append(r.cs, c)
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return r
}

func publish(t *testing.T, b Broadcast, c Change) {
	t.Helper()
	if err := b.Publish(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}
