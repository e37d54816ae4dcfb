package function

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Tools (docs/agents.md, "Tools"). When the model answers a request with
// tool calls, the turn records the calls in the ledger (sealed), posts
// one io.agentchat.tool.called per call — its id and call id fixed by
// (call, step, index), so posting it again is the same event — and waits
// for each io.agentchat.tool.result, which the agent-invoke-tool-result
// Trigger brings to any instance: toolResulted records it in the ledger
// (the first result recorded holds) and wakes the turn if it runs here.
// A turn elsewhere finds it in the ledger (it looks every toolPoll). A
// call with no result within its timeout gets an error result the model
// reads ("the tool did not answer in time"), recorded the same way, so a
// late reply changes nothing. Then the turn sends the results back to
// the model as the next request of the same call, until the model
// answers without tools. A takeover rebuilds the requests from the
// ledger, uses every result recorded and posts tool.called again only
// for calls without one: tools are idempotent by call id, so no tool
// runs twice.

// stepContent is what a toolStep seals: what the model said with its
// tool calls, and the calls.
type stepContent struct {
	Text  string     `json:"text,omitempty"`
	Calls []toolCall `json:"calls"`
}

// toolOutput is what a toolResult seals.
type toolOutput struct {
	Content string `json:"content"`
	Error   bool   `json:"error,omitempty"`
}

// forModel is the tool message's content: an error says so.
func (o toolOutput) forModel() string {
	if o.Error {
		return "error: " + o.Content
	}
	return o.Content
}

// toolPoll is how often a waiting turn reads the ledger for a result
// recorded by another instance (the result's Trigger may bring it to any).
const toolPoll = time.Second

// toolWaiter is a turn here waiting for one tool call's result.
type toolWaiter struct{ wake chan struct{} }

// awaitTool registers a wait for the result of callID; the returned
// channel is closed when toolResulted records it here. done unregisters.
func (f *Function) awaitTool(k callKey, callID string) (wake <-chan struct{}, done func()) {
	id := toolResultID(k, callID)
	w := &toolWaiter{wake: make(chan struct{})}
	f.mu.Lock()
	f.tools[id] = w
	f.mu.Unlock()
	return w.wake, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.tools[id] == w {
			delete(f.tools, id)
		}
	}
}

// wakeTool wakes the turn here waiting for callID's result, if any.
func (f *Function) wakeTool(k callKey, callID string) {
	id := toolResultID(k, callID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.tools[id]; w != nil {
		close(w.wake)
		delete(f.tools, id)
	}
}

// toolResulted records a tool's reply as its call's result (unless one
// is recorded already: a redelivery, or a reply after the timeout) and
// wakes the turn waiting for it here. Only a ledger failure answers 500,
// for the broker to retry.
func (f *Function) toolResulted(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	r, err := events.Decode[events.ToolResult](e)
	if err != nil {
		return nil, fn.Refuse("agent-invoke: %v", err)
	}
	k := callKey{Conversation: fn.Ext(e, events.ExtConversationID), Seq: r.ReplyTo, Agent: r.AgentID}
	key, ok := d.cfg.Keys[k.Agent]
	if !ok {
		f.log.Warn("agent-invoke: a tool result for an agent this runtime holds no key for", "agent", k.Agent, "tool", r.Tool)
		return nil, nil
	}
	box, err := newLedgerBox(key.Private)
	if err != nil {
		return nil, err
	}
	sealed, err := box.seal(toolResultID(k, r.CallID), toolOutput{Content: r.Content, Error: r.Error})
	if err != nil {
		return nil, err
	}
	if _, err := d.ledger.RecordToolResult(ctx, k, toolResult{CallID: r.CallID, Sealed: sealed}); err != nil {
		f.log.Error("agent-invoke: record a tool result", "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq, "err", err)
		return nil, err
	}
	f.log.Info("agent-invoke: tool result", "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq, "tool", r.Tool, "call", r.CallID, "error", r.Error)
	f.wakeTool(k, r.CallID)
	return nil, nil
}

// errStopped: the turn's context ended or the instance is stopping while
// it waited for a tool; it hands the call over.
var errStopped = errors.New("agent-invoke: stopped while waiting for a tool")

// runTools gets the results of step's tool calls, in the calls' order, as
// the tool messages of the next request: each from the ledger when
// recorded, else by posting tool.called and waiting for the result — or,
// for an MCP tool (mt), by calling its server once (mcp.go).
func (t *turn) runTools(ctx context.Context, box ledgerBox, id agent.Self, cfg modelConfig, mt *mcpTools, step int, calls []toolCall) ([]chatMessage, error) {
	out := make([]chatMessage, len(calls))
	type pending struct {
		i        int
		callID   string
		name     string
		timeout  time.Duration
		deadline time.Time
		wake     <-chan struct{}
	}
	var waits []pending
	type direct struct {
		i      int
		callID string
		tool   mcpTool
		args   string
	}
	var mcps []direct
	for i, c := range calls {
		callID := events.ToolCallID(t.k.Conversation, t.k.Seq, t.k.Agent, step, i)
		out[i] = chatMessage{Role: roleTool, ToolCallID: c.ID}
		o, ok, err := t.readResult(ctx, box, callID)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i].Content = o.forModel()
			continue
		}
		if tool, ok := mt.tools[c.Name]; ok {
			mcps = append(mcps, direct{i: i, callID: callID, tool: tool, args: c.Arguments})
			continue
		}
		spec, known := cfg.toolFor(c.Name)
		if !known { // the model named a tool it was not offered
			o, err := t.recordResult(ctx, box, callID, toolOutput{Content: fmt.Sprintf("there is no tool named %q", c.Name), Error: true})
			if err != nil {
				return nil, err
			}
			out[i].Content = o.forModel()
			continue
		}
		wake, done := t.f.awaitTool(t.k, callID)
		defer done()
		timeout := t.d.cfg.toolTimeout(spec)
		p := pending{i: i, callID: callID, name: c.Name, timeout: timeout, deadline: time.Now().Add(timeout), wake: wake}
		call := events.ToolCalled{CallID: callID, Tool: c.Name, AgentID: t.k.Agent, ReplyTo: t.k.Seq, Arguments: c.Arguments}
		t.log.Info("agent-invoke: tool call", "tool", c.Name, "call", callID, "step", step)
		if err := t.postToolCall(ctx, id, call, p.deadline); err != nil {
			t.log.Warn("agent-invoke: post tool.called: the call times out", "tool", c.Name, "err", err)
		}
		waits = append(waits, p)
	}
	// MCP tools run here, while the tool functions run theirs.
	for _, m := range mcps {
		o, err := t.runMCP(ctx, box, mt, m.callID, m.tool, m.args)
		if err != nil {
			return nil, err
		}
		out[m.i].Content = o.forModel()
	}
	for _, p := range waits {
		o, err := t.awaitResult(ctx, box, p.callID, p.name, p.timeout, p.deadline, p.wake)
		if err != nil {
			return nil, err
		}
		out[p.i].Content = o.forModel()
	}
	return out, nil
}

// runMCP makes MCP tool call callID once: it inserts the started marker
// first, and records what the server answered as the result. A marker
// that exists (an earlier attempt died during the call) gets an error
// result instead: the call may have run, so it is not made again.
func (t *turn) runMCP(ctx context.Context, box ledgerBox, mt *mcpTools, callID string, tool mcpTool, args string) (toolOutput, error) {
	started, err := t.d.ledger.MarkToolStarted(ctx, t.k, callID)
	if err != nil {
		return toolOutput{}, err
	}
	if !started {
		t.log.Warn("agent-invoke: an MCP tool call may have run before a crash: not running it again", "server", tool.server.Name, "tool", tool.name, "call", callID)
		return t.recordResult(ctx, box, callID, toolOutput{Error: true,
			Content: "the tool call was interrupted (the agent restarted while it ran); it was not run again"})
	}
	timeout := tool.server.timeout
	if timeout <= 0 {
		timeout = t.d.cfg.ToolTimeout
	}
	t.log.Info("agent-invoke: MCP tool call", "server", tool.server.Name, "tool", tool.name, "call", callID)
	o := mt.call(ctx, tool, args, timeout)
	return t.recordResult(context.WithoutCancel(ctx), box, callID, o)
}

// postToolCall posts call, trying again while the broker refuses it, up
// to deadline.
func (t *turn) postToolCall(ctx context.Context, id agent.Self, call events.ToolCalled, deadline time.Time) error {
	e, err := events.NewToolCalled(t.k.Conversation, id.Device, kindModel, call)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		if err = t.d.sink.Send(ctx, e); err == nil {
			return nil
		}
		if sleep(ctx, wait) != nil {
			return err
		}
	}
}

// awaitResult waits for callID's result until deadline, then records the
// timeout's error result — unless the tool's reply came first: whichever
// is recorded first is returned.
func (t *turn) awaitResult(ctx context.Context, box ledgerBox, callID, name string, timeout time.Duration, deadline time.Time, wake <-chan struct{}) (toolOutput, error) {
	poll := time.NewTicker(toolPoll)
	defer poll.Stop()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case <-wake:
			wake = nil
		case <-poll.C:
		case <-timer.C:
			t.log.Warn("agent-invoke: the tool did not answer in time", "tool", name, "call", callID, "timeout", timeout.String())
			return t.recordResult(ctx, box, callID, toolOutput{Error: true,
				Content: fmt.Sprintf("the tool %s did not answer within %s", name, timeout)})
		case <-t.d.stopping:
			return toolOutput{}, errStopped
		case <-ctx.Done():
			return toolOutput{}, errStopped
		}
		o, ok, err := t.readResult(ctx, box, callID)
		if err != nil {
			t.log.Warn("agent-invoke: read a tool result", "err", err)
			continue
		}
		if ok {
			return o, nil
		}
	}
}

// readResult reads callID's result from the ledger.
func (t *turn) readResult(ctx context.Context, box ledgerBox, callID string) (toolOutput, bool, error) {
	r, ok, err := t.d.ledger.ToolResult(ctx, t.k, callID)
	if err != nil || !ok {
		return toolOutput{}, false, err
	}
	var o toolOutput
	if err := box.open(toolResultID(t.k, callID), r.Sealed, &o); err != nil {
		return o, false, err
	}
	return o, true, nil
}

// recordResult records o as callID's result and returns the one that
// holds.
func (t *turn) recordResult(ctx context.Context, box ledgerBox, callID string, o toolOutput) (toolOutput, error) {
	sealed, err := box.seal(toolResultID(t.k, callID), o)
	if err != nil {
		return o, err
	}
	held, err := t.d.ledger.RecordToolResult(ctx, t.k, toolResult{CallID: callID, Sealed: sealed})
	if err != nil {
		return o, err
	}
	var out toolOutput
	err = box.open(toolResultID(t.k, callID), held.Sealed, &out)
	return out, err
}

// recordStep seals and records step's tool calls, and returns the calls
// that hold (another attempt's, if it recorded that step first).
func (t *turn) recordStep(ctx context.Context, box ledgerBox, step int, a answer) (stepContent, error) {
	c := stepContent{Text: a.Text, Calls: a.ToolCalls}
	sealed, err := box.seal(stepToolsID(t.k, step), c)
	if err != nil {
		return c, err
	}
	held, err := t.d.ledger.RecordStep(ctx, t.k, toolStep{Step: step, Attempt: t.n, Sealed: sealed})
	if err != nil {
		return c, err
	}
	return t.openStep(box, held)
}

// openStep opens a recorded step.
func (t *turn) openStep(box ledgerBox, s toolStep) (stepContent, error) {
	var c stepContent
	err := box.open(stepToolsID(t.k, s.Step), s.Sealed, &c)
	return c, err
}

// withCallIDs gives each call an id when the model gave none (some
// compatible servers do not): the result must name the call it answers.
func withCallIDs(calls []toolCall, step int) []toolCall {
	for i := range calls {
		if strings.TrimSpace(calls[i].ID) == "" {
			calls[i].ID = fmt.Sprintf("call_%d_%d", step, i)
		}
	}
	return calls
}
