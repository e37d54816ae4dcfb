package function

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
)

func deadLetter(id, typ, dest string, code any) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/agentchat/connector/c1")
	e.SetExtension(events.ExtConversationID, "conv-1")
	e.SetExtension(events.ExtErrorDest, dest)
	e.SetExtension(events.ExtErrorCode, code)
	e.SetExtension(events.ExtErrorData, "SECRET-RESPONSE-BODY")
	e.SetData("application/json", map[string]string{"canary": "PLAINTEXT-CANARY"})
	return e
}

func TestHandleCountsAndNeverLogsData(t *testing.T) {
	var buf bytes.Buffer
	f := New()
	f.log = slog.New(slog.NewJSONHandler(&buf, nil))

	in := []event.Event{
		deadLetter("1", events.TypeMessageSent, "http://persist", "500"),
		deadLetter("2", events.TypeMessageSent, "http://persist", 500), // numeric code
		deadLetter("3", events.TypeAgentInvoke, "http://agent-invoke", "400"),
		event.New(), // not even valid: still accepted
	}
	for _, e := range in {
		reply, err := f.HandleEvent(context.Background(), e)
		if reply != nil || err != nil {
			t.Fatalf("Handle(%s) = %v, %v; want nil, nil", e.ID(), reply, err)
		}
	}
	counts, total := f.Counts()
	if got, want := total, int64(len(in)); got != want {
		t.Errorf("total = %d, want %d", got, want)
	}
	for k, want := range map[Key]int64{
		{events.TypeMessageSent, "http://persist", "500"}:      2,
		{events.TypeAgentInvoke, "http://agent-invoke", "400"}: 1,
	} {
		if got := counts[k]; got != want {
			t.Errorf("counts[%v] = %d, want %d", k, got, want)
		}
	}
	logs := buf.String()
	for _, secret := range []string{"PLAINTEXT-CANARY", "SECRET-RESPONSE-BODY"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{`"knativeerrordest":"http://persist"`, `"knativeerrorcode":"500"`, `"type":"io.agentchat.agent.invoke"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// LOG_LEVEL comes from func's config map; an unknown level stops Start.
func TestStartReadsTheLevel(t *testing.T) {
	f := New()
	if err := f.Start(context.Background(), map[string]string{"LOG_LEVEL": "WARN"}); err != nil {
		t.Fatal(err)
	}
	if f.level.Level() != slog.LevelWarn {
		t.Errorf("level = %v, want WARN", f.level.Level())
	}
	if err := f.Start(context.Background(), map[string]string{"LOG_LEVEL": "LOUD"}); err == nil {
		t.Error("LOG_LEVEL LOUD accepted")
	}
	if err := New().Start(context.Background(), nil); err != nil {
		t.Errorf("no configuration: %v", err)
	}
}
