package function

import (
	"context"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// kindModel is the agentKind agent-invoke answers for (its Trigger
// filters invokes on it); it is stamped on what the agents send.
const kindModel = "model"

// invoked accepts one agent invoke. A malformed invoke is refused (400:
// the broker does not retry it, it goes to the dead-letter sink). A valid
// one is claimed in the ledger — or, for a redelivery, resumed if its
// owner died — and its turn runs in the background; invoked waits for it
// up to AGENT_HOLD (so that short answers finish within the request, and
// the platform sees the instance busy) and then answers 200 with no
// reply. Only a ledger failure answers 500, for the broker to retry.
func (f *Function) invoked(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	inv, err := events.Decode[events.AgentInvoke](e)
	if err != nil {
		return nil, fn.Refuse("agent-invoke: %v", err)
	}
	if id := fn.Ext(e, events.ExtAgentID); id != inv.AgentID {
		return nil, fn.Refuse("agent-invoke: extension %s %q is not data.agentId %q", events.ExtAgentID, id, inv.AgentID)
	}
	k := callKey{Conversation: inv.Message.ConversationID, Seq: inv.Message.Seq, Agent: inv.AgentID}
	f.log.Info("agent-invoke: invoke", "event", e.ID(), "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq)
	if _, ok := d.cfg.Keys[k.Agent]; !ok {
		// No key, no answer — and no model call to guard, so no claim.
		f.notConfigured(ctx, d, k, inv)
		return nil, nil
	}
	w, err := f.claimOrResume(ctx, d, k, &inv)
	if err != nil {
		f.log.Error("agent-invoke: ledger", "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq, "err", err)
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
// the agent (its device is the agent's in the invoke's audience).
func (f *Function) notConfigured(ctx context.Context, d *deps, k callKey, inv events.AgentInvoke) {
	devices := inv.Message.Audience.DevicesOf(k.Agent)
	if len(devices) == 0 {
		f.log.Warn("agent-invoke: invoke for an agent with no device in the conversation", "agent", k.Agent)
		return
	}
	f.log.Error("agent-invoke: no key for this agent in AGENT_KEYS", "agent", k.Agent)
	self := agent.Self{ID: k.Agent, Kind: kindModel, Device: devices[0]}
	ev, err := self.Error(k.Conversation, k.Seq, agent.CodeNotConfigured, "this agent is not set up on its runtime", false)
	if err == nil {
		err = d.sink.Send(ctx, ev)
	}
	if err != nil {
		f.log.Warn("agent-invoke: post agent.error", "agent", k.Agent, "err", err)
	}
}
