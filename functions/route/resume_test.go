package function

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	storedir "github.com/agentchat/agentchat/store/directory"
)

// resumeReq sends req as user/device (on the connector online says) and
// returns the one answer delivered to it.
func resumeReq(t *testing.T, f *Function, w *watch, user, device string, req events.ResumeRequested) events.ResumeBatch {
	t.Helper()
	handle(t, f, must(events.NewResumeRequested(events.SourceConnectorPrefix+"A", user, device, req)))
	got := w.drain()
	if len(got) != 1 || len(got[0].targets) != 1 || got[0].targets[0] != dev(user, device) {
		t.Fatalf("deliveries %q, want one for %s/%s", summary(got), user, device)
	}
	b, err := events.Decode[events.ResumeBatch](got[0].inner)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func positions(kv ...any) []events.ResumePosition {
	var out []events.ResumePosition
	for i := 0; i < len(kv); i += 2 {
		out = append(out, events.ResumePosition{ConversationID: kv[i].(string), Seq: int64(kv[i+1].(int))})
	}
	return out
}

func convIDs(b events.ResumeBatch) []string {
	var ids []string
	for _, c := range b.Conversations {
		ids = append(ids, c.ConversationID)
	}
	return ids
}

// One request brings what the device missed everywhere: the messages after
// its position in the conversations it named, all of a conversation it did
// not name (new to it), the members' cursors, and the named conversations
// it is not in.
func TestResumeAnswersEveryConversationInOneBatch(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx) // c1: alice, bob, carol, dave
	if err := storedir.NewMongoDB(fx.db).InsertConversation(context.Background(), storedir.Conversation{ID: "c2", Kind: storedir.Group,
		Title: "Pair", Members: []string{"alice", "bob"}, CreatedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	fx.conversation("c3", "bob", "carol")
	fx.messages("c1", 5, 16)
	fx.messages("c2", 2, 16)
	fx.messages("c3", 4, 16)
	fx.insert(collCursors, bson.M{"_id": "c1/bob", "conversation": "c1", "user": "bob", "delivered": int64(5), "read": int64(4)})
	w := fx.watch()
	f := fx.start(nil)

	b := resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{RequestID: "resume:1", Receipts: true,
		Positions: positions("c1", 3, "c3", 0, "zz", 9)})
	if b.RequestID != "resume:1" || b.Next != "" || b.Code != "" {
		t.Errorf("answer id %q next %q code %q, want resume:1, no next, no code", b.RequestID, b.Next, b.Code)
	}
	if got, want := convIDs(b), []string{"c1", "c2"}; !slices.Equal(got, want) {
		t.Fatalf("conversations %v, want %v", got, want)
	}
	if got, want := b.Gone, []string{"c3", "zz"}; !slices.Equal(got, want) {
		t.Errorf("gone %v, want %v", got, want)
	}
	c1, c2 := b.Conversations[0], b.Conversations[1]
	if len(c1.Messages) != 2 || c1.Messages[0].Seq != 4 || c1.Messages[1].Seq != 5 || c1.LastSeq != 5 || c1.More {
		t.Errorf("c1: %d messages from seq %v, lastSeq %d, more %v; want 4 and 5, lastSeq 5", len(c1.Messages), c1.Messages, c1.LastSeq, c1.More)
	}
	if len(c1.Cursors) != 1 || c1.Cursors[0] != (events.Cursor{User: "bob", Delivered: 5, Read: 4}) {
		t.Errorf("c1 cursors %+v, want bob's", c1.Cursors)
	}
	if len(c2.Messages) != 2 || c2.Messages[0].Seq != 1 || c2.LastSeq != 2 {
		t.Errorf("c2 (not named: new to the device): %d messages, lastSeq %d; want both", len(c2.Messages), c2.LastSeq)
	}
	// what names it comes with a conversation new to the device, only
	if c2.Kind != storedir.Group || c2.Rev != 1 || !slices.Equal(c2.Members, []string{"alice", "bob"}) || c2.Title != "Pair" {
		t.Errorf("c2 (new to the device): kind %q rev %d members %v title %q; want group, 1, alice and bob, Pair", c2.Kind, c2.Rev, c2.Members, c2.Title)
	}
	if c1.Kind != "" || c1.Rev != 0 || c1.Members != nil || c1.Title != "" {
		t.Errorf("c1 (named): %+v, want no kind, rev, members or title", c1)
	}

	// Up to date: nothing but where each conversation is.
	b = resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{Positions: positions("c1", 5, "c2", 2)})
	for _, c := range b.Conversations {
		if len(c.Messages) != 0 || c.More || len(c.Cursors) != 0 {
			t.Errorf("%s up to date: %+v", c.ConversationID, c)
		}
	}
	if len(b.Conversations) != 2 || b.Conversations[0].LastSeq != 5 || b.Conversations[1].LastSeq != 2 {
		t.Errorf("up to date: %+v", b.Conversations)
	}
}

func TestResumeByARevokedOrOfflineDevice(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 3, 16)
	w := fx.watch()
	f := fx.start(nil)
	// dave's d1 is revoked, its token still valid.
	b := resumeReq(t, f, w, "dave", "d1", events.ResumeRequested{RequestID: "resume:7", Positions: positions("c1", 0)})
	if b.Code != protocol.CodeUnauthorized || b.RequestID != "resume:7" || len(b.Conversations) != 0 {
		t.Errorf("revoked device: got %+v, want unauthorized with its id and nothing else", b)
	}
	handle(t, f, must(events.NewResumeRequested(events.SourceConnectorPrefix+"A", "carol", "c1d", events.ResumeRequested{})))
	if got := summary(w.drain()); got != "" {
		t.Errorf("deliveries %q for an offline device", got)
	}
}

// A user in more conversations than a page holds resumes in pages, by
// conversation id; a device that names a full page of positions gets no
// conversation past the last it named (it has not given those yet).
func TestResumePages(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1")
	fx.online("A", dev("alice", "a1"))
	const n = events.MaxResumeConversations + 5
	var all []string
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		all = append(all, id)
		fx.conversation(id, "alice", "bob")
	}
	fx.messages("c104", 1, 16)
	w := fx.watch()
	f := fx.start(nil)

	// Knowing none: two pages.
	p1 := resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{})
	if got := convIDs(p1); !slices.Equal(got, all[:100]) || p1.Next != "c099" {
		t.Fatalf("page 1: %d conversations %v…, next %q; want c000…c099, next c099", len(got), got[:min(3, len(got))], p1.Next)
	}
	p2 := resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{From: p1.Next})
	if got := convIDs(p2); !slices.Equal(got, all[100:]) || p2.Next != "" || len(p2.Conversations[4].Messages) != 1 {
		t.Fatalf("page 2: %v, next %q; want c100…c104, the end", got, p2.Next)
	}

	// A full page of positions: 90 known conversations, and 10 the user
	// has left (x0…x9, above every c…). The first page stops at c099; the
	// next names the rest.
	var pos []events.ResumePosition
	for _, id := range all[:90] {
		pos = append(pos, events.ResumePosition{ConversationID: id, Seq: 0})
	}
	for i := range 10 {
		pos = append(pos, events.ResumePosition{ConversationID: fmt.Sprintf("x%d", i)})
	}
	p1 = resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{Positions: pos})
	if got := convIDs(p1); !slices.Equal(got, all[:100]) || p1.Next != "c099" || len(p1.Gone) != 0 {
		t.Fatalf("full page 1: %d conversations, next %q, gone %v; want c000…c099, next c099, none gone", len(got), p1.Next, p1.Gone)
	}
	p2 = resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{From: "c099", Positions: pos[90:]})
	if got := convIDs(p2); !slices.Equal(got, all[100:]) || p2.Next != "" || len(p2.Gone) != 10 {
		t.Fatalf("full page 2: %v, next %q, gone %v; want c100…c104, the end, x0…x9 gone", got, p2.Next, p2.Gone)
	}
	// A full page whose positions end at c009 (90 of them are conversations
	// the user has left, b00…b89) covers the user's conversations up to
	// c009 only: the device has not said where it is in the others yet.
	pos = nil
	for i := range 90 {
		pos = append(pos, events.ResumePosition{ConversationID: fmt.Sprintf("b%02d", i)})
	}
	for _, id := range all[:10] {
		pos = append(pos, events.ResumePosition{ConversationID: id, Seq: 0})
	}
	p1 = resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{Positions: pos})
	if got := convIDs(p1); !slices.Equal(got, all[:10]) || p1.Next != "c009" || len(p1.Gone) != 90 {
		t.Errorf("positions ending at c009: %v, next %q, %d gone; want c000…c009, next c009, 90 gone", got, p1.Next, len(p1.Gone))
	}
}

// The whole answer stays within one event, however large the envelopes:
// past the budget a conversation comes with no message and More.
func TestResumeStaysUnderTheEventSizeLimit(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.conversation("c2", "alice", "bob")
	fx.messages("c1", 10, 60<<10)
	fx.messages("c2", 10, 60<<10)
	w := fx.watch()
	f := fx.start(nil)
	b := resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{Receipts: true})
	c1, c2 := b.Conversations[0], b.Conversations[1]
	if len(c1.Messages) == 0 || len(c1.Messages) == 10 || !c1.More || c1.LastSeq != 10 {
		t.Errorf("c1: %d messages, more %v, lastSeq %d; want some, more, 10", len(c1.Messages), c1.More, c1.LastSeq)
	}
	if len(c2.Messages) != 0 || !c2.More || c2.LastSeq != 10 || len(c2.Cursors) != 0 {
		t.Errorf("c2 past the budget: %d messages, more %v, lastSeq %d, %d cursors; want none, more, 10", len(c2.Messages), c2.More, c2.LastSeq, len(c2.Cursors))
	}
}
