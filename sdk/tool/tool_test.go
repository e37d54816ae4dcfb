package tool_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/tool"
)

// memRuns is an in-memory tool.Runs.
type memRuns struct {
	mu   sync.Mutex
	seen map[string]bool
	err  error
}

func (m *memRuns) Claim(_ context.Context, name, callID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	if m.seen[name+"/"+callID] {
		return false, nil
	}
	m.seen[name+"/"+callID] = true
	return true, nil
}

func call(t *testing.T, name, callID string) events.ToolCalled {
	t.Helper()
	return events.ToolCalled{CallID: callID, Tool: name, AgentID: "helper", ReplyTo: 3, Arguments: `{"q":1}`}
}

func TestHandler(t *testing.T) {
	runs := &memRuns{seen: map[string]bool{}}
	var ran atomic.Int32
	h := tool.Handler("echo", runs, slog.New(slog.DiscardHandler), func(_ context.Context, c tool.Call) (string, error) {
		ran.Add(1)
		if c.Arguments == `{"fail":true}` {
			return "", errors.New("no such thing")
		}
		return c.Conversation + " " + c.Device + " " + c.Arguments, nil
	})
	e, err := events.NewToolCalled("conv-1", "dv-helper", "model", call(t, "echo", "tc-1"))
	if err != nil {
		t.Fatal(err)
	}
	// Delivered twice (concurrently): run once, one reply.
	var replies atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			r, err := h(context.Background(), e)
			if err != nil {
				t.Error(err)
			}
			if r == nil {
				return
			}
			replies.Add(1)
			d, err := events.Decode[events.ToolResult](*r)
			if err != nil || d.CallID != "tc-1" || d.Error || d.Content != `conv-1 dv-helper {"q":1}` {
				t.Errorf("result = %+v %v", d, err)
			}
			if k, _ := r.Extensions()[events.ExtAgentKind].(string); k != "model" {
				t.Errorf("agentkind %q, want the call's", k)
			}
		})
	}
	wg.Wait()
	if ran.Load() != 1 || replies.Load() != 1 {
		t.Errorf("runs %d, replies %d; want 1, 1", ran.Load(), replies.Load())
	}
	// A failing run is an error result, not a retry.
	c := call(t, "echo", "tc-2")
	c.Arguments = `{"fail":true}`
	e2, _ := events.NewToolCalled("conv-1", "dv-helper", "model", c)
	r, err := h(context.Background(), e2)
	if err != nil || r == nil {
		t.Fatalf("failing run: %v %v", r, err)
	}
	if d, _ := events.Decode[events.ToolResult](*r); !d.Error || d.Content != "no such thing" {
		t.Errorf("error result = %+v", d)
	}
	// Another tool's call is refused; a claim that cannot be recorded is 503.
	other, _ := events.NewToolCalled("conv-1", "dv-helper", "model", call(t, "other", "tc-3"))
	if _, err := h(context.Background(), other); fn.StatusOf(err) != 400 {
		t.Errorf("another tool's call: %v, want 400", err)
	}
	runs.err = errors.New("mongo down")
	e4, _ := events.NewToolCalled("conv-1", "dv-helper", "model", call(t, "echo", "tc-4"))
	if _, err := h(context.Background(), e4); fn.StatusOf(err) != 503 {
		t.Errorf("claim failing: %v, want 503", err)
	}
}
