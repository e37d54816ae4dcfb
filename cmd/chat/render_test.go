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
