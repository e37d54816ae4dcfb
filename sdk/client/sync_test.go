package client

import (
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// Each sync carries an id; only the end of the answer to the sync that is
// out ends it. A batch of another sync (an earlier one) still brings its
// messages, and the refusal of the sync that is out ends it too.
func TestSyncAnswersAreMatchedByRequestID(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.GapGrace = -1      // sync for a gap at once
	clk := newFakeClock(t) // no sync times out unless the test says so
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()

	ms := make([]protocol.Frame, 7)
	for i := range ms {
		ms[i] = message(t, convID, int64(i+1), bob, "m", alice)
	}
	sc.send(ms[0])
	sc.send(ms[4]) // 2, 3 and 4 are missing
	s1 := sc.expect(protocol.TypeSync)
	if s1.ID == "" || s1.After != 1 {
		t.Fatalf("sync %+v, want an id and after 1", s1)
	}
	// An answer to some earlier sync: seq 2 is taken, but the sync that is
	// out is still out: no new sync for the open gap 3..4 before its
	// timeout, though GapRetry has long passed.
	sc.send(protocol.Frame{Type: protocol.TypeBatch, ID: "sync:999", End: true, Conversation: convID, Messages: ms[1:2], LastSeq: 5})
	if got := seqs(messages(t, c, 2)); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("seqs %v, want 1, 2", got)
	}
	elapse(t, c, clk, cfg.SyncTimeout-time.Millisecond)
	noneOf(t, written(t, c, sc), protocol.TypeSync, "the sync that is out is still out")
	// Its own answer, the last batch: more, and a gap after 5 → next sync.
	sc.send(protocol.Frame{Type: protocol.TypeBatch, ID: s1.ID, End: true, Conversation: convID, Messages: ms[2:4], More: true, LastSeq: 7})
	if got := seqs(messages(t, c, 3)); !slices.Equal(got, []int64{3, 4, 5}) {
		t.Fatalf("seqs %v, want 3, 4, 5", got)
	}
	s2 := sc.expect(protocol.TypeSync)
	if s2.ID == "" || s2.ID == s1.ID || s2.After != 5 {
		t.Fatalf("second sync %+v, want a new id and after 5", s2)
	}
	// Its refusal (removed from the conversation) ends it and the tracking.
	sc.send(protocol.Frame{Type: protocol.TypeError, ID: s2.ID, Conversation: convID, Code: protocol.CodeNotMember, Message: "not a member"})
	if e := next[*Error](t, c); e.Code != protocol.CodeNotMember || e.ID != s2.ID {
		t.Fatalf("error %+v", e)
	}
	sc.send(protocol.Frame{Type: protocol.TypeResync})
	handled(t, c, sc)
	noneOf(t, written(t, c, sc), protocol.TypeSync, "no longer tracked")
}
