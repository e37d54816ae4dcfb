package function

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

func invoke(t *testing.T) event.Event {
	t.Helper()
	m := events.Message{
		ConversationID: "conv-1", Seq: 7, SenderID: "alice", SenderDevice: "alice-phone",
		ClientMessageID: "cm-1", StoredAt: time.Now().UTC(),
		Envelope: &e2ee.Envelope{V: e2ee.Version, Nonce: make([]byte, 12), Ciphertext: make([]byte, 32),
			Keys: []e2ee.WrappedKey{{Device: "bot-1", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}}},
	}
	e, err := events.NewAgentInvoke("bot", "model", m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func status(err error) int {
	var r *cehttp.Result
	if errors.As(err, &r) {
		return r.StatusCode
	}
	return 0
}

func TestHandle(t *testing.T) {
	f := New()
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Ready(context.Background()); !ok || err != nil {
		t.Fatalf("Ready = %v, %v", ok, err)
	}

	wrongType := invoke(t)
	wrongType.SetType(events.TypeAgentDone)
	otherAgent := invoke(t)
	otherAgent.SetExtension(events.ExtAgentID, "someone-else")
	noData := invoke(t)
	noData.SetData("application/json", map[string]any{"agentId": "bot"})

	for _, c := range []struct {
		name string
		e    event.Event
		want int
	}{
		{"valid", invoke(t), 0},
		{"wrong type", wrongType, http.StatusBadRequest},
		{"agentid mismatch", otherAgent, http.StatusBadRequest},
		{"bad data", noData, http.StatusBadRequest},
	} {
		reply, err := f.Handle(context.Background(), c.e)
		if got := status(err); got != c.want || (c.want == 0 && err != nil) {
			t.Errorf("%s: status %d (%v), want %d", c.name, got, err, c.want)
		}
		if reply != nil {
			t.Errorf("%s: reply %v, want none", c.name, reply)
		}
	}
}

func TestStartBadLogLevel(t *testing.T) {
	t.Setenv("LOG_LEVEL", "LOUD")
	if err := New().Start(context.Background(), nil); err == nil {
		t.Error("Start with LOG_LEVEL=LOUD succeeded")
	}
}
