// Package tool is what a tool function needs: a tool is a function bound
// by a Trigger to io.agentchat.tool.called filtered by its toolname
// (docs/agents.md, "Add a tool in minutes"), whose reply is the
// io.agentchat.tool.result the agent's runtime gives its model. Handler
// turns a plain func(ctx, call) (text, error) into that: it decodes the
// call, runs it at most once per call id (Runs), and replies with the
// result — an error result (the model reads the message) when the func
// fails, never a retry that would run it twice. Function (function.go) is
// the rest of a tool function: its func-go lifecycle around Handler, so
// that a tool's package is its Func and what it opens.
package tool

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Runs records the tool calls a tool has started, so that each call id
// runs once however often the broker delivers it (at least once) and
// however often the agent's runtime posts it (again after a takeover).
// store/toolruns implements it on MongoDB.
type Runs interface {
	// Claim records that tool starts call callID. true: this delivery
	// runs it; false: an earlier one ran it (or runs it now), and its
	// result is on its way or lost — the runtime's timeout covers a lost
	// one. Atomic: of concurrent claims of one call, exactly one is true.
	Claim(ctx context.Context, tool, callID string) (bool, error)
}

// Func runs one call. Its text is the result the model reads; an error's
// message is shown to the model as the result of a failed call, so it
// must be safe for the model (and the conversation) to read.
type Func func(ctx context.Context, call Call) (string, error)

// Call is one tool call: the event's data and where it comes from.
type Call struct {
	events.ToolCalled
	Conversation string // the conversation the agent answers in
	Device       string // the agent's device
}

// Handler is the tool's handler for fn.Serve (or fn.Mux): it refuses (400,
// dead-lettered, not retried) a malformed tool.called or one for another
// tool, answers 503 when Runs cannot record the claim (the broker retries
// it), replies nothing to a call already claimed, and otherwise runs run
// and replies with its tool.result.
func Handler(name string, runs Runs, log *slog.Logger, run Func) fn.Handler {
	return func(ctx context.Context, e event.Event) (*event.Event, error) {
		c, err := events.Decode[events.ToolCalled](e)
		if err != nil {
			return nil, fn.Refuse("%s: %v", name, err)
		}
		if c.Tool != name || fn.Ext(e, events.ExtToolName) != name {
			return nil, fn.Refuse("%s: a call of tool %q", name, c.Tool)
		}
		first, err := runs.Claim(ctx, name, c.CallID)
		if err != nil {
			return nil, fn.Unavailable("%s: claim the call: %v", name, err)
		}
		if !first {
			log.Info(name+": call already run: not running it again", "call", c.CallID, "agent", c.AgentID)
			return nil, nil
		}
		call := Call{ToolCalled: c, Conversation: fn.Ext(e, events.ExtConversationID), Device: fn.Ext(e, events.ExtDeviceID)}
		text, err := run(ctx, call)
		isErr := err != nil
		if isErr {
			// The error's text goes to the model, not to the log: it may
			// quote the arguments (a URL, a search), which are content.
			log.Info(name+": call failed", "call", c.CallID, "agent", c.AgentID, "errBytes", len(err.Error()))
			text = err.Error()
		}
		r, err := events.NewToolResult(e, text, isErr)
		if errors.Is(err, events.ErrInvalid) && !isErr { // too large, say: still answer
			r, err = events.NewToolResult(e, "the result is too large", true)
		}
		if err != nil {
			return nil, err
		}
		return &r, nil
	}
}
