package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
)

// A resume is about a device, not a conversation: no conversation, no
// subject, the user as partition key; its delivery carries none either.
func TestResumeEventsAreAboutADevice(t *testing.T) {
	req, err := events.NewResumeRequested(events.SourceConnectorPrefix+"c1", "alice", "a1", events.ResumeRequested{
		Positions: []events.ResumePosition{{ConversationID: "c-1", Seq: 7}, {ConversationID: "c-2"}}, Receipts: true, RequestID: "resume:1"})
	if err != nil {
		t.Fatalf("NewResumeRequested: %v", err)
	}
	ext := req.Extensions()
	if _, ok := ext[events.ExtConversationID]; ok || req.Subject() != "" {
		t.Errorf("resume.requested has a conversation: %v, subject %q", ext[events.ExtConversationID], req.Subject())
	}
	if got := ext[events.ExtPartitionKey]; got != "alice" {
		t.Errorf("partition key %v, want the user", got)
	}
	m := events.Message{ConversationID: "c-1", Seq: 8, SenderID: "bob", SenderDevice: "b1", ClientMessageID: "m-1",
		Envelope: envelope("a1", "b1"), StoredAt: time.Now()}
	batch, err := events.NewResumeBatch("alice", "a1", events.ResumeBatch{RequestID: "resume:1",
		Conversations: []events.ResumedConversation{{ConversationID: "c-1", Messages: []events.Message{m}, LastSeq: 8}},
		Gone:          []string{"c-9"}, Next: "c-1"})
	if err != nil {
		t.Fatalf("NewResumeBatch: %v", err)
	}
	if batch.Subject() != "" {
		t.Errorf("resume batch subject %q, want none", batch.Subject())
	}
	// A conversation event still needs its conversation.
	bad := sent(t)
	bad.SetExtension(events.ExtConversationID, "")
	if err := events.Validate(bad); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("message.sent without conversation: %v, want invalid", err)
	}
}

func TestResumeDataIsChecked(t *testing.T) {
	many := make([]events.ResumePosition, events.MaxResumeConversations+1)
	for i := range many {
		many[i] = events.ResumePosition{ConversationID: "c-" + strings.Repeat("x", i%60+1)}
	}
	for _, tc := range []struct {
		name string
		req  events.ResumeRequested
	}{
		{"too many", events.ResumeRequested{Positions: many}},
		{"repeated", events.ResumeRequested{Positions: []events.ResumePosition{{ConversationID: "c"}, {ConversationID: "c", Seq: 2}}}},
		{"negative seq", events.ResumeRequested{Positions: []events.ResumePosition{{ConversationID: "c", Seq: -1}}}},
		{"bad id", events.ResumeRequested{Positions: []events.ResumePosition{{ConversationID: "c 1"}}}},
		{"bad from", events.ResumeRequested{From: "a/b"}},
		{"limit", events.ResumeRequested{Limit: events.MaxSyncLimit + 1}},
	} {
		if _, err := events.NewResumeRequested("/s", "alice", "a1", tc.req); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid", tc.name, err)
		}
	}
	wrongConv := events.Message{ConversationID: "c-2", Seq: 1, SenderID: "bob", SenderDevice: "b1", ClientMessageID: "m-1",
		Envelope: envelope("a1"), StoredAt: time.Now()}
	for _, tc := range []struct {
		name string
		b    events.ResumeBatch
	}{
		{"message of another conversation", events.ResumeBatch{Conversations: []events.ResumedConversation{{ConversationID: "c-1", Messages: []events.Message{wrongConv}}}}},
		{"refusal with content", events.ResumeBatch{Code: "unauthorized", Reason: "r", Gone: []string{"c-1"}}},
		{"refusal without reason", events.ResumeBatch{Code: "unauthorized"}},
	} {
		if _, err := events.NewResumeBatch("alice", "a1", tc.b); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid", tc.name, err)
		}
	}
}
