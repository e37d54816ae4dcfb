package function

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// sayContent stores user's message of any content (an edit, a reaction),
// sealed for every member device, stored at `at`.
func (w *world) sayContent(user string, c e2ee.Content, at time.Time) events.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.devices[user][0]
	seq := w.lastLocked() + 1
	cm := fmt.Sprintf("m-%d", seq)
	rs, _ := w.audienceLocked().Recipients()
	b, err := c.Marshal()
	if err != nil {
		w.t.Fatal(err)
	}
	env, err := e2ee.Seal(b, e2ee.AssociatedData{Conversation: w.conv, SenderDevice: d.id, ClientMessageID: cm}, rs)
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := w.storeLocked(events.Message{ConversationID: w.conv, Seq: seq, SenderID: user, SenderDevice: d.id,
		ClientMessageID: cm, Envelope: env, StoredAt: at})
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

// A reaction, a delete and a forged edit ask the agent nothing: the call
// ends without a model request or any event. An edit by the question's
// sender is answered anew with its text, the model seeing the new text
// in place of the old and no reaction; a deleted message is gone from
// the history.
func TestTurnEditsAndReactions(t *testing.T) {
	fx := newFixture(t, nil, chunks("answer"))
	now := time.Now().UTC()
	q := fx.w.say("alice", "what is 2+2?")                                         // 1
	gone := fx.w.say("bob", "my pin is 1234")                                      // 2
	fx.w.sayContent("bob", e2ee.Content{Delete: &e2ee.Delete{Ref: gone.Seq}}, now) // 3
	for _, m := range []events.Message{
		fx.w.sayContent("bob", e2ee.Content{React: &e2ee.Reaction{Ref: q.Seq, Emoji: "👍"}}, now),                   // 4
		fx.w.sayContent("bob", e2ee.Content{Delete: &e2ee.Delete{Ref: q.Seq}}, now),                                // 5: not his
		fx.w.sayContent("bob", e2ee.Content{Edit: &e2ee.Edit{Ref: q.Seq, Text: "what is 2+3? (bob)"}}, now),        // 6: forged
		fx.w.sayContent("alice", e2ee.Content{Edit: &e2ee.Edit{Ref: q.Seq, Text: "too late"}}, now.Add(time.Hour)), // 7
	} {
		fx.handle(t, m)
		k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
		eventually(t, fmt.Sprintf("the call for seq %d finished", m.Seq), func() bool { return fx.finished(k) })
	}
	if n := fx.model.count(); n != 0 || len(fx.w.events) != 0 {
		t.Fatalf("reactions, deletes and refused edits made %d model requests and %d events, want none", n, len(fx.w.events))
	}

	edit := fx.w.sayContent("alice", e2ee.Content{Edit: &e2ee.Edit{Ref: q.Seq, Text: "what is 2+3?"}}, time.Now().UTC()) // 8
	fx.handle(t, edit)
	eventually(t, "the edit's call finished", func() bool { return fx.finished(callKey{"c-1", edit.Seq, "bot"}) })
	replies := fx.w.stored("bot")
	if len(replies) != 1 || replies[0].ClientMessageID != "r-8" {
		t.Fatalf("replies = %+v, want one r-8", replies)
	}
	var got []string
	for _, m := range fx.model.requests[0].Messages {
		got = append(got, m.Role+":"+m.Content)
	}
	if want := "system:be brief|user:what is 2+3?"; strings.Join(got, "|") != want {
		t.Errorf("model messages = %q, want %q", strings.Join(got, "|"), want)
	}
}
