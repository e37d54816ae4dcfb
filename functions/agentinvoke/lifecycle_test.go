package function

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// statusesOf lists the lifecycle receipts posted for the answer to seq, in
// index order, as "state" or "tool:a,b", and checks each is valid and
// numbered apart.
func statusesOf(t *testing.T, w *world, seq int64) (out []string, indexes []int) {
	t.Helper()
	for _, e := range w.posted(events.TypeAgentStatus) {
		s, err := events.Decode[events.AgentStatus](e)
		if err != nil {
			t.Fatalf("agent.status: %v", err)
		}
		if s.ReplyTo != seq {
			continue
		}
		if slices.Contains(indexes, s.Index) {
			t.Errorf("status index %d sent twice", s.Index)
		}
		indexes = append(indexes, s.Index)
		state := s.State
		if len(s.Tools) > 0 {
			state += ":" + strings.Join(s.Tools, ",")
		}
		out = append(out, fmt.Sprintf("%d %s", s.Index, state))
	}
	slices.SortFunc(out, func(a, b string) int {
		var x, y int
		fmt.Sscan(a, &x)
		fmt.Sscan(b, &y)
		return x - y
	})
	for i := range out {
		_, out[i], _ = strings.Cut(out[i], " ")
	}
	return out, indexes
}

// The first call of a new instance says waking, then thinking and
// streaming; the next one (the instance warm) says only thinking and
// streaming; after an idle gap with nothing running, waking again.
func TestLifecycleWaking(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.IdleGap = time.Hour }, chunks("hi ", "there"))
	first := fx.w.say("alice", "one")
	fx.handle(t, first)
	eventually(t, "the first call finished", func() bool { return fx.finished(callKey{"c-1", first.Seq, "bot"}) })
	second := fx.w.say("alice", "two")
	fx.handle(t, second)
	eventually(t, "the second call finished", func() bool { return fx.finished(callKey{"c-1", second.Seq, "bot"}) })
	if got, _ := statusesOf(t, fx.w, first.Seq); !slices.Equal(got, []string{"waking", "thinking", "streaming"}) {
		t.Errorf("first call's statuses = %q, want waking, thinking, streaming", got)
	}
	if got, _ := statusesOf(t, fx.w, second.Seq); !slices.Equal(got, []string{"thinking", "streaming"}) {
		t.Errorf("second call's statuses = %q, want thinking, streaming", got)
	}

	// An idle gap: the instance's last turn ended longer ago than
	// AGENT_IDLE_GAP, and nothing runs.
	d := fx.f.deps.Load()
	d.cfg.IdleGap = time.Millisecond
	fx.f.mu.Lock()
	fx.f.lastTurn = time.Now().Add(-time.Second)
	fx.f.mu.Unlock()
	third := fx.w.say("alice", "three")
	fx.handle(t, third)
	eventually(t, "the third call finished", func() bool { return fx.finished(callKey{"c-1", third.Seq, "bot"}) })
	if got, _ := statusesOf(t, fx.w, third.Seq); !slices.Equal(got, []string{"waking", "thinking", "streaming"}) {
		t.Errorf("after an idle gap: statuses = %q, want waking, thinking, streaming", got)
	}
}

// With every model slot busy, a call says queued, and thinking only once
// it has a slot; the statuses reach route as agent.status events from
// the agent's device, before its reply.
func TestLifecycleQueued(t *testing.T) {
	release := make(chan struct{})
	fx := newFixture(t, func(c *config) { c.MaxCalls, c.Hold = 1, 10*time.Millisecond }, blocking(release, "first"), chunks("second"))
	fx.model.arrived = make(chan struct{}, 4)
	busy := fx.w.say("alice", "hold the slot")
	fx.handle(t, busy)
	<-fx.model.arrived
	waiting := fx.w.say("alice", "wait for it")
	fx.handle(t, waiting)
	eventually(t, "the second call queued", func() bool {
		got, _ := statusesOf(t, fx.w, waiting.Seq)
		return slices.Equal(got, []string{"queued"})
	})
	close(release)
	eventually(t, "both calls finished", func() bool {
		return fx.finished(callKey{"c-1", busy.Seq, "bot"}) && fx.finished(callKey{"c-1", waiting.Seq, "bot"})
	})
	if got, _ := statusesOf(t, fx.w, waiting.Seq); !slices.Equal(got, []string{"queued", "thinking", "streaming"}) {
		t.Errorf("queued call's statuses = %q, want queued, thinking, streaming", got)
	}
	if got, _ := statusesOf(t, fx.w, busy.Seq); !slices.Equal(got, []string{"waking", "thinking", "streaming"}) {
		t.Errorf("first call's statuses = %q", got)
	}
	for _, e := range fx.w.posted(events.TypeAgentStatus) {
		if e.Extensions()[events.ExtAgentID] != "bot" || e.Subject() != "c-1" {
			t.Errorf("status event %s: agent %v, subject %q", e.ID(), e.Extensions()[events.ExtAgentID], e.Subject())
		}
	}
}

// A call that uses tools: thinking, streaming (the model's words before
// its calls), tool with both names, thinking again, streaming.
func TestLifecycleTools(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Model.Tools = testTools }, chunks("let me look"), chunks("done"))
	fx.model.toolCalls = map[int][]toolCall{0: {
		{ID: "call_a", Name: "history", Arguments: `{}`},
		{ID: "call_b", Name: "http", Arguments: `{}`},
		{ID: "call_c", Name: "history", Arguments: `{"again":1}`},
	}}
	ft := newFakeTool(t, func(e event.Event) { fx.f.HandleEvent(context.Background(), e) })
	fx.w.tool = ft.handle
	m := fx.w.say("alice", "look it up")
	fx.handle(t, m)
	eventually(t, "the call finished", func() bool { return fx.finished(callKey{"c-1", m.Seq, "bot"}) })
	got, _ := statusesOf(t, fx.w, m.Seq)
	if want := []string{"waking", "thinking", "streaming", "tool:history,http", "thinking", "streaming"}; !slices.Equal(got, want) {
		t.Errorf("statuses = %q, want %q", got, want)
	}
}

// A takeover numbers its statuses after every status of the attempt
// before, so that clients take them as later.
func TestLifecycleIndexesGrowAcrossAttempts(t *testing.T) {
	if a, b := (1-1)*statusStride+statusStride-1, (2-1)*statusStride; a >= b {
		t.Fatalf("attempt 1's last index %d is not below attempt 2's first %d", a, b)
	}
	fx := newFixture(t, nil, chunks("x"))
	m := fx.w.say("alice", "q")
	inv := fx.w.invokeData(t, "bot", m)
	tr := &turn{f: fx.f, d: fx.f.deps.Load(), k: callKey{"c-1", m.Seq, "bot"}, n: 2, inv: &inv, log: fx.f.log}
	id, err := tr.self(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr.status(context.Background(), id, events.StatusThinking)
	tr.status(context.Background(), id, events.StatusThinking) // said already: not again
	tr.status(context.Background(), id, events.StatusTool)     // no tools: nothing to show
	_, indexes := statusesOf(t, fx.w, m.Seq)
	if !slices.Equal(indexes, []int{statusStride}) {
		t.Errorf("attempt 2's statuses = %v, want one at %d", indexes, statusStride)
	}
}
