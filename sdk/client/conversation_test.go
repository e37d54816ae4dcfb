package client

import (
	"slices"
	"testing"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestConversationFrames: a conversation this user was put in is told to
// the application and followed from its start (a sync from 0); one the
// user was taken out of is told and no longer followed.
func TestConversationFrames(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	sc.expect(protocol.TypeResume)

	sc.send(protocol.Frame{Type: protocol.TypeConversation, Conversation: "g-1", Kind: KindGroup, Rev: 1,
		Members: []string{"bob", "alice"}, Title: "Plans", Sender: "bob", SenderDevice: "b1"})
	ch := next[*ConversationChange](t, c)
	if ch.ID != "g-1" || ch.Kind != KindGroup || ch.Rev != 1 || !slices.Equal(ch.Members, []string{"bob", "alice"}) ||
		ch.Title != "Plans" || ch.By != "bob" || !ch.Member {
		t.Errorf("change %+v", ch)
	}
	if s := sc.expect(protocol.TypeSync); s.Conversation != "g-1" || s.After != 0 || !s.Receipts {
		t.Errorf("sync %+v, want g-1 from 0 with receipts", s)
	}

	// a later revision of a conversation followed already: no new sync
	sc.send(protocol.Frame{Type: protocol.TypeConversation, Conversation: "g-1", Kind: KindGroup, Rev: 2,
		Members: []string{"bob", "alice", "carol"}, Sender: "bob", SenderDevice: "b1"})
	if ch := next[*ConversationChange](t, c); ch.Rev != 2 || !ch.Member {
		t.Errorf("change %+v", ch)
	}
	noneOf(t, written(t, c, sc), protocol.TypeSync, "a conversation followed already")

	// taken out: told, and no longer followed (the next resume leaves it out)
	sc.send(protocol.Frame{Type: protocol.TypeConversation, Conversation: "g-1", Kind: KindGroup, Rev: 3,
		Members: []string{"bob", "carol"}, Sender: "bob", SenderDevice: "b1"})
	if ch := next[*ConversationChange](t, c); ch.Rev != 3 || ch.Member {
		t.Errorf("change %+v, want Member false", ch)
	}
	sc.send(protocol.Frame{Type: protocol.TypeResync})
	if r := sc.expect(protocol.TypeResume); len(r.Positions) != 0 {
		t.Errorf("resume positions %+v after removal, want none", r.Positions)
	}
}

// TestResumedNamesNewConversations: a conversation the resume answer
// brings that the client did not follow (started, or joined, while it was
// away) is told as a ConversationChange, named as the answer names it; one
// it followed already is not.
func TestResumedNamesNewConversations(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	c.Track("old", 0)
	sc := fc.accept()
	r := sc.expect(protocol.TypeResume)
	sc.send(protocol.Frame{Type: protocol.TypeResumed, ID: r.ID, Batches: []protocol.Frame{
		{Type: protocol.TypeBatch, Conversation: "new", Messages: []protocol.Frame{message(t, "new", 1, bob, "n1", alice)}, LastSeq: 1,
			Kind: KindGroup, Rev: 4, Members: []string{"alice", "bob"}, Title: "New"},
		{Type: protocol.TypeBatch, Conversation: "old", LastSeq: 0, Kind: KindDirect, Rev: 1, Members: []string{"alice", "bob"}},
	}})
	var changes []*ConversationChange
	for _, ev := range handled(t, c, sc) {
		if ch, ok := ev.(*ConversationChange); ok {
			changes = append(changes, ch)
		}
	}
	if len(changes) != 1 {
		t.Fatalf("changes %+v, want one, for the new conversation", changes)
	}
	if ch := changes[0]; ch.ID != "new" || ch.Kind != KindGroup || ch.Rev != 4 || !ch.Member || ch.Title != "New" ||
		!slices.Equal(ch.Members, []string{"alice", "bob"}) {
		t.Errorf("change %+v", ch)
	}
	if last, _ := c.LastSeq("new"); last != 1 {
		t.Errorf("LastSeq(new) = %d, want 1: followed from the answer", last)
	}
}

// TestUnreadFollowsTheOwnReadCursor: unread counts other users' messages
// after this user's own read cursor, whichever device moved it: the
// cursors of the resume answer, a read receipt of another own device, a
// MarkRead here; own messages from another device never count. CaughtUp
// says when the count covers everything known.
func TestUnreadFollowsTheOwnReadCursor(t *testing.T) {
	alice, alice2, bob := newDevice(t, "alice", "a1"), newDevice(t, "alice", "a2"), newDevice(t, "bob", "b1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	r := sc.expect(protocol.TypeResume)
	if ok, _ := c.CaughtUp(); ok {
		t.Error("caught up before the resume answer")
	}
	sc.send(protocol.Frame{Type: protocol.TypeResumed, ID: r.ID, Batches: []protocol.Frame{
		{Type: protocol.TypeBatch, Conversation: "g", LastSeq: 3, Messages: []protocol.Frame{
			message(t, "g", 1, bob, "one", alice), message(t, "g", 2, bob, "two", alice), message(t, "g", 3, bob, "three", alice)},
			Cursors: []protocol.Cursor{{User: "alice", Delivered: 3, Read: 1}, {User: "bob", Delivered: 3, Read: 3}}},
	}})
	handled(t, c, sc)
	unread := func(want int, why string) {
		t.Helper()
		if n, err := c.Unread("g"); err != nil || n != want {
			t.Errorf("%s: unread %d (%v), want %d", why, n, err, want)
		}
	}
	unread(2, "alice's cursor at 1 of bob's 3")
	if ok, _ := c.CaughtUp(); !ok {
		t.Error("not caught up after the whole resume answer")
	}
	sc.send(protocol.Frame{Type: protocol.TypeReceipt, Kind: ReceiptRead, Conversation: "g", Sender: "alice", SenderDevice: "a2", Seq: 3})
	handled(t, c, sc)
	unread(0, "read on alice's other device")
	sc.send(message(t, "g", 4, bob, "four", alice))
	handled(t, c, sc)
	unread(1, "a new message of bob's")
	if err := c.MarkRead("g", 4); err != nil {
		t.Fatal(err)
	}
	unread(0, "read here")
	sc.send(message(t, "g", 5, alice2, "from my phone", alice))
	handled(t, c, sc)
	unread(0, "alice's own message from her other device")
	if ok, _ := c.CaughtUp(); !ok {
		t.Error("not caught up")
	}
}
