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

// holdFirst is an upgraded hook that holds the first socket of a device
// between its upgrade and its accept until release is closed, and records
// every socket's stamp in upgrade order.
type holdFirst struct {
	reached chan struct{} // closed when the first socket is held
	release chan struct{}
	mu      sync.Mutex
	stamps  []uint64
}

func newHoldFirst() *holdFirst {
	return &holdFirst{reached: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdFirst) hook(_ events.DeviceRef, stamp uint64) {
	h.mu.Lock()
	h.stamps = append(h.stamps, stamp)
	first := len(h.stamps) == 1
	h.mu.Unlock()
	if first {
		close(h.reached)
		<-h.release
	}
}

func (h *holdFirst) stamp(i int) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stamps[i]
}

// dialUpgraded dials without reading hello: the socket is upgraded, its
// accept may not have run.
func (e *env) dialUpgraded(user, device string) *client {
	e.t.Helper()
	c, resp, err := e.tryDial(bearer(e.is.token(e.t, user, device, tokenOpts{})), nil)
	if err != nil {
		e.t.Fatalf("dial %s/%s: %v (%v)", user, device, err, resp)
	}
	return c
}

// assertAlive checks that c still answers: a ping gets its pong.
func assertAlive(t *testing.T, c *client, what string) {
	t.Helper()
	c.sendFrame(protocol.Frame{Type: protocol.TypePing, ID: "alive"})
	for {
		f, err := c.read(frameWait)
		if err != nil {
			t.Fatalf("%s: %v, want it open", what, err)
		}
		if f.Type == protocol.TypePong && f.ID == "alive" {
			return
		}
	}
}

// TestNewestSocketWinsWhateverOrderAcceptRuns: socket A of a device is
// upgraded, then socket B of the same device is upgraded and accepted, and
// only then does A's accept run. B is the newer socket and must stay; A is
// closed with 4009. (Before stamps, A took the device and closed B.)
func TestNewestSocketWinsWhateverOrderAcceptRuns(t *testing.T) {
	rdb, prefix := testRedis(t)
	h := newHoldFirst()
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil, func(s *Server) { s.upgraded = h.hook })

	a := e.dialUpgraded("alice", "d1")
	<-h.reached
	b := e.dial("alice", "d1") // upgraded, accepted and claimed while A waits
	close(h.release)

	if got, want := a.closeCode(frameWait), protocol.CloseReplaced; got != want {
		t.Errorf("older socket A, accepted last: close code %d, want %d", got, want)
	}
	assertAlive(t, b, "newer socket B")
	if got := e.srv.Connections(); got != 1 {
		t.Errorf("connections: %d, want 1", got)
	}
	if sa, sb := h.stamp(0), h.stamp(1); sa >= sb {
		t.Fatalf("stamps: A %d, B %d; want A's lower", sa, sb)
	}
	key := presence.Key(prefix, "alice", "d1")
	if got, want := rdb.Get(context.Background(), key).Val(), presence.FormatRecord(e.srv.ID(), h.stamp(1)); got != want {
		t.Errorf("presence record: %q, want B's %q", got, want)
	}
}

// TestNewestSocketWinsAcrossConnectors: the same interleaving with A on
// one connector and B on another. A's claim lands after B's: it must not
// overwrite B's record, A is closed with 4009, and B survives its
// connector's next heartbeat. (Before stamps, A's plain SET won and B's
// heartbeat closed B.)
func TestNewestSocketWinsAcrossConnectors(t *testing.T) {
	rdb, prefix := testRedis(t)
	is, sk := newIssuer(t), newSink(t)
	h := newHoldFirst()
	one := startConnectorWith(t, rdb, prefix, is, sk, nil, func(s *Server) { s.upgraded = h.hook })
	two := startConnectorOn(t, rdb, prefix, is, sk, nil)

	a := one.dialUpgraded("alice", "d1")
	<-h.reached
	b := two.dial("alice", "d1") // its hello follows its claim
	close(h.release)

	if got, want := a.closeCode(frameWait), protocol.CloseReplaced; got != want {
		t.Errorf("older socket A on the first connector: close code %d, want %d", got, want)
	}
	key := presence.Key(prefix, "alice", "d1")
	record := rdb.Get(context.Background(), key).Val()
	if got, _ := presence.ParseRecord(record); got != two.srv.ID() {
		t.Errorf("presence record %q: want the second connector's (%s)", record, two.srv.ID())
	}
	two.srv.refreshAll() // a heartbeat, now
	one.srv.refreshAll()
	assertAlive(t, b, "newer socket B after a heartbeat")
	eventually(t, frameWait, "A to be released", func() bool { return one.srv.Connections() == 0 })
	if got := rdb.Get(context.Background(), key).Val(); got != record {
		t.Errorf("presence record after A's release and the heartbeats: %q, want %q", got, record)
	}
}

// TestLocalStampsGrowAboveSeenOnes: without the store, stamps are made
// here, above every stamp seen, so the later socket still wins.
func TestLocalStampsGrowAboveSeenOnes(t *testing.T) {
	s := &Server{}
	future := uint64(time.Now().Add(time.Hour).UnixMicro())
	s.seenStamp(future)
	a, b := s.localStamp(), s.localStamp()
	if a != future+1 || b != future+2 {
		t.Errorf("local stamps after seeing %d: %d, %d; want %d, %d", future, a, b, future+1, future+2)
	}
	s.seenStamp(5) // an old stamp changes nothing
	if c := s.localStamp(); c != future+3 {
		t.Errorf("after seeing an old stamp: %d, want %d", c, future+3)
	}
}
