package function

import (
	"context"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// typing fans a typing indicator out to the other current devices of the
// conversation's members (audience cache, like toMembers). A device that
// is not a member — removed, or no such conversation — gets not_member
// back with no id instead, as a receipt (from persist) or a sync does, so
// a client that missed its removal stops treating the conversation as
// live. An agent's indicator from outside is dropped with a log line: an
// agent holds no socket to tell.
func (f *Function) typing(ctx context.Context, d *deps, e event.Event, a fn.Actor) error {
	aud, err := f.audienceOf(ctx, d, a.Conversation)
	if err != nil {
		return err
	}
	if aud.found && slices.Contains(aud.members, a.User) {
		return f.deliver(ctx, d, e, except(slices.Clone(aud.devices), a.DeviceRef()))
	}
	if fn.Ext(e, events.ExtAgentID) != "" || a.Device == "" {
		f.log.Info("route: ignoring typing from a non-member", "conversation", a.Conversation, "user", a.User)
		return nil
	}
	rej, err := events.New(events.TypeMessageRejected, events.DeriveID("rejected-typing", e.ID()),
		events.Meta{Source: events.SourceRoute, Conversation: a.Conversation, Sender: a.User, Device: a.Device},
		events.MessageRejected{Code: protocol.CodeNotMember, Reason: "you are not a member of this conversation"})
	if err != nil {
		return err
	}
	return f.deliver(ctx, d, rej, []events.DeviceRef{a.DeviceRef()})
}
