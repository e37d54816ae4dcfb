package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// actionFrame is a message frame carrying content (an action), signed by
// the sender's key when one is given, stored at `at`.
func actionFrame(t *testing.T, seq int64, from device, sk *e2ee.SigningKey, at time.Time, content e2ee.Content, to ...device) protocol.Frame {
	t.Helper()
	plain, err := content.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]e2ee.Recipient, len(to))
	for i, d := range to {
		rs[i] = d.recipient()
	}
	id := newMessageID()
	env, err := e2ee.Seal(plain, e2ee.AssociatedData{Conversation: convID, SenderDevice: from.id, ClientMessageID: id}, rs)
	if err != nil {
		t.Fatal(err)
	}
	if sk != nil {
		e2ee.SignEnvelope(env, convID, from.id, sk)
	}
	return protocol.Frame{Type: protocol.TypeMessage, ID: id, Conversation: convID, Seq: seq,
		Sender: from.user, SenderDevice: from.id, Envelope: env, StoredAt: at}
}

// TestReceivedActionsJudged: each member's client applies the same rules
// to edits, deletes and reactions: only the sender edits or deletes, in
// time; a forged edit (another member's, or an unsigned one of a signed
// message) comes with Invalid and changes nothing; a delete ends what can
// apply to the message; actions are not unread.
func TestReceivedActionsJudged(t *testing.T) {
	alice, bob, mallory := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1"), newDevice(t, "mallory", "m1")
	bobKey, malKey := mustSigningKey(t), mustSigningKey(t)
	bobR, malR := bob.recipient(), mallory.recipient()
	bobR.SigningKey, malR.SigningKey = bobKey.PublicKeyBytes(), malKey.PublicKeyBytes()
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bobR, malR)
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()

	t0 := time.Now().UTC().Add(-time.Hour)
	msg := func(seq int64, text string, at time.Duration) protocol.Frame {
		return actionFrame(t, seq, bob, bobKey, t0.Add(at), e2ee.Content{Text: text}, alice)
	}
	edit := func(ref int64, text string) e2ee.Content { return e2ee.Content{Edit: &e2ee.Edit{Ref: ref, Text: text}} }
	cases := []struct {
		f    protocol.Frame
		want error
		why  string
	}{
		{msg(1, "2+2=5", 0), nil, "a message"},
		{actionFrame(t, 2, mallory, malKey, t0.Add(time.Minute), edit(1, "I owe mallory 100€"), alice), e2ee.ErrNotSender, "mallory's forged edit of bob's message"},
		{actionFrame(t, 3, bob, nil, t0.Add(time.Minute), edit(1, "unsigned"), alice), e2ee.ErrNotSender, "an unsigned edit of a signed message"},
		{actionFrame(t, 4, bob, bobKey, t0.Add(2*time.Minute), edit(1, "2+2=4"), alice), nil, "bob's own edit"},
		{actionFrame(t, 5, bob, bobKey, t0.Add(20*time.Minute), edit(1, "late"), alice), e2ee.ErrTooLate, "an edit after the window"},
		{actionFrame(t, 6, mallory, malKey, t0.Add(21*time.Minute), e2ee.Content{React: &e2ee.Reaction{Ref: 1, Emoji: "👍"}}, alice), nil, "anyone's reaction"},
		{actionFrame(t, 7, mallory, malKey, t0.Add(22*time.Minute), e2ee.Content{Delete: &e2ee.Delete{Ref: 1}}, alice), e2ee.ErrNotSender, "mallory deleting bob's message"},
		{actionFrame(t, 8, bob, bobKey, t0.Add(23*time.Minute), edit(6, "edit a reaction"), alice), e2ee.ErrNotAMessage, "an edit of a reaction"},
		{actionFrame(t, 9, bob, bobKey, t0.Add(24*time.Minute), e2ee.Content{Delete: &e2ee.Delete{Ref: 1}}, alice), nil, "bob deleting his message"},
		{actionFrame(t, 10, mallory, malKey, t0.Add(25*time.Minute), e2ee.Content{React: &e2ee.Reaction{Ref: 1, Emoji: "😂"}}, alice), e2ee.ErrDeleted, "a reaction to a deleted message"},
		{actionFrame(t, 11, bob, bobKey, t0.Add(26*time.Minute), edit(99, "nothing"), alice), e2ee.ErrUnknownRef, "an edit of an unknown message"},
	}
	for _, tc := range cases {
		sc.send(tc.f)
	}
	ms := messages(t, c, len(cases))
	for i, tc := range cases {
		if got := ms[i].Invalid; !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("%s: Invalid = %v, want %v", tc.why, got, tc.want)
		}
	}
	if ms[3].Content.Edit == nil || ms[3].Content.Edit.Text != "2+2=4" {
		t.Errorf("the edit reads %+v", ms[3].Content)
	}
	if n, _ := c.Unread(convID); n != 1 {
		t.Errorf("unread %d, want 1: only the message, not its actions", n)
	}
}

// TestSendActions: Reply, Edit, Delete and React send the content of their
// kind; an own message that is no longer editable, or someone else's, is
// refused before anything is sent.
func TestSendActions(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()
	ctx := context.Background()

	// Bob's message 1 (an hour old) and alice's message 2 (now) arrive.
	sc.send(actionFrame(t, 1, bob, nil, time.Now().UTC().Add(-time.Hour), e2ee.Content{Text: "hi"}, alice))
	sc.send(actionFrame(t, 2, alice, nil, time.Now().UTC(), e2ee.Content{Text: "helo"}, alice))
	messages(t, c, 2)

	sent := func(what string, id string, err error) e2ee.Content {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f := sc.expect(protocol.TypeSend)
		plain, err := e2ee.Open(f.Envelope, e2ee.AssociatedData{Conversation: convID, SenderDevice: alice.id, ClientMessageID: id}, bob.id, bob.key)
		if err != nil || f.ID != id {
			t.Fatalf("%s: %v", what, err)
		}
		got, err := e2ee.UnmarshalContent(plain)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	id, err := c.Reply(ctx, convID, 1, "hello!")
	if got := sent("reply", id, err); got.ReplyTo != 1 || got.Text != "hello!" {
		t.Errorf("reply sent %+v", got)
	}
	id, err = c.Edit(ctx, convID, 2, "hello")
	if got := sent("edit", id, err); got.Edit == nil || got.Edit.Ref != 2 || got.Edit.Text != "hello" {
		t.Errorf("edit sent %+v", got)
	}
	id, err = c.React(ctx, convID, 1, "❤️")
	if got := sent("react", id, err); got.React == nil || got.React.Emoji != "❤️" {
		t.Errorf("react sent %+v", got)
	}
	id, err = c.Delete(ctx, convID, 2)
	if got := sent("delete", id, err); got.Delete == nil || got.Delete.Ref != 2 {
		t.Errorf("delete sent %+v", got)
	}
	if _, err := c.Edit(ctx, convID, 1, "not mine"); !errors.Is(err, e2ee.ErrNotSender) {
		t.Errorf("editing bob's message: %v", err)
	}
	if _, err := c.Edit(ctx, convID, 2, ""); err == nil {
		t.Error("an empty edit was accepted")
	}
}

// A History page's actions are judged against the page's own messages.
func TestJudgePage(t *testing.T) {
	t0 := time.Now()
	ms := []*Message{
		{Seq: 10, Sender: "bob", StoredAt: t0, Content: e2ee.Content{Text: "hi"}},
		{Seq: 11, Sender: "eve", StoredAt: t0, Content: e2ee.Content{Edit: &e2ee.Edit{Ref: 10, Text: "forged"}}},
		{Seq: 12, Sender: "bob", StoredAt: t0, Content: e2ee.Content{Edit: &e2ee.Edit{Ref: 10, Text: "hello"}}},
		{Seq: 13, Sender: "bob", StoredAt: t0, Content: e2ee.Content{React: &e2ee.Reaction{Ref: 3, Emoji: "👍"}}},
	}
	judgePage(ms)
	for i, want := range []error{nil, e2ee.ErrNotSender, nil, e2ee.ErrUnknownRef} {
		if got := ms[i].Invalid; !errors.Is(got, want) || (want == nil && got != nil) {
			t.Errorf("seq %d: Invalid = %v, want %v", ms[i].Seq, got, want)
		}
	}
}

// A conversation remembers at least its last maxEntries messages for
// judging actions, and not many more: the sweep runs in bulk, so that a
// long conversation does not pay a walk over every entry per message.
func TestEntriesStayBounded(t *testing.T) {
	var cv conv
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	n := int64(3 * maxEntries)
	for seq := int64(1); seq <= n; seq++ {
		if err := cv.judge(&Message{Seq: seq, Sender: "bob", StoredAt: at, Content: e2ee.Content{Text: "x"}}); err != nil {
			t.Fatal(err)
		}
		if len(cv.entries) > maxEntries+maxEntries/4 {
			t.Fatalf("after #%d: %d entries, want at most %d", seq, len(cv.entries), maxEntries+maxEntries/4)
		}
	}
	react := func(seq, ref int64) error {
		return cv.judge(&Message{Seq: seq, Sender: "eve", StoredAt: at, Content: e2ee.Content{React: &e2ee.Reaction{Ref: ref, Emoji: "👍"}}})
	}
	if err := react(n+1, n-maxEntries+2); err != nil {
		t.Errorf("a reaction within the last %d: %v", maxEntries, err)
	}
	if err := react(n+2, 1); !errors.Is(err, e2ee.ErrUnknownRef) {
		t.Errorf("a reaction to #1 of %d: %v, want ErrUnknownRef", n, err)
	}
}
