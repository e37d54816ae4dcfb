package function

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestMembershipEntries: a conversation.changed with a change is stored as
// the conversation's next entry (between the messages around it, no
// envelope) and replied as message.stored for the members' devices and
// the removed member's; the same change delivered again is the same
// entry, never a second; a change event without a change stores nothing;
// a client may not use the entries' id prefix.
func TestMembershipEntries(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f := fx.start()
	handle(t, f, sent(t, "c1", "alice", "a1", "m1", envelope(all...)))

	fx.insert(collChanges, bson.M{"_id": "c1/2", "conversation": "c1", "rev": 2, "op": "remove", "user": "carol", "by": "alice",
		"members": []string{"alice", "bob"}})
	change := &protocol.MemberChange{Op: protocol.MemberRemove, User: "carol", By: "alice", Rev: 2}
	ev, err := events.NewConversationChanged("c1", "alice", "a1", events.ConversationChanged{Kind: "group", Rev: 2,
		Members: []string{"alice", "bob"}, Removed: []string{"carol"}, Change: change})
	if err != nil {
		t.Fatal(err)
	}
	first := decodeReply[events.Message](t, handle(t, f, ev), events.TypeMessageStored)
	if first.Seq != 2 || first.Envelope != nil || first.System == nil || *first.System != *change ||
		first.SenderID != "alice" || first.ClientMessageID != protocol.SystemID(2) {
		t.Fatalf("entry = %+v (system %+v)", first, first.System)
	}
	var to []string
	for _, d := range first.Audience.Devices {
		to = append(to, d.Device)
	}
	if want := []string{"a1", "a2", "b1", "c1d"}; !sameSet(to, want) {
		t.Errorf("entry's audience = %v, want the members' devices and the removed carol's: %v", to, want)
	}
	// a broker's redelivery, to this instance and to a fresh one
	for i, g := range []*Function{f, fx.start()} {
		again := decodeReply[events.Message](t, handle(t, g, ev), events.TypeMessageStored)
		if again.Seq != first.Seq {
			t.Errorf("redelivery %d: stored at seq %d, want the entry at %d", i, again.Seq, first.Seq)
		}
	}
	if n := fx.count(collMessages, bson.M{"conversation": "c1"}); n != 2 {
		t.Errorf("%d stored in c1, want 2 (the message and one entry)", n)
	}
	next := decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "bob", "b1", "m2", envelope("a1", "a2", "b1"))), events.TypeMessageStored)
	if next.Seq != 3 {
		t.Errorf("the message after the entry: seq %d, want 3", next.Seq)
	}

	// a creation (no change) stores nothing
	created, err := events.NewConversationChanged("c1", "alice", "a1", events.ConversationChanged{Kind: "group", Rev: 2, Members: []string{"alice", "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if reply := handle(t, f, created); reply != nil {
		t.Errorf("a change event without a change replied %v", reply.Type())
	}
	// the prefix is the server's: no client's message event carries it
	if _, err := events.NewMessageSent(events.SourceConnectorPrefix+"test", "c1", "bob", "b1",
		events.MessageSent{ClientMessageID: protocol.SystemID(9), Envelope: envelope("a1", "a2", "b1")}); err == nil {
		t.Error("a message.sent with the entries' id prefix was built")
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
