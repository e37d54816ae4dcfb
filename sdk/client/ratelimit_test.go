package client

import (
	"context"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// A send refused by the user's send rate (rate_limited with afterMs) is
// sent again, same id, once afterMs has passed — not at the client's own
// backoff, which is far shorter here (milliseconds).
func TestRateLimitedSendWaitsAfterMs(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, dir, fc.URL)
	clk := newFakeClock(t)
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()

	id, err := c.Send(context.Background(), convID, e2ee.Content{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	f := sc.expect(protocol.TypeSend)
	sc.send(protocol.Frame{Type: protocol.TypeError, ID: f.ID, Code: protocol.CodeRateLimited, Message: "slow down", AfterMs: 60_000})
	handled(t, c, sc)
	elapse(t, c, clk, 59*time.Second)
	noneOf(t, written(t, c, sc), protocol.TypeSend, "resent before afterMs")
	elapse(t, c, clk, 2*time.Second)
	if f := sc.expect(protocol.TypeSend); f.ID != id {
		t.Fatalf("resent id %q, want %q", f.ID, id)
	}
}
