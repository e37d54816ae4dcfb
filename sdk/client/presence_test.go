package client

import (
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestPresence: a client with Presence asks for it at every connect, after
// its resume, and reports the answer as a snapshot and each change as a
// Presence; one without it asks nothing.
func TestPresence(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.Presence = true
	c := dial(t, cfg)
	sc := fc.accept()
	sc.expect(protocol.TypeResume)
	req := sc.expect(protocol.TypePresence)
	if req.ID == "" {
		t.Error("presence request without an id")
	}
	seen := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	sc.send(protocol.Frame{Type: protocol.TypePresence, ID: req.ID, Users: []protocol.Frame{
		{Type: protocol.TypePresence, User: "bob", Online: true},
		{Type: protocol.TypePresence, User: "eve", LastSeen: seen},
	}})
	snap := next[*PresenceSnapshot](t, c)
	if len(snap.Users) != 2 || snap.Users[0] != (Presence{User: "bob", Online: true}) || snap.Users[1] != (Presence{User: "eve", LastSeen: seen}) {
		t.Errorf("snapshot %+v", snap)
	}
	sc.send(protocol.Frame{Type: protocol.TypePresence, User: "bob"})
	if p := next[*Presence](t, c); *p != (Presence{User: "bob"}) {
		t.Errorf("bob hidden: %+v", p)
	}
	// A new connection asks again.
	sc.closeWith(1001)
	sc = fc.accept()
	sc.expect(protocol.TypeResume)
	sc.expect(protocol.TypePresence)

	// Without Presence: no request.
	fc2 := newFakeConnector(t, "tok")
	c2 := dial(t, testConfig(alice, nil, fc2.URL))
	sc2 := fc2.accept()
	sc2.expect(protocol.TypeResume)
	noneOf(t, written(t, c2, sc2), protocol.TypePresence, "a client that did not ask for presence")
}
