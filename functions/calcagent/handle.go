package function

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// answer handles one invoke. Everything it does is idempotent — the reply
// is "r-<seq>" from the agent's device, which persist stores once — so a
// broker that does not take the reply makes it return 500 and the broker
// delivers the invoke again. An invoke that can never be answered is
// refused (400, dead-lettered); one for an agent it holds no key for is
// dropped with a log line.
func (f *Function) answer(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, fn.Unavailable("calc-agent: not started")
	}
	inv, err := events.Decode[events.AgentInvoke](e)
	if err != nil {
		return nil, fn.Refuse("calc-agent: not an agent invoke: %v", err)
	}
	if id := fn.Ext(e, events.ExtAgentID); id != inv.AgentID {
		return nil, fn.Refuse("calc-agent: extension agentid %q is not data.agentId %q", id, inv.AgentID)
	}
	key, ok := d.keys[inv.AgentID]
	if !ok {
		f.log.Warn("calc-agent: invoke for an agent without a key here", "agent", inv.AgentID)
		return nil, nil
	}
	m := inv.Message

	// 1. Who the agent is: its one device in the audience, registered
	//    with this key.
	self, err := agent.Identify(key, fn.Ext(e, events.ExtAgentKind), m.Audience)
	if err != nil {
		f.log.Error("calc-agent: cannot act as the agent", "agent", inv.AgentID, "err", err)
		if self.Device == "" {
			return nil, nil // nobody to tell: the agent has no device here
		}
		return nil, f.post(ctx, d, func() (event.Event, error) {
			return self.Error(m.ConversationID, m.Seq, agent.CodeNotConfigured, "this agent is not set up on its runtime", false)
		})
	}

	// 2. Open the message, as any member device would.
	content, err := self.Open(m)
	if err != nil {
		f.log.Warn("calc-agent: the message does not open", "conversation", m.ConversationID, "seq", m.Seq, "err", err)
		return nil, f.post(ctx, d, func() (event.Event, error) {
			return self.Error(m.ConversationID, m.Seq, agent.CodeUnreadable, "the agent could not read this message", false)
		})
	}

	// 3. Answer — an edit of a question with its new text (the reply
	//    answers the edit's seq); a reaction or a delete asks nothing. The
	//    calculator keeps no history, so it cannot check an edit against
	//    the question it edits (agent.CheckAction): members' clients do.
	ask := agent.AskOf(content)
	if ask.Skip {
		f.log.Info("calc-agent: nothing to answer", "conversation", m.ConversationID, "seq", m.Seq, "kind", content.Kind())
		return nil, nil
	}
	text := answer(question{Seq: m.Seq, Text: ask.Text, Members: m.Audience.Members()})

	// 4. Seal the reply for the audience (exactly the devices persist
	//    wants) and send it as an ordinary message. agent.done follows
	//    when persist says it stored it (heard).
	rs, err := m.Audience.Recipients()
	if err != nil {
		return nil, fn.Refuse("calc-agent: %v", err)
	}
	env, err := self.SealReply(m.ConversationID, m.Seq, e2ee.Content{Text: text}, rs)
	if err != nil {
		return nil, fn.Refuse("calc-agent: seal the reply: %v", err)
	}
	if err := f.post(ctx, d, func() (event.Event, error) { return self.Reply(m.ConversationID, m.Seq, env) }); err != nil {
		return nil, err
	}
	f.log.Info("calc-agent: answered", "agent", inv.AgentID, "conversation", m.ConversationID, "seq", m.Seq)
	return nil, nil
}

// heard handles persist's answer to the agent's reply: agent.done once it
// is stored; agent.error when it was not (the calculator keeps no copy of
// the question, so it does not seal the answer again: the user asks
// again).
func (f *Function) heard(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, fn.Unavailable("calc-agent: not started")
	}
	o, ok, err := agent.OutcomeOf(e)
	if err != nil {
		return nil, fn.Refuse("calc-agent: %v", err)
	}
	key, mine := d.keys[o.Agent]
	if !ok || !mine {
		return nil, nil // not a reply of an agent answered here
	}
	self := agent.Self{ID: o.Agent, Kind: fn.Ext(e, events.ExtAgentKind), Device: o.Device, Key: key.Private}
	if o.Stored != nil {
		return nil, f.post(ctx, d, func() (event.Event, error) { return self.Done(o.Conversation, o.ReplyTo) })
	}
	f.log.Warn("calc-agent: the reply was not stored", "agent", o.Agent, "conversation", o.Conversation,
		"replyTo", o.ReplyTo, "code", o.Rejected.Code)
	return nil, f.post(ctx, d, func() (event.Event, error) {
		return self.Error(o.Conversation, o.ReplyTo, agent.CodeNotStored, "the calculator's answer could not be delivered; ask again", true)
	})
}

// post builds one event and sends it to the broker.
func (f *Function) post(ctx context.Context, d *deps, build func() (event.Event, error)) error {
	ev, err := build()
	if err != nil {
		return fn.Refuse("calc-agent: %v", err)
	}
	return d.sink.Send(ctx, ev)
}
