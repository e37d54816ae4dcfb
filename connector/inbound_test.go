package connector

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func TestSendPostsMessageSentAsTheAuthenticatedDevice(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.CEOverrides = `{"extensions":{"cluster":"dev"}}` })
	c := e.dial("alice", "d1")
	c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-1", Conversation: "conv-1", Envelope: envelope(32, "d1", "d2")})
	eventually(t, frameWait, "the sink to receive the event", func() bool { return len(e.sink.received()) == 1 })

	got := e.sink.received()[0]
	if err := events.Validate(got); err != nil {
		t.Fatalf("posted event does not validate: %v", err)
	}
	ext := got.Extensions()
	for _, tc := range []struct{ name, got, want string }{
		{"type", got.Type(), events.TypeMessageSent},
		{"id", got.ID(), events.MessageID("alice", "d1", "m-1")},
		{"source", got.Source(), events.SourceConnectorPrefix + e.srv.ID()},
		{"senderid", ext[events.ExtSenderID].(string), "alice"},
		{"deviceid", ext[events.ExtDeviceID].(string), "d1"},
		{"conversationid", ext[events.ExtConversationID].(string), "conv-1"},
		{"K_CE_OVERRIDES extension", ext["cluster"].(string), "dev"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !e.sink.binary {
		t.Error("event was not posted in binary mode")
	}
	d, err := events.Decode[events.MessageSent](got)
	if err != nil || d.ClientMessageID != "m-1" || len(d.Envelope.Keys) != 2 {
		t.Errorf("data: got %+v, %v", d, err)
	}
}

func TestEveryClientFrameBecomesItsEvent(t *testing.T) {
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	c.sendFrame(protocol.Frame{Type: protocol.TypeDelivered, Conversation: "conv-1", Seq: 4})
	c.sendFrame(protocol.Frame{Type: protocol.TypeRead, Conversation: "conv-1", Seq: 3})
	c.sendFrame(protocol.Frame{Type: protocol.TypeTyping, Conversation: "conv-1", State: "typing"})
	c.sendFrame(protocol.Frame{Type: protocol.TypeSync, Conversation: "conv-1", After: 7})
	c.sendFrame(protocol.Frame{Type: protocol.TypeSync, Conversation: "conv-2", After: 0, Limit: 20})
	c.sendFrame(protocol.Frame{Type: protocol.TypeSync, ID: "sync:3", Conversation: "conv-2", After: 5, Receipts: true})
	c.sendFrame(protocol.Frame{Type: protocol.TypeSync, ID: "page:1", Conversation: "conv-2", Before: 51, Limit: 50})
	eventually(t, frameWait, "7 events", func() bool { return len(e.sink.received()) == 7 })

	got := e.sink.received()
	want := []struct {
		typ, conv, data string
	}{
		{events.TypeReceiptDelivered, "conv-1", `{"seq":4}`},
		{events.TypeReceiptRead, "conv-1", `{"seq":3}`},
		{events.TypeTyping, "conv-1", `{"state":"typing"}`},
		{events.TypeSyncRequested, "conv-1", `{"after":7,"limit":100}`},
		{events.TypeSyncRequested, "conv-2", `{"after":0,"limit":20}`},
		{events.TypeSyncRequested, "conv-2", `{"after":5,"limit":100,"receipts":true,"requestId":"sync:3"}`},
		{events.TypeSyncRequested, "conv-2", `{"after":0,"before":51,"limit":50,"requestId":"page:1"}`},
	}
	for i, w := range want {
		g := got[i]
		if g.Type() != w.typ || g.Subject() != w.conv || string(g.Data()) != w.data || g.Extensions()[events.ExtSenderID] != "alice" {
			t.Errorf("event %d: got %s %s %s (sender %v), want %s %s %s", i, g.Type(), g.Subject(), g.Data(),
				g.Extensions()[events.ExtSenderID], w.typ, w.conv, w.data)
		}
	}
}

func TestBadFramesGetErrorsAndTheSocketStaysUsable(t *testing.T) {
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	for _, tc := range []struct {
		name, frame, code, ref string
	}{
		{"malformed JSON", `{"type":"send",`, protocol.CodeBadFrame, ""},
		{"unknown type", `{"type":"teleport"}`, protocol.CodeUnknownType, ""},
		{"missing fields", `{"type":"send","id":"m-1"}`, protocol.CodeBadFrame, "m-1"},
		{"spoofed sender", `{"type":"send","id":"m-2","conversation":"conv-1","sender":"mallory","envelope":` + envJSON(t) + `}`, protocol.CodeBadFrame, "m-2"},
		{"spoofed device", `{"type":"send","id":"m-3","conversation":"conv-1","senderDevice":"d9","envelope":` + envJSON(t) + `}`, protocol.CodeBadFrame, "m-3"},
		{"spoofed user on an ack", `{"type":"read","conversation":"conv-1","seq":1,"user":"bob"}`, protocol.CodeBadFrame, ""},
		{"bad envelope", `{"type":"send","id":"m-4","conversation":"conv-1","envelope":{"v":1}}`, protocol.CodeBadEnvelope, "m-4"},
		{"bad conversation id", `{"type":"send","id":"m-5","conversation":"no spaces","envelope":` + envJSON(t) + `}`, protocol.CodeBadFrame, "m-5"},
		{"sync over the limit", `{"type":"sync","conversation":"conv-1","after":0,"limit":100000}`, protocol.CodeBadFrame, ""},
		{"bad sync id", `{"type":"sync","id":"no spaces","conversation":"conv-1","after":0}`, protocol.CodeBadFrame, "no spaces"},
		{"send with seq", `{"type":"send","id":"m-6","conversation":"conv-1","seq":9,"envelope":` + envJSON(t) + `}`, protocol.CodeBadFrame, "m-6"},
		{"send with storedAt", `{"type":"send","id":"m-7","conversation":"conv-1","storedAt":"2026-01-01T00:00:00Z","envelope":` + envJSON(t) + `}`, protocol.CodeBadFrame, "m-7"},
		{"ack with a limit", `{"type":"delivered","conversation":"conv-1","seq":1,"limit":5}`, protocol.CodeBadFrame, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.sendRaw(tc.frame)
			f := c.next()
			if f.Type != protocol.TypeError || f.Code != tc.code || f.ID != tc.ref {
				t.Errorf("got %+v, want error %s ref %q", f, tc.code, tc.ref)
			}
		})
	}
	c.sendFrame(protocol.Frame{Type: protocol.TypePing, ID: "p-1"})
	if f := c.next(); f.Type != protocol.TypePong || f.ID != "p-1" {
		t.Errorf("after bad frames: got %+v, want pong p-1", f)
	}
	if n := len(e.sink.received()); n != 0 {
		t.Errorf("bad frames posted %d events, want 0", n)
	}
}

func envJSON(t *testing.T) string {
	t.Helper()
	f := protocol.Frame{Envelope: envelope(16, "d1")}
	s := string(must(jsonMarshal(f)))
	return s[strings.Index(s, `{"v"`) : len(s)-1]
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	c.sendRaw(`{"type":"ping","id":"` + strings.Repeat("x", protocol.MaxFrameSize) + `"}`)
	if got, want := c.closeCode(frameWait), protocol.CloseTooBig; got != want {
		t.Errorf("close code: got %d, want %d", got, want)
	}
}

func TestSinkFailureAnswersUnavailable(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadRequest} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := startConnector(t, nil)
			e.sink.setStatus(status)
			c := e.dial("alice", "d1")
			c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-9", Conversation: "conv-1", Envelope: envelope(16, "d1")})
			if f := c.next(); f.Type != protocol.TypeError || f.Code != protocol.CodeUnavailable || f.ID != "m-9" {
				t.Errorf("got %+v, want error unavailable ref m-9", f)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.RateLimit, c.RateBurst, c.RateStrikes = 1, 3, 5 })
	c := e.dial("alice", "d1")
	for range 3 {
		c.sendFrame(protocol.Frame{Type: protocol.TypePing})
		if f := c.next(); f.Type != protocol.TypePong {
			t.Fatalf("within the burst: got %+v, want pong", f)
		}
	}
	c.sendFrame(protocol.Frame{Type: protocol.TypePing})
	if f := c.next(); f.Type != protocol.TypeError || f.Code != protocol.CodeRateLimited {
		t.Fatalf("over the burst: got %+v, want error rate_limited", f)
	}
	for range 10 {
		// The connector may close mid-loop: later writes may fail.
		c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
	}
	if got, want := c.closeCode(frameWait), protocol.CloseRateLimited; got != want {
		t.Errorf("close code after repeated abuse: got %d, want %d", got, want)
	}
}
