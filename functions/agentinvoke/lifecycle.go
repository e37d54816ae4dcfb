package function

import (
	"context"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/events"
)

// Lifecycle receipts (io.agentchat.agent.status, docs/events.md "Agent
// lifecycle"): a turn tells the conversation where its answer stands, so
// that a slow start is not silence:
//
//	waking     the call arrived while this instance was waking (below)
//	queued     every model call slot (AGENT_MAX_CALLS) is busy: it waits
//	thinking   a request goes to the model (the first, or the next after tools)
//	tool       the model asked for tools; they run (their names)
//	streaming  the model's answer began to stream (partials follow)
//
// then agent.done or agent.error, as ever. Statuses are best effort and
// ephemeral like partials. The broker may deliver them out of order, so
// each carries an index that grows through the call — across attempts
// too: attempt n numbers from (n-1)·statusStride — and clients show the
// highest.
//
// Waking, honestly: an instance is waking from its start until one of its
// turns sends a model request. On the cluster a scaled-to-zero runtime is
// started by the event that needs it — exactly a process start — so the
// calls that start it (and those arriving while it still connects,
// lists MCP tools, reads history) say "waking". A live instance that has
// had no turn for AGENT_IDLE_GAP wakes again the same way: its model
// server may have unloaded the model meanwhile (Ollama does after five
// idle minutes), and the first answer is slow. Calls arriving while
// others run never say it.

// statusStride numbers the statuses of one attempt: attempt n sends
// indexes (n-1)·statusStride up to n·statusStride-1, none beyond (far
// more than AGENT_MAX_TOOL_STEPS rounds need).
const statusStride = 1000

// wakingNow reports whether a call spawned now arrives while the instance
// is waking (see above), and marks it waking after an idle gap. f.mu is
// held.
func (f *Function) wakingNow(d *deps) bool {
	if f.warm && len(f.running) == 0 && d.cfg.IdleGap > 0 && time.Since(f.lastTurn) >= d.cfg.IdleGap {
		f.warm = false
	}
	return !f.warm
}

// woke records that a turn of this instance sent a model request: calls
// from now on are not waking.
func (f *Function) woke() {
	f.mu.Lock()
	f.warm = true
	f.mu.Unlock()
}

// status posts the turn's next lifecycle receipt, best effort; a state
// the turn said last is not said again (tools excepted: each round names
// its own).
func (t *turn) status(ctx context.Context, id agent.Self, state string, tools ...string) {
	if (state == t.lastStatus && state != events.StatusTool) || t.statuses >= statusStride ||
		(state == events.StatusTool && len(tools) == 0) {
		return
	}
	index := (t.n-1)*statusStride + t.statuses
	t.statuses++
	t.lastStatus = state
	t.send(ctx, "agent.status", func() (event.Event, error) {
		return id.Status(t.k.Conversation, t.k.Seq, index, state, tools...)
	})
}

// toolNames are the distinct names of calls that can name a tool, in
// order, at most events.MaxStatusTools: what a "tool" status shows (a
// name the model made up that no tool could have is left out; such a
// call gets an error result, tools.go).
func toolNames(calls []toolCall) []string {
	var names []string
	for _, c := range calls {
		if len(names) < events.MaxStatusTools && events.ValidToolName(c.Name) && !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}
