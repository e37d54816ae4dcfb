package connector

import (
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// A resume frame is one event about the device: its positions, stamped
// with the authenticated user and device, and no conversation.
func TestResumeFrameBecomesOneEvent(t *testing.T) {
	if protocol.MaxResumePositions != events.MaxResumeConversations {
		t.Fatalf("protocol.MaxResumePositions %d != events.MaxResumeConversations %d", protocol.MaxResumePositions, events.MaxResumeConversations)
	}
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	c.sendFrame(protocol.Frame{Type: protocol.TypeResume, ID: "resume:1", Receipts: true, From: "c-0",
		Positions: []protocol.Position{{Conversation: "c-1", Seq: 17}, {Conversation: "c-2"}}})
	eventually(t, frameWait, "the resume event", func() bool { return len(e.sink.received()) == 1 })
	g := e.sink.received()[0]
	want := `{"positions":[{"conversationId":"c-1","seq":17},{"conversationId":"c-2","seq":0}],"from":"c-0","receipts":true,"requestId":"resume:1"}`
	if g.Type() != events.TypeResumeRequested || g.Subject() != "" || string(g.Data()) != want ||
		g.Extensions()[events.ExtSenderID] != "alice" || g.Extensions()[events.ExtDeviceID] != "d1" {
		t.Errorf("got %s subject %q %s %v, want %s without subject %s from alice/d1", g.Type(), g.Subject(), g.Data(), g.Extensions(), events.TypeResumeRequested, want)
	}
	// Bad input is answered, with the frame's id, and nothing is posted.
	c.sendRaw(`{"type":"resume","id":"resume:2","positions":[{"conversation":"c 1","seq":1}]}`)
	if f := c.nextOfType(protocol.TypeError); f.Code != protocol.CodeBadFrame || f.ID != "resume:2" {
		t.Errorf("bad conversation id: got %+v, want bad_frame for resume:2", f)
	}
	c.sendRaw(`{"type":"resume","id":"resume:3","positions":[{"conversation":"c1","seq":1},{"conversation":"c1","seq":2}]}`)
	if f := c.nextOfType(protocol.TypeError); f.Code != protocol.CodeBadFrame || f.ID != "resume:3" {
		t.Errorf("a conversation twice: got %+v, want bad_frame for resume:3", f)
	}
	if n := len(e.sink.received()); n != 1 {
		t.Errorf("%d events posted, want 1", n)
	}
}

// route's resume.batch becomes one resumed frame: a batch per
// conversation, the gone ones, the next page; a refusal, an error frame.
func TestResumeBatchBecomesOneResumedFrame(t *testing.T) {
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	m := events.Message{ConversationID: "c-1", Seq: 18, SenderID: "bob", SenderDevice: "b1", ClientMessageID: "m-18",
		Envelope: envelope(16, "d1", "b1"), StoredAt: must(stored(t, "c-1", 18, "bob", "b1", "m-18", envelope(16, "d1")).Time(), nil)}
	b := must(events.NewResumeBatch("alice", "d1", events.ResumeBatch{RequestID: "resume:1",
		Conversations: []events.ResumedConversation{
			{ConversationID: "c-1", Messages: []events.Message{m}, LastSeq: 18, Cursors: []events.Cursor{{User: "bob", Delivered: 18, Read: 17}}},
			{ConversationID: "c-2", LastSeq: 40, More: true, Kind: "group", Rev: 3, Members: []string{"alice", "bob"}, Title: "Plans"},
		},
		Gone: []string{"c-9"}, Next: "c-2"}))
	e.publish(b, [2]string{"alice", "d1"})
	f := c.nextOfType(protocol.TypeResumed)
	if f.ID != "resume:1" || f.Next != "c-2" || len(f.Gone) != 1 || f.Gone[0] != "c-9" || len(f.Batches) != 2 {
		t.Fatalf("resumed: got %+v", f)
	}
	b1, b2 := f.Batches[0], f.Batches[1]
	if b1.Type != protocol.TypeBatch || b1.Conversation != "c-1" || b1.LastSeq != 18 || b1.More || len(b1.Messages) != 1 ||
		b1.Messages[0].Seq != 18 || b1.Messages[0].Sender != "bob" || b1.Messages[0].ID != "m-18" || len(b1.Cursors) != 1 {
		t.Errorf("first batch: %+v", b1)
	}
	if b2.Conversation != "c-2" || b2.LastSeq != 40 || !b2.More || len(b2.Messages) != 0 {
		t.Errorf("second batch: %+v", b2)
	}
	// what names a conversation new to the device, only where route set it
	if b1.Kind != "" || b1.Rev != 0 || b1.Members != nil || b1.Title != "" ||
		b2.Kind != "group" || b2.Rev != 3 || strings.Join(b2.Members, ",") != "alice,bob" || b2.Title != "Plans" {
		t.Errorf("names: first %q %d %v %q, second %q %d %v %q", b1.Kind, b1.Rev, b1.Members, b1.Title, b2.Kind, b2.Rev, b2.Members, b2.Title)
	}

	refusal := must(events.NewResumeBatch("alice", "d1", events.ResumeBatch{RequestID: "resume:2", Code: protocol.CodeUnauthorized, Reason: "this device has been revoked"}))
	e.publish(refusal, [2]string{"alice", "d1"})
	if f := c.nextOfType(protocol.TypeError); f.ID != "resume:2" || f.Code != protocol.CodeUnauthorized {
		t.Errorf("refusal: got %+v", f)
	}
}
