package fn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

func typing(t *testing.T, state string) event.Event {
	t.Helper()
	e, err := events.NewTyping(events.SourceConnectorPrefix+"c1", "conv-1", "alice", "dev-a", state)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Send returns once the broker accepted the event, which arrives whole;
// a broker that refuses makes Send fail with the component's name.
func TestBrokerSink(t *testing.T) {
	b := fntest.NewBroker(t)
	s, err := fn.NewSink("tester", b.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := typing(t, events.TypingStarted)
	if err := fn.SendAll(ctx, s, e, typing(t, events.TypingStopped)); err != nil {
		t.Fatal(err)
	}
	got := b.Events()
	if len(got) != 2 || got[0].ID() != e.ID() || events.Validate(got[0]) != nil {
		t.Fatalf("broker got %d events (first %s), want 2 starting with %s, valid", len(got), got[0].ID(), e.ID())
	}
	if ty, _ := events.Decode[events.Typing](got[1]); ty.State != events.TypingStopped {
		t.Errorf("second event = %+v, want paused (order kept)", ty)
	}
	b.Refuse(1)
	err = s.Send(ctx, e)
	if err == nil || !strings.HasPrefix(err.Error(), "tester: post "+events.TypeTyping) {
		t.Errorf("refused post: %v, want an error naming the component and type", err)
	}
	if err := s.Send(ctx, e); err != nil {
		t.Errorf("after the refusal: %v", err)
	}
	if _, err := fn.NewSink("tester", ""); err == nil {
		t.Error("a sink without a URL was made")
	}
}

// A broker that does not answer does not hold Send past ctx.
func TestBrokerSinkHonoursContext(t *testing.T) {
	s, err := fn.NewSink("tester", "http://127.0.0.1:9") // discard port: nothing listens
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Send(ctx, typing(t, events.TypingStarted)); err == nil {
		t.Error("a post nobody accepted succeeded")
	}
}
