package function

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/usage"
)

// testTools are the bot's tools in these tests.
var testTools = []toolSpec{
	{Name: "history", Description: "reads the conversation", Parameters: map[string]any{"type": "object"}},
	{Name: "http", Description: "calls an API", Parameters: map[string]any{"type": "object"}},
}

// fakeTool answers tool.called as a tool function does: once per call id
// (runs counts executions, deliveries every delivery), its reply brought
// back to agent-invoke by deliver.
type fakeTool struct {
	t       *testing.T
	mu      sync.Mutex
	runs    map[string]int
	calls   map[string]events.ToolCalled
	deliv   map[string]int
	hold    map[string]chan struct{} // a call id held until closed
	deliver func(event.Event)
}

func newFakeTool(t *testing.T, deliver func(event.Event)) *fakeTool {
	return &fakeTool{t: t, runs: map[string]int{}, calls: map[string]events.ToolCalled{}, deliv: map[string]int{},
		hold: map[string]chan struct{}{}, deliver: deliver}
}

func (ft *fakeTool) handle(e event.Event) {
	c, err := events.Decode[events.ToolCalled](e)
	if err != nil {
		ft.t.Errorf("tool.called: %v", err)
		return
	}
	if fn, _ := e.Extensions()[events.ExtToolName].(string); fn != c.Tool {
		ft.t.Errorf("toolname %q, data.tool %q", fn, c.Tool)
	}
	ft.mu.Lock()
	ft.deliv[c.CallID]++
	first := ft.runs[c.CallID] == 0
	ft.runs[c.CallID]++ // counted as started: a duplicate is dropped, not run
	ft.calls[c.CallID] = c
	hold := ft.hold[c.CallID]
	ft.mu.Unlock()
	if !first {
		ft.mu.Lock()
		ft.runs[c.CallID]--
		ft.mu.Unlock()
		return
	}
	if hold != nil {
		<-hold
	}
	r, err := events.NewToolResult(e, c.Tool+" says "+c.Arguments, false)
	if err != nil {
		ft.t.Error(err)
		return
	}
	ft.deliver(r)
}

func (ft *fakeTool) count(callID string) (runs, deliveries int) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.runs[callID], ft.deliv[callID]
}

// A question that needs two tool calls (both asked in the first request)
// ends in exactly one stored reply: two model requests, each tool run
// once, the results sent back in the calls' order, nothing of them in the
// ledger in plaintext.
func TestToolsTwoCalls(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Model.Tools = testTools }, chunks("let me look"), chunks("two ", "results"))
	fx.model.toolCalls = map[int][]toolCall{0: {
		{ID: "call_a", Name: "history", Arguments: `{"last":3}`},
		{ID: "call_b", Name: "http", Arguments: `{"url":"http://api/x"}`},
	}}
	ft := newFakeTool(t, func(e event.Event) {
		if _, err := fx.f.HandleEvent(context.Background(), e); err != nil {
			t.Errorf("tool.result: %v", err)
		}
	})
	fx.w.tool = ft.handle
	m := fx.w.say("alice", "what happened?")
	fx.handle(t, m)
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	eventually(t, "the call finished", func() bool { return fx.finished(k) })

	replies := fx.w.stored("bot")
	if len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != "two results" {
		t.Fatalf("replies = %d, want one 'two results'", len(replies))
	}
	if got := fx.model.count(); got != 2 {
		t.Errorf("model requests = %d, want 2", got)
	}
	a, b := events.ToolCallID("c-1", m.Seq, "bot", 0, 0), events.ToolCallID("c-1", m.Seq, "bot", 0, 1)
	for _, id := range []string{a, b} {
		if runs, deliveries := ft.count(id); runs != 1 || deliveries != 1 {
			t.Errorf("tool call %s: runs %d, deliveries %d; want 1, 1", id, runs, deliveries)
		}
	}
	fx.model.mu.Lock()
	first, second := fx.model.requests[0], fx.model.requests[1]
	fx.model.mu.Unlock()
	if len(first.Tools) != 2 || first.Tools[0].Name != "history" {
		t.Errorf("tools offered = %+v", first.Tools)
	}
	n := len(second.Messages)
	if n < 3 {
		t.Fatalf("second request = %+v", second.Messages)
	}
	asst, r1, r2 := second.Messages[n-3], second.Messages[n-2], second.Messages[n-1]
	if asst.Role != roleAssistant || len(asst.ToolCalls) != 2 || asst.Content != "let me look" ||
		r1.Role != roleTool || r1.ToolCallID != "call_a" || r1.Content != `history says {"last":3}` ||
		r2.ToolCallID != "call_b" || r2.Content != `http says {"url":"http://api/x"}` {
		t.Errorf("second request ends with %+v, %+v, %+v", asst, r1, r2)
	}
	// Sealed: the ledger has the calls and results, not their text.
	fx.led.mu.Lock()
	for id, r := range fx.led.results {
		if bytes.Contains(r.Sealed, []byte("says")) {
			t.Errorf("result %s in plaintext", id)
		}
	}
	for id, s := range fx.led.tsteps {
		if bytes.Contains(s.Sealed, []byte("last")) || bytes.Contains(s.Sealed, []byte("history")) {
			t.Errorf("step %s in plaintext", id)
		}
	}
	nres := len(fx.led.results)
	fx.led.mu.Unlock()
	if nres != 2 {
		t.Errorf("results recorded = %d, want 2", nres)
	}
}

// Killed between the tool calls and their results: the instance stops
// while both tools run; one result arrives while nobody waits (any
// instance records it), and the next instance takes the call over,
// posts the other call again — the tool, idempotent by call id, does not
// run it again — gets its result and answers: one reply, one run per
// call id, no model request repeated.
func TestToolsSurviveACrash(t *testing.T) {
	fx := newFixture(t, func(c *config) {
		c.Model.Tools, c.Sweep, c.Lease, c.Hold, c.ToolTimeout = testTools, 20*time.Millisecond, time.Second, 10*time.Millisecond, time.Minute
	},
		chunks(""), chunks("after the crash"))
	fx.model.toolCalls = map[int][]toolCall{0: {
		{ID: "call_a", Name: "history", Arguments: `{}`},
		{ID: "call_b", Name: "http", Arguments: `{}`},
	}}
	m := fx.w.say("alice", "look it up")
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	a, b := events.ToolCallID("c-1", m.Seq, "bot", 0, 0), events.ToolCallID("c-1", m.Seq, "bot", 0, 1)

	// Results go to whichever instance runs now.
	var cur sync.Mutex
	var target *Function = fx.f
	ft := newFakeTool(t, func(e event.Event) {
		cur.Lock()
		f := target
		cur.Unlock()
		if _, err := f.HandleEvent(context.Background(), e); err != nil && !errors.Is(err, errNotStarted) {
			t.Errorf("tool.result: %v", err)
		}
	})
	releaseA, releaseB := make(chan struct{}), make(chan struct{})
	var onceA, onceB sync.Once
	t.Cleanup(func() { onceA.Do(func() { close(releaseA) }); onceB.Do(func() { close(releaseB) }) })
	ft.hold[a], ft.hold[b] = releaseA, releaseB
	fx.w.tool = ft.handle
	fx.handle(t, m)
	eventually(t, "both tools called", func() bool {
		ra, _ := ft.count(a)
		rb, _ := ft.count(b)
		return ra == 1 && rb == 1
	})

	// The instance goes away mid-call: its turn hands the call over.
	cfg := fx.f.deps.Load().cfg
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fx.f.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if fx.finished(k) {
		t.Fatal("the call finished without its tools")
	}
	// A crash leaves the attempt's lease running until it expires (Stop
	// handed it back). A new instance over the same ledger and broker: the
	// first tool's result arrives before its sweeper takes the call over.
	if err := fx.led.Renew(ctx, k, 1, fx.f.owner, time.Now().Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	next := New()
	next.start(cfg, fx.led, fx.used, fx.w.log, fx.model, fx.w, nil, nil)
	t.Cleanup(func() { next.Stop(context.Background()) })
	cur.Lock()
	target = next
	cur.Unlock()
	fx.w.answers = func(e event.Event) { next.HandleEvent(context.Background(), e) }
	onceA.Do(func() { close(releaseA) })
	eventually(t, "the first result recorded", func() bool {
		_, ok, _ := fx.led.ToolResult(context.Background(), k, a)
		return ok
	})
	eventually(t, "the second call posted again by the takeover", func() bool { _, d := ft.count(b); return d == 2 })
	onceB.Do(func() { close(releaseB) })
	eventually(t, "the call finished", func() bool { return fx.finished(k) })

	replies := fx.w.stored("bot")
	if len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != "after the crash" {
		t.Fatalf("replies = %d, want one 'after the crash'", len(replies))
	}
	if got := fx.model.count(); got != 2 {
		t.Errorf("model requests = %d, want 2 (none repeated)", got)
	}
	for _, id := range []string{a, b} {
		if runs, _ := ft.count(id); runs != 1 {
			t.Errorf("tool call %s ran %d times, want 1", id, runs)
		}
	}
	if _, d := ft.count(a); d != 1 {
		t.Errorf("the first call was delivered %d times, want 1 (its result was in the ledger)", d)
	}
	if st, _ := fx.led.State(context.Background(), k); st.Latest.N < 2 || st.Latest.Owner != next.owner {
		t.Errorf("attempt = %+v, want a takeover by the new instance", st.Latest)
	}
	// Both requests are counted, each once: the first by the attempt that
	// handed the call over, the second by the takeover.
	counter := usage.ConversationCounter("c-1", "bot", usage.PeriodOf(usage.PeriodMonth, time.Now()))
	if spent, _ := fx.used.Total(context.Background(), counter); spent != 2*(scriptUsage.Prompt+scriptUsage.Completion) {
		t.Errorf("tokens counted = %d, want %d (two requests)", spent, 2*(scriptUsage.Prompt+scriptUsage.Completion))
	}
	if turns, _ := fx.used.Turns(context.Background(), "c-1", 10); len(turns) != 2 || turns[0].Step != 0 || turns[1].Step != 1 {
		t.Errorf("usage turns = %+v, want steps 0 and 1", turns)
	}
}

// A tool that does not answer in time: the model gets an error result
// and answers anyway; a late reply changes nothing.
func TestToolTimeout(t *testing.T) {
	fx := newFixture(t, func(c *config) {
		c.Model.Tools = []toolSpec{{Name: "slow", Description: "never answers", Parameters: map[string]any{"type": "object"}, timeout: 50 * time.Millisecond}}
	}, chunks(""), chunks("without it"))
	fx.model.toolCalls = map[int][]toolCall{0: {{ID: "call_s", Name: "slow", Arguments: `{}`}, {ID: "call_x", Name: "nope", Arguments: `{}`}}}
	late := make(chan struct{})
	ft := newFakeTool(t, func(e event.Event) { fx.f.HandleEvent(context.Background(), e) })
	m := fx.w.say("alice", "try it")
	ft.hold[events.ToolCallID("c-1", m.Seq, "bot", 0, 0)] = late
	fx.w.tool = ft.handle
	fx.handle(t, m)
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	eventually(t, "the call finished", func() bool { return fx.finished(k) })
	close(late)
	fx.model.mu.Lock()
	second := fx.model.requests[1]
	fx.model.mu.Unlock()
	n := len(second.Messages)
	if got := second.Messages[n-2].Content; got != "error: the tool slow did not answer within 50ms" {
		t.Errorf("the slow tool's result = %q", got)
	}
	if got := second.Messages[n-1].Content; got != `error: there is no tool named "nope"` {
		t.Errorf("the unknown tool's result = %q", got)
	}
	if len(fx.w.stored("bot")) != 1 {
		t.Error("no single reply")
	}
	if len(fx.w.posted(events.TypeToolCalled)) != 1 {
		t.Error("a tool.called was posted for a tool the agent does not have")
	}
}
