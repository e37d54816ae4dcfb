package function

import (
	"context"
	"slices"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// routeStored delivers a stored message to every current device of the
// conversation's members (the sending device too: its connector turns it
// into the ✓ "stored" frame) and asks each agent member to answer it.
// Round trips: conversation, then devices and users side by side
// (MongoDB); presence and publish (Redis); one post per agent.
func (f *Function) routeStored(ctx context.Context, d *deps, e event.Event) error {
	m, err := events.Decode[events.Message](e)
	if err != nil {
		return f.refuse(e, err)
	}
	members, found, err := d.dir.Members(ctx, m.ConversationID)
	if err != nil {
		return err
	}
	if !found {
		f.log.Warn("route: stored message of a conversation that does not exist", "conversation", m.ConversationID, "seq", m.Seq)
		return nil
	}
	var (
		devices           []events.DeviceRef
		agents            []agent
		devErr, agentsErr error
		wg                sync.WaitGroup
	)
	wg.Go(func() { devices, devErr = d.dir.Devices(ctx, members) })
	wg.Go(func() { agents, agentsErr = d.dir.Agents(ctx, members) })
	wg.Wait()
	if devErr != nil {
		return devErr
	}
	if agentsErr != nil {
		return agentsErr
	}
	if err := f.deliver(ctx, d, e, devices); err != nil {
		return err
	}
	return f.invokeAgents(ctx, d, m, agents)
}

// invokeAgents posts an invoke for every agent member but the sender. A
// message sent by an agent invokes no agent at all: two agents in one
// conversation would otherwise answer each other without end (and bill
// a model call for every turn).
func (f *Function) invokeAgents(ctx context.Context, d *deps, m events.Message, agents []agent) error {
	if len(agents) == 0 {
		return nil
	}
	if slices.ContainsFunc(agents, func(a agent) bool { return a.ID == m.SenderID }) {
		return nil
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
