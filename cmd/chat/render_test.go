package main

import (
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestConversationChangesShow: a conversation started with this user, a
// group they were added to, members changing and being taken out each
// print a line, with names where they are known.
func TestConversationChangesShow(t *testing.T) {
	out := &syncBuffer{}
	stdout = out
	v := &view{scr: newScreen(""), me: "u-ann", names: map[string]string{"u-bob": "Bob"}}
	for _, tc := range []struct {
		ev   *client.ConversationChange
		want string
	}{
		{&client.ConversationChange{ID: "d-1", Kind: client.KindDirect, Rev: 1, Members: []string{"u-ann", "u-bob"}, Member: true},
			"• new conversation d-1 with Bob — chat -conv d-1"},
		{&client.ConversationChange{ID: "g-1", Kind: client.KindGroup, Rev: 1, Members: []string{"u-bob", "u-ann", "u-cy"}, Title: "Plans", Member: true},
			`• new group "Plans" (g-1) with Bob, u-cy — chat -conv g-1`},
		{&client.ConversationChange{ID: "g-1", Kind: client.KindGroup, Rev: 2, Members: []string{"u-bob", "u-ann"}, Title: "Plans", Member: true},
			`• "Plans" (g-1) now: you, Bob`},
		{&client.ConversationChange{ID: "g-1", Kind: client.KindGroup, Rev: 3, Members: []string{"u-bob"}, Title: "Plans"},
			`• you are no longer in "Plans" (g-1)`},
	} {
		v.show(tc.ev)
		if got := out.String(); !strings.Contains(got, tc.want) {
			t.Errorf("after %+v the screen shows:\n%s\nwant a line %q", tc.ev, got, tc.want)
		}
	}
}

// TestUnverifiedMessagesMarked: a message whose signature did not verify
// says so next to the sender's name; a verified one does not.
func TestUnverifiedMessagesMarked(t *testing.T) {
	out := &syncBuffer{}
	stdout = out
	v := &view{scr: newScreen(""), me: "u-ann", conv: "c-other", names: map[string]string{"u-bob": "Bob"}}
	v.show(&client.Message{Conversation: "c-1", Seq: 1, Sender: "u-bob", Content: e2ee.Content{Text: "signed"}, Verified: true})
	v.show(&client.Message{Conversation: "c-1", Seq: 2, Sender: "u-bob", Content: e2ee.Content{Text: "forged"}})
	got := out.String()
	if !strings.Contains(got, "Bob: signed") || !strings.Contains(got, "Bob ⚠ unverified: forged") {
		t.Errorf("the screen shows:\n%s\nwant %q and %q", got, "Bob: signed", "Bob ⚠ unverified: forged")
	}
}

// TestActionsShow: a reply quotes the message it answers; an edit, a
// delete for everyone and a reaction each print a line naming the message
// they change; a forged edit says it was ignored; a message deleted for
// me is not shown again.
func TestActionsShow(t *testing.T) {
	out := &syncBuffer{}
	stdout = out
	st := &deviceState{path: t.TempDir() + "/state.json"}
	v := &view{scr: newScreen(""), me: "u-ann", conv: "c-1", names: map[string]string{"u-bob": "Bob", "u-mal": "Mal"}, st: st}
	msg := func(seq int64, from string, c e2ee.Content, invalid error) {
		v.show(&client.Message{Conversation: "c-1", Seq: seq, Sender: from, Content: c, Verified: true, Invalid: invalid})
	}
	msg(1, "u-bob", e2ee.Content{Text: "lunch at noon?"}, nil)
	msg(2, "u-mal", e2ee.Content{Text: "sure", ReplyTo: 1}, nil)
	msg(3, "u-bob", e2ee.Content{Edit: &e2ee.Edit{Ref: 1, Text: "lunch at one?"}}, nil)
	msg(4, "u-mal", e2ee.Content{Edit: &e2ee.Edit{Ref: 1, Text: "no lunch"}}, e2ee.ErrNotSender)
	msg(5, "u-mal", e2ee.Content{React: &e2ee.Reaction{Ref: 1, Emoji: "👍"}}, nil)
	msg(6, "u-bob", e2ee.Content{Delete: &e2ee.Delete{Ref: 2}}, e2ee.ErrNotSender)
	msg(7, "u-mal", e2ee.Content{Delete: &e2ee.Delete{Ref: 2}}, nil)
	got := out.String()
	for _, want := range []string{
		"[#2] Mal ↪ #1 “lunch at noon?”: sure",
		"[#3] Bob edited #1: lunch at one? (edited)",
		"[#4] ⚠ Mal's edit of #1 ignored: " + e2ee.ErrNotSender.Error(),
		"[#5] Mal reacted 👍 to #1 “lunch at one?”",
		"[#6] ⚠ Bob's delete of #2 ignored",
		"[#7] Mal deleted #2 “sure” — This message was deleted",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the screen shows:\n%s\nwant a line with %q", got, want)
		}
	}
	v.hide(1)
	before := out.String()
	msg(1, "u-bob", e2ee.Content{Text: "lunch at noon?"}, nil)
	if after := strings.TrimPrefix(out.String(), before); strings.Contains(after, "lunch") {
		t.Errorf("a message deleted for me shows again: %s", after)
	}
	if again, err := loadState(st.path); err != nil || len(again.Hidden["c-1"]) != 1 {
		t.Errorf("delete for me not kept: %+v %v", again, err)
	}
}

// TestAgentStatusLine: an agent's lifecycle receipts print one status
// line each — waking, queued, thinking, the tools it uses, answering —
// without repeating what its typing "thinking" or first partial already
// said; a new answer starts over.
func TestAgentStatusLine(t *testing.T) {
	out := &syncBuffer{}
	stdout = out
	v := &view{scr: newScreen(""), me: "u-ann", conv: "c-1", names: map[string]string{"helper": "Helper"}, typing: map[string]string{}}
	st := func(state string, tools ...string) *client.AgentActivity {
		return &client.AgentActivity{Conversation: "c-1", Agent: "helper", ReplyTo: 4, Kind: client.AgentStatus, State: state, Tools: tools}
	}
	v.show(st(client.StatusWaking))
	v.show(st(client.StatusQueued))
	v.show(&client.Typing{Conversation: "c-1", User: "helper", State: "thinking"})
	v.show(st(client.StatusThinking))
	v.show(st(client.StatusTool, "history", "http"))
	v.show(st(client.StatusStreaming))
	v.show(&client.AgentActivity{Conversation: "c-1", Agent: "helper", ReplyTo: 4, Kind: client.AgentPartial})
	v.show(&client.AgentActivity{Conversation: "c-1", Agent: "helper", ReplyTo: 4, Kind: client.AgentDone})
	v.show(st(client.StatusThinking))
	v.show(&client.AgentActivity{Conversation: "c-other", Agent: "helper", ReplyTo: 9, Kind: client.AgentStatus, State: client.StatusQueued})
	want := []string{
		"   … Helper is waking up",
		"   … Helper is queued (all its model slots are busy)",
		"   … Helper is thinking",
		"   … Helper is using history, http",
		"   … Helper is answering",
		"   … Helper is thinking",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.TrimSpace(strings.Join(want, "\n")) {
		t.Errorf("the screen shows:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}
