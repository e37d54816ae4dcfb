package connector

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// TestFramesFor pins the event → frame mapping, the one place it lives.
func TestFramesFor(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	env := envelope(16, "b1")
	envJSON := string(must(json.Marshal(env)))
	msg := events.Message{ConversationID: "conv-1", Seq: 3, SenderID: "alice", SenderDevice: "a1",
		ClientMessageID: "m-1", Envelope: env, StoredAt: at}
	ev := func(e event.Event, err error) event.Event {
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	agentEvent := func(typ string, data any) event.Event {
		e := ev(events.New(typ, "x", events.Meta{Source: "/agentchat/agent/bot", Conversation: "conv-1",
			Sender: "bot", Device: "bot-d", AgentID: "bot"}, data))
		return e
	}
	for _, tc := range []struct {
		name       string
		in         event.Event
		own, other string
	}{
		{"stored", ev(events.NewMessageStored(msg)),
			`{"type":"stored","id":"m-1","conversation":"conv-1","seq":3,"storedAt":"2026-05-01T12:00:00Z"}`,
			`{"type":"message","id":"m-1","conversation":"conv-1","seq":3,"envelope":` + envJSON + `,"sender":"alice","senderDevice":"a1","storedAt":"2026-05-01T12:00:00Z"}`},
		{"rejected", ev(events.NewMessageRejected("conv-1", "alice", "a1", events.MessageRejected{ClientMessageID: "m-1",
			Code: "missing_keys", Reason: "wrap the key for b2", MissingDevices: []string{"b2"}})),
			`{"type":"error","id":"m-1","conversation":"conv-1","code":"missing_keys","message":"wrap the key for b2","missingDevices":["b2"]}`, ""},
		{"delivered", ev(events.NewReceipt(events.TypeReceiptDelivered, "/x", "conv-1", "bob", "b1", 3)),
			`{"type":"receipt","conversation":"conv-1","seq":3,"sender":"bob","senderDevice":"b1","kind":"delivered"}`, ""},
		{"read", ev(events.NewReceipt(events.TypeReceiptRead, "/x", "conv-1", "bob", "b1", 2)),
			`{"type":"receipt","conversation":"conv-1","seq":2,"sender":"bob","senderDevice":"b1","kind":"read"}`, ""},
		{"typing", ev(events.NewTyping("/x", "conv-1", "bob", "b1", "paused")),
			`{"type":"typing","conversation":"conv-1","sender":"bob","state":"paused"}`, ""},
		{"batch", ev(events.NewSyncBatch("conv-1", "alice", "a2", events.SyncBatch{Messages: []events.Message{msg}, More: true, LastSeq: 9})),
			`{"type":"batch","conversation":"conv-1","messages":[{"type":"message","id":"m-1","conversation":"conv-1","seq":3,"envelope":` + envJSON +
				`,"sender":"alice","senderDevice":"a1","storedAt":"2026-05-01T12:00:00Z"}],"more":true,"lastSeq":9}`, ""},
		{"agent partial", agentEvent(events.TypeAgentPartial, events.AgentPartial{AgentID: "bot", ReplyTo: 3, Index: 2, Envelope: env}),
			`{"type":"agent","conversation":"conv-1","envelope":` + envJSON + `,"sender":"bot","senderDevice":"bot-d","kind":"partial","agent":"bot","replyTo":3,"index":2}`, ""},
		{"agent done", agentEvent(events.TypeAgentDone, events.AgentDone{AgentID: "bot", ReplyTo: 3, ClientMessageID: "r-1"}),
			`{"type":"agent","id":"r-1","conversation":"conv-1","sender":"bot","senderDevice":"bot-d","kind":"done","agent":"bot","replyTo":3}`, ""},
		{"agent status", agentEvent(events.TypeAgentStatus, events.AgentStatus{AgentID: "bot", ReplyTo: 3, Index: 1002, State: "tool", Tools: []string{"history", "http"}}),
			`{"type":"agent","conversation":"conv-1","sender":"bot","senderDevice":"bot-d","kind":"status","state":"tool","agent":"bot","replyTo":3,"index":1002,"tools":["history","http"]}`, ""},
		{"agent error", agentEvent(events.TypeAgentError, events.AgentError{AgentID: "bot", ReplyTo: 3, Code: "timeout", Message: "the model did not answer", Retryable: true}),
			`{"type":"agent","conversation":"conv-1","sender":"bot","senderDevice":"bot-d","kind":"error","agent":"bot","replyTo":3,"code":"timeout","message":"the model did not answer","retryable":true}`, ""},
		{"conversation", ev(events.NewConversationChanged("g-1", "alice", "a1", events.ConversationChanged{Kind: "group", Rev: 3,
			Members: []string{"alice", "carol"}, Title: "Team", Removed: []string{"bob"}})),
			`{"type":"conversation","conversation":"g-1","sender":"alice","senderDevice":"a1","kind":"group","rev":3,"members":["alice","carol"],"title":"Team"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr, err := framesFor(tc.in)
			if err != nil {
				t.Fatalf("framesFor: %v", err)
			}
			if tc.other == "" {
				tc.other = tc.own
			}
			if got := string(must(json.Marshal(fr.own))); got != tc.own {
				t.Errorf("own:\n got %s\nwant %s", got, tc.own)
			}
			if got := string(must(json.Marshal(fr.other))); got != tc.other {
				t.Errorf("other:\n got %s\nwant %s", got, tc.other)
			}
		})
	}
}

func TestFramesForRefusesWhatClientsMustNotSee(t *testing.T) {
	sent, _ := events.NewMessageSent("/x", "conv-1", "alice", "a1", events.MessageSent{ClientMessageID: "m", Envelope: envelope(16, "a1")})
	if _, err := framesFor(sent); err == nil {
		t.Error("message.sent became a frame; want an error")
	}
}
