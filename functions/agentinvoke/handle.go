package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/sdk/events"
)

// Handle accepts one agent invoke. A malformed invoke gets 400, which the
// broker does not retry (it goes to the dead-letter sink). A valid one is
// claimed in the ledger — or, for a redelivery, resumed if its owner died —
// and its turn runs in the background; Handle waits for it up to
// AGENT_HOLD (so that short answers finish within the request, and the
// platform sees the instance busy) and then answers 200 with no reply.
// Only a ledger failure answers 500, for the broker to retry.
func (f *Function) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	log := f.logger()
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	if e.Type() != events.TypeAgentInvoke {
		return nil, reject(log, e, fmt.Errorf("type %q, want %s", e.Type(), events.TypeAgentInvoke))
	}
	inv, err := events.Decode[events.AgentInvoke](e)
	if err != nil {
		return nil, reject(log, e, err)
	}
	if agent, _ := e.Extensions()[events.ExtAgentID].(string); agent != inv.AgentID {
		return nil, reject(log, e, fmt.Errorf("extension %s %q is not data.agentId %q", events.ExtAgentID, agent, inv.AgentID))
	}
	k := callKey{Conversation: inv.Message.ConversationID, Seq: inv.Message.Seq, Agent: inv.AgentID}
	log.Info("agent-invoke: invoke", "event", e.ID(), "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq)
	if _, ok := d.cfg.Keys[k.Agent]; !ok {
		// No key, no answer — and no model call to guard, so no claim.
		f.notConfigured(ctx, d, k)
		return nil, nil
	}
	w, err := f.claimOrResume(ctx, d, k, &inv.Message)
	if err != nil {
		log.Error("agent-invoke: ledger", "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq, "err", err)
		return nil, err
	}
	if w != nil {
		hold := time.NewTimer(d.cfg.Hold)
		defer hold.Stop()
		select {
		case <-w.done:
		case <-hold.C:
		case <-ctx.Done():
		}
	}
	return nil, nil
}

// notConfigured tells the conversation that this runtime holds no key for
// the agent (when the agent and its device are known at all).
func (f *Function) notConfigured(ctx context.Context, d *deps, k callKey) {
	log := f.logger()
	device, _, ok, err := d.dir.AgentDevice(ctx, k.Agent)
	if err != nil || !ok {
		log.Warn("agent-invoke: invoke for an unknown agent", "agent", k.Agent, "err", err)
		return
	}
	log.Error("agent-invoke: no key for this agent in AGENT_KEYS", "agent", k.Agent)
	id := identity{Agent: k.Agent, Device: device}
	ev, err := errorEvent(id, k, codeNotConfigured, "this agent is not set up on its runtime", false)
	if err == nil {
		err = d.sink.Send(ctx, ev)
	}
	if err != nil {
		log.Warn("agent-invoke: post agent.error", "agent", k.Agent, "err", err)
	}
}

// reject logs why e can never be handled (ids only, never content) and
// returns the non-retryable result for it.
func reject(log *slog.Logger, e event.Event, reason error) error {
	log.Warn("agent-invoke: rejected", "event", e.ID(), "type", e.Type(), "source", e.Source(), "reason", reason.Error())
	return cehttp.NewResult(http.StatusBadRequest, "agent-invoke: %v", reason)
}
