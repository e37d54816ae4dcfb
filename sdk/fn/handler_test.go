package fn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

func TestStatusAndRefusal(t *testing.T) {
	for _, c := range []struct {
		err     error
		status  int
		refusal bool
	}{
		{nil, 200, false},
		{fn.Refuse("bad %s", "data"), 400, true},
		{fn.Unavailable("not started"), 503, false},
		{cehttp.NewResult(http.StatusNotFound, "gone"), 404, false}, // Knative retries 404
		{cehttp.NewResult(http.StatusTooManyRequests, "busy"), 429, false},
		{cehttp.NewResult(http.StatusUnprocessableEntity, "no"), 422, true},
		{errors.New("mongo: down"), 500, false},
	} {
		if got := fn.StatusOf(c.err); got != c.status {
			t.Errorf("StatusOf(%v) = %d, want %d", c.err, got, c.status)
		}
		if got := fn.IsRefusal(c.err); got != c.refusal {
			t.Errorf("IsRefusal(%v) = %v, want %v", c.err, got, c.refusal)
		}
	}
}

// Mux dispatches by type and refuses others; Only refuses before the
// handler runs; Logged logs refusals (WARN) and failures (ERROR) with the
// event's id and type, never its data.
func TestHandlerWrappers(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	var ran []string
	ok := func(ctx context.Context, e event.Event) (*event.Event, error) {
		ran = append(ran, e.Type())
		return nil, nil
	}
	fail := func(ctx context.Context, e event.Event) (*event.Event, error) {
		return nil, fmt.Errorf("sink: %w", cehttp.NewResult(http.StatusServiceUnavailable, "%w", errors.New("store: down")))
	}
	h := fn.Logged(log, fn.Mux{
		events.TypeTyping:      fn.Only(ok, events.TypeTyping),
		events.TypeMessageSent: fail,
	}.Handle)
	ctx := context.Background()
	typ := typing(t, events.TypingStarted)
	if _, err := h(ctx, typ); err != nil {
		t.Fatal(err)
	}
	if _, err := h(ctx, sentEvent(t)); fn.StatusOf(err) != 503 || fn.IsRefusal(err) {
		t.Errorf("failing handler: %v, want the wrapped 503 (retried)", err)
	}
	other := typ.Clone()
	other.SetType(events.TypeAgentDone)
	if _, err := h(ctx, other); !fn.IsRefusal(err) {
		t.Errorf("unknown type: %v, want a refusal", err)
	}
	if len(ran) != 1 {
		t.Errorf("handler ran %d times, want 1", len(ran))
	}
	if _, err := fn.Only(ok, events.TypeReceiptRead)(ctx, typ); !fn.IsRefusal(err) || len(ran) != 1 {
		t.Errorf("Only let %s through: %v", typ.Type(), err)
	}
	out := buf.String()
	if strings.Contains(out, `"msg":"handled"`) {
		t.Errorf("handled events logged at INFO:\n%s", out)
	}
	for _, want := range []string{`"level":"WARN","msg":"refused"`, `"type":"` + events.TypeAgentDone, `"level":"ERROR"`, "store: down", `"event":"` + other.ID()} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "%!") {
		t.Errorf("log has a formatting error:\n%s", out)
	}
	if strings.Contains(out, "envelope") || strings.Contains(out, `"data"`) {
		t.Errorf("log carries data:\n%s", out)
	}
}

// At DEBUG, Logged also logs each event handled, with its conversation;
// at INFO it does not (TestHandlerWrappers).
func TestLoggedAtDebug(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := fn.Logged(log, func(context.Context, event.Event) (*event.Event, error) { return nil, nil })
	e := typing(t, events.TypingStarted)
	if _, err := h(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"level":"DEBUG","msg":"handled"`, `"event":"` + e.ID(), `"conversation":"conv-1"`, `"ms":`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
}

func sentEvent(t *testing.T) event.Event {
	t.Helper()
	e, err := events.NewTyping(events.SourceConnectorPrefix+"c1", "conv-1", "alice", "dev-a", events.TypingStopped)
	if err != nil {
		t.Fatal(err)
	}
	e.SetType(events.TypeMessageSent)
	return e
}

func TestActorOf(t *testing.T) {
	a, ok := fn.ActorOf(typing(t, events.TypingStarted))
	if !ok || a != (fn.Actor{Conversation: "conv-1", User: "alice", Device: "dev-a"}) {
		t.Errorf("actor = %+v %v", a, ok)
	}
	e := typing(t, events.TypingStarted)
	e.SetExtension(events.ExtDeviceID, "bad/id")
	if _, ok := fn.ActorOf(e); ok {
		t.Error("a malformed device id was accepted")
	}
	e.SetExtension(events.ExtErrorCode, 503)
	if got := fn.Ext(e, events.ExtErrorCode); got != "503" {
		t.Errorf("numeric extension = %q, want 503", got)
	}
}
