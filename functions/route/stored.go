package function

import (
	"context"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// routeStored delivers a stored message to its audience — every current
// device of the conversation's members as persist checked them when it
// stored the message (the sending device too: its connector turns it into
// the ✓ "stored" frame) — and asks each agent member to answer it. It
// reads nothing from MongoDB: the audience comes with the event
// (events.Message.Audience). Round trips: presence and publish (Redis);
// one post per agent.
func (f *Function) routeStored(ctx context.Context, d *deps, e event.Event) error {
	m, err := events.Decode[events.Message](e) // validates e, decoding its data once
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	if m.Audience == nil {
		return fn.Refuse("route: a stored message without its audience")
	}
	if err := f.deliver(ctx, d, e, m.Audience.Devices); err != nil {
		return err
	}
	return f.invokeAgents(ctx, d, m)
}

// invokeAgents posts an invoke for every agent member but the sender,
// carrying the message with its audience (whom the agent seals its reply
// for). A message sent by an agent invokes no agent at all: two agents in
// one conversation would otherwise answer each other without end (and
// bill a model call for every turn).
func (f *Function) invokeAgents(ctx context.Context, d *deps, m events.Message) error {
	agents := m.Audience.Agents
	if len(agents) == 0 || m.System != nil { // a membership entry asks no agent anything
		return nil
	}
	if slices.ContainsFunc(agents, func(a events.AgentMember) bool { return a.ID == m.SenderID }) {
		return nil
	}
	if e2ee.IsDistributionID(m.ClientMessageID) {
		return nil // a sender key: agents open v2 with their wrapped key, and answer no key
	}
	if d.invoker == nil {
		f.noSinkLog.Do(func() {
			f.log.Warn("route: K_SINK is not set: agent members are not invoked")
		})
		return nil
	}
	for _, a := range agents {
		inv, err := events.NewAgentInvoke(a.ID, a.Kind, m)
		if err != nil {
			return err
		}
		if err := d.invoker.Invoke(ctx, inv); err != nil {
			return err
		}
		f.stats.invokes.Add(1)
		f.log.Debug("route: agent invoked", "agent", a.ID, "conversation", m.ConversationID, "seq", m.Seq)
	}
	return nil
}
