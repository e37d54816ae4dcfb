package client

import (
	"fmt"
	"slices"
	"testing"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// One resumed frame: the batches of known conversations, a conversation
// new to the client (tracked from 0), a conversation the user has left
// (dropped, reported), and More (synced at once, after what came).
func TestResumedAppliesEveryConversation(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	fc1, fc2 := newFakeConnector(t, "tok"), newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc1.URL, fc2.URL))
	sc := fc1.accept()
	c.Track("gone", 0)
	c.Track("long", 0)
	sc.send(message(t, "known", 1, bob, "k1", alice))
	messages(t, c, 1)
	sc.closeWith(protocol.CloseServiceRestart)

	sc2 := fc2.accept()
	r := sc2.expect(protocol.TypeResume)
	want := []protocol.Position{{Conversation: "gone", Seq: 0}, {Conversation: "known", Seq: 1}, {Conversation: "long", Seq: 0}}
	if !slices.Equal(r.Positions, want) || r.From != "" || !r.Receipts {
		t.Fatalf("resume %+v, want positions %+v with receipts", r, want)
	}
	sc2.send(protocol.Frame{Type: protocol.TypeResumed, ID: r.ID, Gone: []string{"gone"}, Batches: []protocol.Frame{
		{Type: protocol.TypeBatch, Conversation: "known", Messages: []protocol.Frame{message(t, "known", 2, bob, "k2", alice)}, LastSeq: 2},
		{Type: protocol.TypeBatch, Conversation: "long", Messages: []protocol.Frame{message(t, "long", 1, bob, "l1", alice)}, LastSeq: 300, More: true},
		{Type: protocol.TypeBatch, Conversation: "new", Messages: []protocol.Frame{message(t, "new", 1, bob, "n1", alice), message(t, "new", 2, bob, "n2", alice)}, LastSeq: 2},
	}})
	got := map[string][]int64{}
	for _, m := range messages(t, c, 4) {
		got[m.Conversation] = append(got[m.Conversation], m.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string][]int64{"known": {2}, "long": {1}, "new": {1, 2}}) {
		t.Errorf("messages %v", got)
	}
	if e := next[*Error](t, c); e.Code != protocol.CodeNotMember || e.Conversation != "gone" {
		t.Errorf("error %+v, want not_member for gone", e)
	}
	if s := sc2.expect(protocol.TypeSync); s.Conversation != "long" || s.After != 1 {
		t.Errorf("sync %+v, want long after 1 (more)", s)
	}
	for conv, want := range map[string]int64{"gone": 0, "new": 2} {
		if got, _ := c.LastSeq(conv); got != want {
			t.Errorf("LastSeq(%s) = %d, want %d", conv, got, want)
		}
	}
	// The next resume names what the client has now, without "gone".
	sc2.send(protocol.Frame{Type: protocol.TypeResync})
	r = sc2.expect(protocol.TypeResume)
	want = []protocol.Position{{Conversation: "known", Seq: 2}, {Conversation: "long", Seq: 1}, {Conversation: "new", Seq: 2}}
	if !slices.Equal(r.Positions, want) {
		t.Errorf("next resume %+v, want %+v", r.Positions, want)
	}
}

// More conversations than a frame holds: pages, each from the last.
func TestResumePagesThroughEveryConversation(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.FrameRate = -1
	c := dial(t, cfg)
	sc := fc.accept()
	first := sc.expect(protocol.TypeResume)
	if len(first.Positions) != 0 {
		t.Fatalf("first resume names %d conversations, want none", len(first.Positions))
	}
	const n = protocol.MaxResumePositions + 20
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("c%03d", i))
	}
	sc.send(protocol.Frame{Type: protocol.TypeResumed, ID: first.ID, Next: "", Batches: func() []protocol.Frame {
		var bs []protocol.Frame
		for _, id := range ids {
			bs = append(bs, protocol.Frame{Type: protocol.TypeBatch, Conversation: id})
		}
		return bs
	}()})
	barrier(t, c, sc)
	sc.send(protocol.Frame{Type: protocol.TypeResync})
	p1 := sc.expect(protocol.TypeResume)
	if len(p1.Positions) != protocol.MaxResumePositions || p1.Positions[0].Conversation != "c000" || p1.From != "" {
		t.Fatalf("page 1: %d positions from %q", len(p1.Positions), p1.From)
	}
	noneOf(t, written(t, c, sc), protocol.TypeResume, "the next page before the answer")
	sc.send(protocol.Frame{Type: protocol.TypeResumed, ID: p1.ID, Next: "c099"})
	handled(t, c, sc)
	var p2 protocol.Frame
	syncs := 0
	for _, f := range written(t, c, sc) {
		switch f.Type {
		case protocol.TypeResume:
			p2 = f
		case protocol.TypeSync:
			syncs++
		}
	}
	if len(p2.Positions) != 20 || p2.Positions[0].Conversation != "c100" || p2.From != "c099" {
		t.Fatalf("page 2: %d positions from %q; want 20 from c099, first c100", len(p2.Positions), p2.From)
	}
	// The first page's answer named none of its conversations: each is
	// synced on its own rather than left waiting.
	if syncs != protocol.MaxResumePositions {
		t.Errorf("%d syncs for the conversations page 1 left out, want %d", syncs, protocol.MaxResumePositions)
	}
}

// A platform without resume (unknown_type with the frame's id), or one
// that never answers: one sync per conversation, as before resume.
func TestResumeFallsBackToSyncs(t *testing.T) {
	for _, answer := range []string{"refused", "silent"} {
		t.Run(answer, func(t *testing.T) {
			alice := newDevice(t, "alice", "a1")
			fc := newFakeConnector(t, "tok")
			cfg := testConfig(alice, nil, fc.URL)
			clk := newFakeClock(t)
			cfg.clock = clk
			c := dial(t, cfg)
			sc2 := fc.accept()
			sc2.expect(protocol.TypeResume)
			c.Track("x", 3)
			c.Track("y", 4)
			sc2.expect(protocol.TypeSync)
			sc2.expect(protocol.TypeSync)
			sc2.send(protocol.Frame{Type: protocol.TypeResync}) // resumes, as a reconnect does
			r := sc2.expect(protocol.TypeResume)
			switch answer {
			case "refused":
				sc2.send(protocol.Frame{Type: protocol.TypeError, ID: r.ID, Code: protocol.CodeUnknownType, Message: `unknown frame type "resume"`})
				handled(t, c, sc2)
			case "silent":
				noneOf(t, written(t, c, sc2), protocol.TypeSync, "before the resume timed out")
				elapse(t, c, clk, cfg.SyncTimeout)
			}
			got := map[string]int64{}
			for range 2 {
				s := sc2.expect(protocol.TypeSync)
				got[s.Conversation] = s.After
			}
			if got["x"] != 3 || got["y"] != 4 {
				t.Errorf("syncs %v, want x after 3, y after 4", got)
			}
		})
	}
}
