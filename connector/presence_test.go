package connector

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/presence"
)

func TestPresenceWhileConnectedAndGoneAfter(t *testing.T) {
	e := startConnector(t, nil)
	ctx := context.Background()
	key := presence.Key(e.prefix, "alice", "d1")
	c := e.dial("alice", "d1")

	if got, err := e.rdb.Get(ctx, key).Result(); err != nil || holder(got) != e.srv.ID() {
		t.Fatalf("presence value: got %q (%v), want %q with a stamp", got, err, e.srv.ID())
	}
	ttl := e.rdb.TTL(ctx, key).Val()
	if ttl <= 0 || ttl > presence.TTL {
		t.Errorf("presence TTL: got %v, want in (0, %v]", ttl, presence.TTL)
	}
	c.ws.Close()
	eventually(t, frameWait, "the presence key to go", func() bool { return e.rdb.Exists(ctx, key).Val() == 0 })
	eventually(t, frameWait, "no connections", func() bool { return e.srv.Connections() == 0 })
}

func TestHeartbeatRefreshesAndReclaimsPresence(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.PresenceHeartbeat = 50 * time.Millisecond })
	ctx := context.Background()
	key := presence.Key(e.prefix, "alice", "d1")
	e.dial("alice", "d1")
	// Redis lost the key (a restart without persistence): the heartbeat puts it back.
	e.rdb.Del(ctx, key)
	eventually(t, frameWait, "the heartbeat to claim the key again", func() bool { return holder(e.rdb.Get(ctx, key).Val()) == e.srv.ID() })
}

// refreshes records what the connector asks of Presence.Refresh.
type refreshes struct {
	Presence
	mu    sync.Mutex
	calls [][]Held
}

func (r *refreshes) Refresh(ctx context.Context, held []Held) ([]Held, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(held))
	r.mu.Unlock()
	return r.Presence.Refresh(ctx, held)
}

// since returns the calls after the first skip and the devices they covered.
func (r *refreshes) since(skip int) ([][]Held, map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := slices.Clone(r.calls[min(skip, len(r.calls)):])
	devices := map[string]bool{}
	for _, c := range calls {
		for _, h := range c {
			devices[h.Dev.User] = true
		}
	}
	return calls, devices
}

// TestHeartbeatIsSpreadOverItsInterval: each tick of the wheel refreshes one
// slot's sockets in one call, never all of them at once, and every socket is
// refreshed within a turn.
func TestHeartbeatIsSpreadOverItsInterval(t *testing.T) {
	rdb, prefix := testRedis(t)
	rec := &refreshes{}
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t),
		func(c *Config) { c.PresenceHeartbeat = 100 * time.Millisecond },
		func(s *Server) { rec.Presence, s.deps.Presence = s.deps.Presence, rec })
	const perSlot = 3
	for i := range perSlot * heartbeatSlots {
		e.dial(fmt.Sprint("u", i), "d")
	}
	rec.mu.Lock()
	skip := len(rec.calls)
	rec.mu.Unlock()
	eventually(t, frameWait, "every socket refreshed", func() bool {
		_, devices := rec.since(skip)
		return len(devices) == perSlot*heartbeatSlots
	})
	calls, _ := rec.since(skip)
	if len(calls) < heartbeatSlots {
		t.Errorf("%d refresh calls covered every socket, want one per slot (%d)", len(calls), heartbeatSlots)
	}
	for _, c := range calls {
		if len(c) > perSlot {
			t.Errorf("one refresh call held %d sockets, want at most a slot's %d", len(c), perSlot)
		}
	}
}

func TestSameDeviceAgainReplacesTheOldSocket(t *testing.T) {
	e := startConnector(t, nil)
	old := e.dial("alice", "d1")
	fresh := e.dial("alice", "d1")
	if got, want := old.closeCode(frameWait), protocol.CloseReplaced; got != want {
		t.Errorf("old socket's close code: got %d, want %d", got, want)
	}
	// The old socket's release must not remove the new socket's presence.
	eventually(t, frameWait, "one connection", func() bool { return e.srv.Connections() == 1 })
	key := presence.Key(e.prefix, "alice", "d1")
	if got := e.rdb.Get(context.Background(), key).Val(); holder(got) != e.srv.ID() {
		t.Errorf("presence after the old socket closed: got %q, want %q", got, e.srv.ID())
	}
	fresh.sendFrame(protocol.Frame{Type: protocol.TypePing})
	if f := fresh.next(); f.Type != protocol.TypePong {
		t.Errorf("new socket: got %+v, want pong", f)
	}
}

func TestDeviceConnectingElsewhereClosesTheStaleSocket(t *testing.T) {
	rdb, prefix := testRedis(t)
	is, sk := newIssuer(t), newSink(t)
	fast := func(c *Config) { c.PresenceHeartbeat = 50 * time.Millisecond }
	a := startConnectorOn(t, rdb, prefix, is, sk, fast)
	b := startConnectorOn(t, rdb, prefix, is, sk, fast)
	onA := a.dial("alice", "d1")
	b.dial("alice", "d1")
	if got, want := onA.closeCode(frameWait), protocol.CloseReplaced; got != want {
		t.Errorf("socket on the first connector: close code %d, want %d", got, want)
	}
	key := presence.Key(prefix, "alice", "d1")
	eventually(t, frameWait, "a to let go", func() bool { return a.srv.Connections() == 0 })
	if got := rdb.Get(context.Background(), key).Val(); holder(got) != b.srv.ID() {
		t.Errorf("presence: got %q, want the second connector %q", got, b.srv.ID())
	}
}

// TestResyncAfterRedisRestart restarts an in-process Redis (the shared
// test Redis must not be restarted) under a connected client.
func TestResyncAfterRedisRestart(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	e := startConnectorOn(t, rdb, "test:", newIssuer(t), newSink(t), nil)
	c := e.dial("alice", "d1")

	mr.Close()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if f := c.nextOfTypeWithin(protocol.TypeResync, 2*frameWait); f.Type != protocol.TypeResync {
		t.Fatalf("got %+v, want resync", f)
	}
	// Deliveries flow again on the new subscription.
	e.publish(stored(t, "conv-1", 1, "bob", "b1", "m-1", envelope(16, "d1")), [2]string{"alice", "d1"})
	if f := c.nextOfType(protocol.TypeMessage); f.Seq != 1 {
		t.Errorf("after the restart: got %+v, want message seq 1", f)
	}
}

// holder is the connector a presence record names ("" for a stamp-less
// value: the connector always stamps).
func holder(v string) string {
	c, stamp := presence.ParseRecord(v)
	if stamp == 0 {
		return ""
	}
	return c
}

// refreshAll runs a whole turn of the heartbeat wheel now.
func (s *Server) refreshAll() {
	for slot := range heartbeatSlots {
		s.refreshPresence(slot)
	}
}

// releaseGate holds the first Presence.Release until open closes, and
// counts the calls and the sockets they carry.
type releaseGate struct {
	Presence
	open    chan struct{}
	mu      sync.Mutex
	calls   int
	sockets int
}

func (g *releaseGate) Release(ctx context.Context, held []Held) error {
	g.mu.Lock()
	g.calls++
	g.sockets += len(held)
	first := g.calls == 1
	g.mu.Unlock()
	if first {
		<-g.open
	}
	return g.Presence.Release(ctx, held)
}

// TestReleasesOfManySocketsAreBatched: sockets that close while a release
// is under way are released together in the next round, one call.
func TestReleasesOfManySocketsAreBatched(t *testing.T) {
	rdb, prefix := testRedis(t)
	gate := &releaseGate{open: make(chan struct{})}
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil,
		func(s *Server) { gate.Presence, s.deps.Presence = s.deps.Presence, gate })
	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = e.dial(fmt.Sprint("u", i), "d")
	}
	for _, c := range clients {
		c.ws.Close()
	}
	eventually(t, frameWait, "the other releases queued behind the first", func() bool {
		e.srv.releases.mu.Lock()
		defer e.srv.releases.mu.Unlock()
		return len(e.srv.releases.pending) == n-1
	})
	close(gate.open)
	eventually(t, frameWait, "every record released", func() bool {
		for i := range n {
			if rdb.Exists(context.Background(), presence.Key(prefix, fmt.Sprint("u", i), "d")).Val() != 0 {
				return false
			}
		}
		return true
	})
	gate.mu.Lock()
	defer gate.mu.Unlock()
	if gate.calls != 2 || gate.sockets != n {
		t.Errorf("releases: %d calls for %d sockets, want 2 for %d", gate.calls, gate.sockets, n)
	}
}
