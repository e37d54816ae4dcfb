package connector

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/seen"
)

// presenceEvents renders the presence.changed events the sink has, in
// order: "user:cause".
func presenceEvents(t *testing.T, sk *sink) string {
	t.Helper()
	var out []string
	for _, e := range sk.received() {
		if e.Type() != events.TypePresenceChanged {
			continue
		}
		d, err := events.Decode[events.PresenceChanged](e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(e.Extensions()[events.ExtSenderID], ":", d.Cause))
	}
	return strings.Join(out, " ")
}

// startWithSeen runs a connector that keeps users' presence in the test
// Redis, with a short grace.
func startWithSeen(t *testing.T, grace time.Duration) (*env, *seen.Redis) {
	t.Helper()
	rdb, prefix := testRedis(t)
	st := seen.NewRedis(rdb, prefix, 0)
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t),
		func(c *Config) { c.PresenceGrace = grace },
		func(s *Server) { s.deps.Seen = st })
	return e, st
}

// departuresDone reports whether no departure waits out its grace.
func (s *Server) departuresDone() bool {
	s.seenQ.mu.Lock()
	defer s.seenQ.mu.Unlock()
	return len(s.seenQ.pending) == 0
}

// TestPresenceTransitionsOnly: a user's first socket announces them
// online, their last one offline once its departure is written; sockets
// in between, and a socket that comes back before its departure is
// written (a flap within the grace), are no event at all. The grace is
// the longest there is and departures are written by hand
// (flushDepartures, what Close does), so the order does not depend on
// the machine's speed; TestPresenceGraceEnds runs the timer.
func TestPresenceTransitionsOnly(t *testing.T) {
	e, st := startWithSeen(t, time.Hour) // clamped to seen.TTL/3
	ctx := context.Background()
	d1 := e.dial("alice", "d1")
	eventually(t, frameWait, "alice online", func() bool { return presenceEvents(t, e.sink) == "alice:online" })
	// A socket is recorded after its hello, off the accept path: wait for
	// the record (its stamp) before anything is written after it.
	arrived := func() time.Time {
		s, _ := st.States(ctx, []string{"alice"})
		return s["alice"].Arrived["d2"]
	}
	d2 := e.dial("alice", "d2")
	eventually(t, frameWait, "d2's socket recorded", func() bool { return !arrived().IsZero() })
	first := arrived()
	d1.ws.Close()
	// A flap: d2 leaves and is back within the grace.
	d2.ws.Close()
	eventually(t, frameWait, "both sockets released", func() bool { return e.srv.Connections() == 0 })
	d2 = e.dial("alice", "d2")
	eventually(t, frameWait, "d2's new socket recorded", func() bool { return arrived().After(first) })
	e.srv.flushDepartures()
	if got := presenceEvents(t, e.sink); got != "alice:online" {
		t.Errorf("after a second device and a flap: %q, want only alice:online", got)
	}
	if s, _ := st.States(ctx, []string{"alice"}); !s["alice"].Online || fmt.Sprint(s["alice"].Devices) != "[d2]" {
		t.Errorf("state after the flap: %+v, want online on d2", s["alice"])
	}
	left := time.Now()
	d2.ws.Close()
	eventually(t, frameWait, "the socket released", func() bool { return e.srv.Connections() == 0 })
	e.srv.flushDepartures()
	if got := presenceEvents(t, e.sink); got != "alice:online alice:offline" {
		t.Errorf("after the last socket left: %q", got)
	}
	s, _ := st.States(ctx, []string{"alice"})
	if s["alice"].Online || s["alice"].LastSeen.Before(left.Add(-time.Second)) || s["alice"].LastSeen.After(time.Now()) {
		t.Errorf("state after leaving at %v: %+v", left, s["alice"])
	}
	// The announcement is about the device that left, from this connector.
	last := e.sink.received()
	a := last[len(last)-1]
	if a.Extensions()[events.ExtDeviceID] != "d2" || a.Source() != events.SourceConnectorPrefix+e.srv.ID() {
		t.Errorf("offline announced by %v from %s", a.Extensions()[events.ExtDeviceID], a.Source())
	}
}

// TestPresenceGraceEnds: left alone, a departure is written when its
// grace ends, and the user announced offline.
func TestPresenceGraceEnds(t *testing.T) {
	e, _ := startWithSeen(t, 200*time.Millisecond)
	c := e.dial("bob", "b1")
	eventually(t, frameWait, "bob online", func() bool { return presenceEvents(t, e.sink) == "bob:online" })
	c.ws.Close()
	eventually(t, frameWait, "bob offline after the grace", func() bool { return presenceEvents(t, e.sink) == "bob:online bob:offline" })
}

// TestPresenceRequestAndFrames: a presence frame becomes a
// presence.requested about the device (its id kept), and route's
// presence.state comes out as presence frames: one user's, or a snapshot.
func TestPresenceRequestAndFrames(t *testing.T) {
	e, _ := startWithSeen(t, time.Second)
	c := e.dial("bob", "b1")
	c.sendFrame(protocol.Frame{Type: protocol.TypePresence, ID: "p-1"})
	var req events.PresenceRequested
	eventually(t, frameWait, "presence.requested", func() bool {
		for _, ev := range e.sink.received() {
			if ev.Type() == events.TypePresenceRequested && ev.Extensions()[events.ExtSenderID] == "bob" {
				req, _ = events.Decode[events.PresenceRequested](ev)
				return true
			}
		}
		return false
	})
	if req.RequestID != "p-1" {
		t.Errorf("request id %q, want p-1", req.RequestID)
	}
	seenAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	one := must(events.NewPresenceState("alice", "a1", events.PresenceState{Users: []events.UserPresence{{User: "alice", LastSeen: &seenAt}}}))
	e.publish(one, [2]string{"bob", "b1"})
	if f := c.nextOfType(protocol.TypePresence); f.User != "alice" || f.Online || !f.LastSeen.Equal(seenAt) || f.Users != nil {
		t.Errorf("one user's frame: %+v", f)
	}
	snap := must(events.NewPresenceState("bob", "b1", events.PresenceState{RequestID: "p-1", Snapshot: true,
		Users: []events.UserPresence{{User: "alice", Online: true}}}))
	e.publish(snap, [2]string{"bob", "b1"})
	f := c.nextOfType(protocol.TypePresence)
	if f.ID != "p-1" || f.User != "" || len(f.Users) != 1 || f.Users[0].User != "alice" || !f.Users[0].Online {
		t.Errorf("snapshot frame: %+v", f)
	}
	// Asked again at once: refused (rate_limited, when to ask again),
	// nothing posted.
	c.sendFrame(protocol.Frame{Type: protocol.TypePresence, ID: "p-2"})
	if f := c.nextOfType(protocol.TypeError); f.Code != protocol.CodeRateLimited || f.ID != "p-2" || f.AfterMs <= 0 || f.AfterMs > 5000 {
		t.Errorf("a second presence request at once: %+v", f)
	}
	asked := 0
	for _, ev := range e.sink.received() {
		if ev.Type() == events.TypePresenceRequested {
			asked++
		}
	}
	if asked != 1 {
		t.Errorf("%d presence.requested posted, want 1", asked)
	}
	// A presence frame takes nothing but an id.
	c.sendRaw(`{"type":"presence","conversation":"c1"}`)
	if f := c.nextOfType(protocol.TypeError); f.Code != protocol.CodeBadFrame {
		t.Errorf("presence with a conversation: %+v", f)
	}
}
