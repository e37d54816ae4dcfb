package connector

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func TestPresenceWhileConnectedAndGoneAfter(t *testing.T) {
	e := startConnector(t, nil)
	ctx := context.Background()
	key := events.PresenceKey(e.prefix, "alice", "d1")
	c := e.dial("alice", "d1")

	if got, err := e.rdb.Get(ctx, key).Result(); err != nil || holder(got) != e.srv.ID() {
		t.Fatalf("presence value: got %q (%v), want %q with a stamp", got, err, e.srv.ID())
	}
	ttl := e.rdb.TTL(ctx, key).Val()
	if ttl <= 0 || ttl > events.PresenceTTLSeconds*time.Second {
		t.Errorf("presence TTL: got %v, want in (0, %ds]", ttl, events.PresenceTTLSeconds)
	}
	c.ws.Close()
	eventually(t, frameWait, "the presence key to go", func() bool { return e.rdb.Exists(ctx, key).Val() == 0 })
	eventually(t, frameWait, "no connections", func() bool { return e.srv.Connections() == 0 })
}

func TestHeartbeatRefreshesAndReclaimsPresence(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.PresenceHeartbeat = 50 * time.Millisecond })
	ctx := context.Background()
	key := events.PresenceKey(e.prefix, "alice", "d1")
	e.dial("alice", "d1")
	// Redis lost the key (a restart without persistence): the heartbeat puts it back.
	e.rdb.Del(ctx, key)
	eventually(t, frameWait, "the heartbeat to claim the key again", func() bool { return holder(e.rdb.Get(ctx, key).Val()) == e.srv.ID() })
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
	key := events.PresenceKey(e.prefix, "alice", "d1")
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
	key := events.PresenceKey(prefix, "alice", "d1")
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
	c, stamp := events.ParsePresence(v)
	if stamp == 0 {
		return ""
	}
	return c
}
