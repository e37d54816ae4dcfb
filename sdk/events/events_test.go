package events_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// envelope returns a well-shaped envelope for the given devices (random
// bytes: validation looks at shape only).
func envelope(devices ...string) *e2ee.Envelope {
	rnd := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(64)}
	for _, d := range devices {
		env.Keys = append(env.Keys, e2ee.WrappedKey{Device: d, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)})
	}
	return env
}

func sent(t *testing.T) event.Event {
	t.Helper()
	e, err := events.NewMessageSent(events.SourceConnectorPrefix+"c1", "conv-1", "alice", "dev-a",
		events.MessageSent{ClientMessageID: "m-1", Envelope: envelope("dev-a", "dev-b")})
	if err != nil {
		t.Fatalf("NewMessageSent: %v", err)
	}
	return e
}

func TestExtensionNamesAreValidForKnative(t *testing.T) {
	knative := regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	for _, name := range []string{events.ExtConversationID, events.ExtSenderID, events.ExtDeviceID, events.ExtPartitionKey,
		events.ExtTraceParent, events.ExtAgentID, events.ExtAgentKind} {
		if !knative.MatchString(name) {
			t.Errorf("extension %q does not match %s", name, knative)
		}
	}
}

func TestMessageIDIsStableAndDistinct(t *testing.T) {
	a := events.MessageID("alice", "dev-a", "m-1")
	if got := events.MessageID("alice", "dev-a", "m-1"); got != a {
		t.Errorf("same inputs: got %s, want %s", got, a)
	}
	for _, other := range []string{
		events.MessageID("alice", "dev-b", "m-1"),
		events.MessageID("bob", "dev-a", "m-1"),
		events.MessageID("alice", "dev-a", "m-2"),
		events.MessageID("alice", "dev-a\x00", "m-1"[1:]),
	} {
		if other == a {
			t.Errorf("different inputs gave the same id %s", a)
		}
	}
}

func TestNewMessageSentSetsEverythingRequired(t *testing.T) {
	e := sent(t)
	ext := e.Extensions()
	checks := map[string]string{
		"type":           e.Type(),
		"subject":        e.Subject(),
		"conversationid": ext[events.ExtConversationID].(string),
		"partitionkey":   ext[events.ExtPartitionKey].(string),
		"senderid":       ext[events.ExtSenderID].(string),
		"deviceid":       ext[events.ExtDeviceID].(string),
		"id":             e.ID(),
	}
	want := map[string]string{
		"type": events.TypeMessageSent, "subject": "conv-1", "conversationid": "conv-1", "partitionkey": "conv-1",
		"senderid": "alice", "deviceid": "dev-a", "id": events.MessageID("alice", "dev-a", "m-1"),
	}
	for k, w := range want {
		if checks[k] != w {
			t.Errorf("%s = %q, want %q", k, checks[k], w)
		}
	}
	got, err := events.Decode[events.MessageSent](e)
	if err != nil || got.ClientMessageID != "m-1" || len(got.Envelope.Keys) != 2 {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
}

func TestValidateRejectsMalformedEvents(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *event.Event)
		want   string
	}{
		{"unknown type", func(e *event.Event) { e.SetType("io.agentchat.nope") }, "unknown type"},
		{"missing source", func(e *event.Event) { e.SetSource("") }, "source"},
		{"subject differs", func(e *event.Event) { e.SetSubject("conv-2") }, "subject"},
		{"bad conversation", func(e *event.Event) {
			e.SetExtension(events.ExtConversationID, "bad id!")
			e.SetSubject("bad id!")
		}, "conversation id"},
		{"partition key differs", func(e *event.Event) { e.SetExtension(events.ExtPartitionKey, "x") }, "partitionkey"},
		{"no sender", func(e *event.Event) { e.SetExtension(events.ExtSenderID, nil) }, "senderid"},
		{"no data", func(e *event.Event) { e.DataEncoded = nil }, "no data"},
		{"unknown field", func(e *event.Event) {
			e.DataEncoded = []byte(`{"clientMessageId":"m-1","envelope":null,"sender":"mallory"}`)
		}, "unknown field"},
		{"no envelope", func(e *event.Event) { e.DataEncoded = []byte(`{"clientMessageId":"m-1"}`) }, "malformed envelope"},
		{"bad client id", func(e *event.Event) {
			d, _ := json.Marshal(events.MessageSent{ClientMessageID: "has space", Envelope: envelope("d")})
			e.DataEncoded = d
		}, "clientMessageId"},
		{"wrong content type", func(e *event.Event) { e.SetDataContentType("text/plain") }, "datacontenttype"},
		{"oversized data", func(e *event.Event) {
			e.DataEncoded = append([]byte(`{"clientMessageId":"`), bytes.Repeat([]byte("a"), events.MaxDataSize)...)
		}, "over"},
		{"trailing data", func(e *event.Event) { e.DataEncoded = append(e.Data(), []byte(`{}`)...) }, "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sent(t)
			tt.mutate(&e)
			err := events.Validate(e)
			if err == nil {
				t.Fatal("Validate accepted a malformed event")
			}
			if !errors.Is(err, events.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestEveryTypeHasAValidConstructedExample(t *testing.T) {
	msg := events.Message{ConversationID: "conv-1", Seq: 7, SenderID: "alice", SenderDevice: "dev-a",
		ClientMessageID: "m-1", Envelope: envelope("dev-a", "dev-b"), StoredAt: time.Now()}
	src := events.SourceConnectorPrefix + "c1"
	build := map[string]func() (event.Event, error){
		events.TypeMessageSent:   func() (event.Event, error) { return sent(t), nil },
		events.TypeMessageStored: func() (event.Event, error) { return events.NewMessageStored(msg) },
		events.TypeMessageRejected: func() (event.Event, error) {
			return events.NewMessageRejected("conv-1", "alice", "dev-a", events.MessageRejected{ClientMessageID: "m-1", Code: "not_member", Reason: "not a member"})
		},
		events.TypeReceiptDelivered: func() (event.Event, error) {
			return events.NewReceipt(events.TypeReceiptDelivered, src, "conv-1", "bob", "dev-b", 7)
		},
		events.TypeReceiptRead: func() (event.Event, error) {
			return events.NewReceipt(events.TypeReceiptRead, src, "conv-1", "bob", "dev-b", 7)
		},
		events.TypeTyping: func() (event.Event, error) {
			return events.NewTyping(src, "conv-1", "bob", "dev-b", events.TypingStarted)
		},
		events.TypeSyncRequested: func() (event.Event, error) {
			return events.NewSyncRequested(src, "conv-1", "bob", "dev-b", events.SyncRequested{After: 3})
		},
		events.TypeSyncBatch: func() (event.Event, error) {
			return events.NewSyncBatch("conv-1", "bob", "dev-b", events.SyncBatch{Messages: []events.Message{msg}, LastSeq: 7})
		},
		events.TypeResumeRequested: func() (event.Event, error) {
			return events.NewResumeRequested(src, "bob", "dev-b", events.ResumeRequested{
				Positions: []events.ResumePosition{{ConversationID: "conv-1", Seq: 3}}, Receipts: true})
		},
		events.TypeResumeBatch: func() (event.Event, error) {
			return events.NewResumeBatch("bob", "dev-b", events.ResumeBatch{
				Conversations: []events.ResumedConversation{{ConversationID: "conv-1", Messages: []events.Message{msg}, LastSeq: 7}}})
		},
		events.TypeAgentInvoke: func() (event.Event, error) { return events.NewAgentInvoke("agent-1", "model", withAudience(t, msg)) },
		events.TypeAgentPartial: func() (event.Event, error) {
			return events.New(events.TypeAgentPartial, "p1", events.Meta{Source: events.SourceAgentPrefix + "agent-1", Conversation: "conv-1", Sender: "agent-1", Device: "agent-1", AgentID: "agent-1"},
				events.AgentPartial{AgentID: "agent-1", ReplyTo: 7, Envelope: envelope("dev-a")})
		},
		events.TypeAgentDone: func() (event.Event, error) {
			return events.New(events.TypeAgentDone, "d1", events.Meta{Source: events.SourceAgentPrefix + "agent-1", Conversation: "conv-1", Sender: "agent-1", Device: "agent-1", AgentID: "agent-1"},
				events.AgentDone{AgentID: "agent-1", ReplyTo: 7, ClientMessageID: "r-7"})
		},
		events.TypeAgentError: func() (event.Event, error) {
			return events.New(events.TypeAgentError, "e1", events.Meta{Source: events.SourceAgentPrefix + "agent-1", Conversation: "conv-1", Sender: "agent-1", Device: "agent-1", AgentID: "agent-1"},
				events.AgentError{AgentID: "agent-1", ReplyTo: 7, Code: "timeout", Message: "the model did not answer"})
		},
		events.TypeAgentStatus: func() (event.Event, error) {
			return events.New(events.TypeAgentStatus, "s1", events.Meta{Source: events.SourceAgentPrefix + "agent-1", Conversation: "conv-1", Sender: "agent-1", Device: "agent-1", AgentID: "agent-1"},
				events.AgentStatus{AgentID: "agent-1", ReplyTo: 7, Index: 3, State: events.StatusTool, Tools: []string{"history", "mcp__search"}})
		},
		events.TypeToolCalled: func() (event.Event, error) {
			return events.NewToolCalled("conv-1", "agent-1", "model", events.ToolCalled{CallID: "tc-1", Tool: "history", AgentID: "agent-1", ReplyTo: 7, Arguments: `{"last":5}`})
		},
		events.TypeToolResult: func() (event.Event, error) {
			call, err := events.NewToolCalled("conv-1", "agent-1", "model", events.ToolCalled{CallID: "tc-1", Tool: "history", AgentID: "agent-1", ReplyTo: 7, Arguments: `{}`})
			if err != nil {
				return call, err
			}
			return events.NewToolResult(call, "no earlier messages", false)
		},
		events.TypeMediaUploadRequested: func() (event.Event, error) {
			return events.New(events.TypeMediaUploadRequested, "u1", events.Meta{Source: src, Conversation: "conv-1", Sender: "alice", Device: "dev-a"},
				events.MediaUploadRequested{MediaID: "media-1", Size: 10, SHA256: strings.Repeat("a", 64), Kind: events.MediaImage})
		},
		events.TypeMediaUploadReady: func() (event.Event, error) {
			return events.New(events.TypeMediaUploadReady, "u2", events.Meta{Source: events.SourceMedia, Conversation: "conv-1", Sender: "alice", Device: "dev-a"},
				events.MediaUploadReady{MediaID: "media-1", UploadURL: "http://127.0.0.1/x", ExpiresAt: time.Now()})
		},
		events.TypeMediaStored: func() (event.Event, error) {
			return events.New(events.TypeMediaStored, "u3", events.Meta{Source: events.SourceMedia, Conversation: "conv-1", Sender: "alice", Device: "dev-a"},
				events.MediaStored{MediaID: "media-1", Size: 10, SHA256: strings.Repeat("a", 64)})
		},
		events.TypeMediaUploadCompleted: func() (event.Event, error) {
			return events.NewMediaRequest(events.TypeMediaUploadCompleted, src, "conv-1", "alice", "dev-a",
				events.MediaStored{MediaID: "media-1", Size: 10, SHA256: strings.Repeat("a", 64)})
		},
		events.TypeMediaDownloadRequested: func() (event.Event, error) {
			return events.NewMediaRequest(events.TypeMediaDownloadRequested, src, "conv-1", "bob", "dev-b",
				events.MediaDownloadRequested{MediaID: "media-1"})
		},
		events.TypeMediaDownloadReady: func() (event.Event, error) {
			req, _ := events.NewMediaRequest(events.TypeMediaDownloadRequested, src, "conv-1", "bob", "dev-b",
				events.MediaDownloadRequested{MediaID: "media-1"})
			return events.NewMediaAnswer(events.TypeMediaDownloadReady, req, events.MediaDownloadReady{MediaID: "media-1",
				DownloadURL: "http://127.0.0.1/x", ExpiresAt: time.Now(), Size: 10, SHA256: strings.Repeat("b", 64)})
		},
		events.TypeMediaRejected: func() (event.Event, error) {
			req, _ := events.NewMediaRequest(events.TypeMediaDownloadRequested, src, "conv-1", "eve", "dev-e",
				events.MediaDownloadRequested{MediaID: "media-1"})
			return events.NewMediaAnswer(events.TypeMediaRejected, req, events.MediaRejected{MediaID: "media-1",
				Request: events.TypeMediaDownloadRequested, Code: "not_member", Reason: "you are not a member of this conversation"})
		},
	}
	build[events.TypeConversationChanged] = func() (event.Event, error) {
		return events.NewConversationChanged("conv-1", "alice", "dev-a", events.ConversationChanged{Kind: "group", Rev: 2, Members: []string{"alice", "bob"}})
	}
	build[events.TypeDeviceChanged] = func() (event.Event, error) {
		return events.NewDeviceChanged(events.DeviceChanged{User: "alice", Device: "dev-a", Revoked: true})
	}
	build[events.TypePresenceChanged] = func() (event.Event, error) {
		return events.NewPresenceChanged(src, "alice", "dev-a", events.PresenceOffline, 17)
	}
	build[events.TypePresenceRequested] = func() (event.Event, error) {
		return events.NewPresenceRequested(src, "bob", "dev-b", "p-1")
	}
	build[events.TypePresenceState] = func() (event.Event, error) {
		seen := time.Now().UTC()
		return events.NewPresenceState("alice", "dev-a", events.PresenceState{Users: []events.UserPresence{{User: "alice", LastSeen: &seen}}})
	}
	for _, typ := range events.AllTypes {
		b, ok := build[typ]
		if !ok {
			t.Errorf("no example for %s", typ)
			continue
		}
		e, err := b()
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		// A round trip through structured JSON (what Redis carries) stays valid.
		raw, _ := json.Marshal(e)
		var back event.Event
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Errorf("%s: unmarshal: %v", typ, err)
		} else if err := events.Validate(back); err != nil {
			t.Errorf("%s after JSON round trip: %v", typ, err)
		}
	}
	if len(build) != len(events.AllTypes) {
		t.Errorf("examples for %d types, catalog has %d", len(build), len(events.AllTypes))
	}
}

func FuzzValidate(f *testing.F) {
	e, _ := events.NewMessageSent("/s", "conv-1", "alice", "dev-a", events.MessageSent{ClientMessageID: "m-1", Envelope: envelope("dev-a")})
	raw, _ := json.Marshal(e)
	f.Add(raw)
	f.Add([]byte(`{"specversion":"1.0","id":"1","type":"io.agentchat.typing","source":"/s","subject":"c","conversationid":"c","partitionkey":"c","senderid":"a","deviceid":"d","data":{"state":"typing"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e event.Event
		if json.Unmarshal(data, &e) != nil {
			return
		}
		if err := events.Validate(e); err != nil && !errors.Is(err, events.ErrInvalid) {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
	})
}

// An agent status names a known state, and tools only (and always) for
// state tool, each a tool name.
func TestAgentStatusChecks(t *testing.T) {
	for _, tc := range []struct {
		s  events.AgentStatus
		ok bool
	}{
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, State: events.StatusQueued}, true},
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, Index: 2000, State: events.StatusTool, Tools: []string{"history"}}, true},
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, State: "sleeping"}, false},
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, State: events.StatusTool}, false},
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, State: events.StatusThinking, Tools: []string{"history"}}, false},
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, State: events.StatusTool, Tools: []string{"no spaces"}}, false},
		{events.AgentStatus{AgentID: "a", ReplyTo: 0, State: events.StatusQueued}, false},
		{events.AgentStatus{AgentID: "a", ReplyTo: 1, Index: -1, State: events.StatusQueued}, false},
	} {
		_, err := events.New(events.TypeAgentStatus, "s1", events.Meta{Source: events.SourceAgentPrefix + "a", Conversation: "conv-1",
			Sender: "a", Device: "a", AgentID: "a"}, tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v, want ok %v", tc.s, err, tc.ok)
		}
	}
}
