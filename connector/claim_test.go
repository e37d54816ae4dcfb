package connector

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/presence"
)

// holdClaim is a Presence whose Claim waits until release is closed, after
// reached is closed; claimed is closed when the held Claim has returned.
type holdClaim struct {
	Presence
	reached, release, claimed chan struct{}
}

func (h *holdClaim) Claim(ctx context.Context, dev events.DeviceRef, stamp uint64) (bool, error) {
	close(h.reached)
	<-h.release
	defer close(h.claimed)
	return h.Presence.Claim(context.Background(), dev, stamp)
}

// A socket torn down while its accept waits for the presence claim leaves
// nothing behind: no presence record (the late claim is released again),
// no poller registration, no re-arming.
func TestSocketClosedDuringClaimLeavesNothing(t *testing.T) {
	rdb, prefix := testRedis(t)
	h := &holdClaim{reached: make(chan struct{}), release: make(chan struct{}), claimed: make(chan struct{})}
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil, func(s *Server) {
		h.Presence = s.deps.Presence
		s.deps.Presence = h
	})
	dev := events.DeviceRef{User: "alice", Device: "d1"}
	e.dialUpgraded("alice", "d1")
	select {
	case <-h.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the claim was never made")
	}
	c := e.srv.lookup(dev) // registered before the claim
	if c == nil {
		t.Fatal("the socket is not registered during its claim")
	}
	c.shutdown(protocol.CloseGoingAway, "test", false)
	eventually(t, 10*time.Second, "the socket to be torn down", func() bool { return c.gone() && e.srv.lookup(dev) == nil })
	if c.fd >= 0 {
		// A reader finishing after the teardown leaves the (closed,
		// maybe reused) file descriptor alone.
		if err := c.arm(); err != nil {
			t.Errorf("arm after teardown: %v", err)
		}
	}
	close(h.release)
	<-h.claimed
	key := presence.Key(prefix, "alice", "d1")
	eventually(t, 10*time.Second, "the late claim's record to be released", func() bool {
		return rdb.Exists(context.Background(), key).Val() == 0
	})
	if p := e.srv.poll; p != nil {
		eventually(t, 10*time.Second, "the poller to forget the socket", func() bool { return !p.watching(c.serial) })
	}
}

// holdRefresh is a Presence whose first Refresh of a socket waits, after
// its snapshot was taken, until release is closed; refreshed is closed
// when that Refresh has returned.
type holdRefresh struct {
	Presence
	once                        sync.Once
	reached, release, refreshed chan struct{}
}

func (h *holdRefresh) Refresh(ctx context.Context, held []Held) ([]Held, error) {
	first := false
	h.once.Do(func() { first = true })
	if !first {
		return h.Presence.Refresh(ctx, held)
	}
	close(h.reached)
	<-h.release
	defer close(h.refreshed)
	return h.Presence.Refresh(context.Background(), held)
}

// A heartbeat that snapshot a socket released before its refresh landed
// does not leave the device's record behind (the refresh writes back a
// record it finds gone).
func TestHeartbeatDoesNotRevivePresenceOfAReleasedSocket(t *testing.T) {
	rdb, prefix := testRedis(t)
	h := &holdRefresh{reached: make(chan struct{}), release: make(chan struct{}), refreshed: make(chan struct{})}
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), func(c *Config) {
		c.PresenceHeartbeat = 20 * time.Millisecond
	}, func(s *Server) {
		h.Presence = s.deps.Presence
		s.deps.Presence = h
	})
	dev := events.DeviceRef{User: "alice", Device: "d1"}
	e.dial("alice", "d1")
	select {
	case <-h.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat")
	}
	c := e.srv.lookup(dev)
	c.shutdown(protocol.CloseGoingAway, "test", false)
	key := presence.Key(prefix, "alice", "d1")
	eventually(t, 10*time.Second, "the socket's release", func() bool {
		return e.srv.lookup(dev) == nil && rdb.Exists(context.Background(), key).Val() == 0
	})
	close(h.release)
	<-h.refreshed
	eventually(t, 10*time.Second, "the record the refresh wrote back to go", func() bool {
		return rdb.Exists(context.Background(), key).Val() == 0
	})
}
