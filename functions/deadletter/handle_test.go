package function

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/deadletters"

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

// withTwin is a sink on the in-memory letters store, not started.
func withTwin(max int) (*Function, *deadletters.Memory) {
	f := New()
	m := deadletters.NewMemory()
	f.letters, f.cfg.MaxEventBytes = m, max
	return f, m
}

func TestHandleCountsAndNeverLogsData(t *testing.T) {
	var buf bytes.Buffer
	f, _ := withTwin(1 << 20)
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

// Each letter is stored whole, with its error attributes, once per
// (source, id); one over the bound keeps its metadata only.
func TestHandleStoresLetters(t *testing.T) {
	f, m := withTwin(2048)
	ctx := context.Background()
	e := deadLetter("1", events.TypeMessageSent, "http://persist", "500")
	for range 2 { // a redelivery to the sink is the same letter
		if _, err := f.HandleEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	big := deadLetter("2", events.TypeAgentInvoke, "http://agent-invoke", "400")
	big.SetData("application/json", map[string]string{"pad": strings.Repeat("x", 4096)})
	if _, err := f.HandleEvent(ctx, big); err != nil {
		t.Fatal(err)
	}
	all, err := m.List(ctx, deadletters.Query{Limit: 10})
	if err != nil || len(all) != 2 {
		t.Fatalf("stored %d letters (%v), want 2", len(all), err)
	}
	got, err := m.Get(ctx, deadletters.Key(e.Source(), e.ID()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != events.TypeMessageSent || got.Conversation != "conv-1" || got.ErrorDest != "http://persist" ||
		got.ErrorCode != "500" || got.ErrorData != "SECRET-RESPONSE-BODY" || got.State != deadletters.Dead || got.Truncated {
		t.Errorf("letter = %+v", got)
	}
	var back event.Event
	if err := back.UnmarshalJSON(got.Event); err != nil || back.ID() != "1" || string(back.Data()) != string(e.Data()) ||
		back.Extensions()[events.ExtErrorDest] != "http://persist" {
		t.Errorf("stored event %s (%v): want the event whole", got.Event, err)
	}
	if got.Size != len(got.Event) {
		t.Errorf("size %d, want %d", got.Size, len(got.Event))
	}
	gotBig, _ := m.Get(ctx, deadletters.Key(big.Source(), big.ID()))
	if !gotBig.Truncated || gotBig.Event != nil || gotBig.Size <= 4096 || gotBig.Type != events.TypeAgentInvoke {
		t.Errorf("over the bound: %+v, want metadata only, truncated, with its size", gotBig)
	}
	if _, total := f.Counts(); total != 3 {
		t.Errorf("total = %d, want 3 deliveries counted", total)
	}
}

// A tool call's arguments and a tool's result are content in clear: their
// letters keep the metadata only, not the event nor the subscriber's
// error body (which may quote them), and cannot be replayed.
func TestHandleKeepsNoClearContent(t *testing.T) {
	f, m := withTwin(1 << 20)
	ctx := context.Background()
	for i, typ := range []string{events.TypeToolCalled, events.TypeToolResult} {
		e := deadLetter(fmt.Sprint("t", i), typ, "http://http-tool", "500")
		e.SetData("application/json", map[string]string{"arguments": "SECRET-ARGUMENTS"})
		if _, err := f.HandleEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := m.Get(ctx, deadletters.Key(e.Source(), e.ID()))
		if err != nil {
			t.Fatal(err)
		}
		if got.Event != nil || !got.Truncated || got.ErrorData != "" || got.Type != typ || got.ErrorCode != "500" {
			t.Errorf("%s: letter %+v, want metadata only (no event, no error body), not replayable", typ, got)
		}
	}
}

// A letter that cannot be stored is refused, so that the broker delivers
// it again.
func TestHandleFailsWhenTheStoreFails(t *testing.T) {
	f, _ := withTwin(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the twin refuses a done context, as a store that is down
	if _, err := f.HandleEvent(ctx, deadLetter("1", events.TypeMessageSent, "http://persist", "500")); err == nil {
		t.Fatal("HandleEvent succeeded without storing")
	}
	if _, total := f.Counts(); total != 0 {
		t.Errorf("counted %d, want 0", total)
	}
}

// The configuration comes from func's config map: a bad level or bound
// stops Start; without MongoDB letters are logged only; with it Start
// connects (the test MongoDB) and letters are stored.
func TestStartReadsTheConfig(t *testing.T) {
	uri := fntest.Need(t, "AGENTCHAT_TEST_MONGODB_URI")
	db := fmt.Sprintf("deadletter_%d", time.Now().UnixNano())
	ctx := context.Background()
	logOnly := New()
	if err := logOnly.Start(ctx, map[string]string{"LOG_LEVEL": "WARN"}); err != nil {
		t.Fatalf("no MONGODB_URI: %v", err)
	}
	if ok, _ := logOnly.Ready(ctx); !ok {
		t.Error("log-only sink not ready")
	}
	if _, err := logOnly.HandleEvent(ctx, deadLetter("0", events.TypeMessageSent, "http://persist", "500")); err != nil {
		t.Errorf("log-only sink refused a letter: %v", err)
	}
	for _, bad := range []map[string]string{
		{"MONGODB_URI": uri, "LOG_LEVEL": "LOUD"},
		{"MONGODB_URI": uri, "DEADLETTER_MAX_EVENT_BYTES": "10"},
	} {
		if err := New().Start(ctx, bad); err == nil {
			t.Errorf("Start(%v) accepted", bad)
		}
	}
	f := New()
	if err := f.Start(ctx, map[string]string{"MONGODB_URI": uri, "MONGODB_DATABASE": db, "LOG_LEVEL": "WARN"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f.mongo != nil {
			f.mongo.DB.Drop(ctx)
		}
		f.Stop(ctx)
	})
	if f.level.Level() != slog.LevelWarn || f.cfg.MaxEventBytes != 1<<20 {
		t.Errorf("level %v, bound %d", f.level.Level(), f.cfg.MaxEventBytes)
	}
	if ok, _ := f.Ready(ctx); !ok {
		t.Error("not ready")
	}
	if _, err := f.HandleEvent(ctx, deadLetter("1", events.TypeMessageSent, "http://persist", "500")); err != nil {
		t.Fatal(err)
	}
	if l, err := f.letters.Get(ctx, deadletters.Key("/agentchat/connector/c1", "1")); err != nil || l.Event == nil {
		t.Errorf("letter in MongoDB: %+v, %v", l, err)
	}
}
