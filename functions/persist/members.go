package function

import (
	"context"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// systemDevice is the sender device of every membership entry: no device
// sends it, the server records it (docs/protocol.md, "Group management").
const systemDevice = "system"

// storeMemberChange stores a group's membership change — accounts'
// conversation.changed with a change — as the conversation's next entry,
// and replies message.stored for route to deliver like any message. The
// entry's client message id is derived from the revision
// (protocol.SystemID), so a redelivered change finds the entry it stored
// before (allocate's resend path) instead of storing a second one. Its
// audience is the members' devices now, and the devices of the member
// the change took out, who learn it the way everyone else does. A change
// event without a change (a creation; one from an older accounts) stores
// nothing.
func (f *Function) storeMemberChange(ctx context.Context, d *deps, e event.Event) (*event.Event, error) {
	cc, err := events.Decode[events.ConversationChanged](e)
	if err != nil {
		return nil, fn.Refuse("persist: %v", err)
	}
	if cc.Change == nil {
		return nil, nil
	}
	conv := e.Subject()
	v, err := readView(ctx, d.dir, conv, false)
	if err != nil {
		return nil, err
	}
	m, err := f.allocate(ctx, d.msgs, events.Message{ConversationID: conv, SenderID: cc.Change.By,
		SenderDevice: systemDevice, ClientMessageID: protocol.SystemID(cc.Rev), System: cc.Change})
	if err != nil {
		return nil, err
	}
	f.log.Info("persist: membership entry", "conversation", conv, "seq", m.Seq, "rev", cc.Rev, "op", cc.Change.Op)
	m.Audience = v.audience()
	if len(cc.Removed) > 0 {
		// the removed member's devices hear it too: their last entry of it
		gone, err := d.dir.CurrentDevices(ctx, cc.Removed)
		if err != nil {
			return nil, err
		}
		for _, g := range gone {
			if ref := (events.DeviceRef{User: g.User, Device: g.ID}); !slices.Contains(m.Audience.Devices, ref) {
				m.Audience.Devices = append(m.Audience.Devices, ref)
			}
		}
	}
	out, err := events.NewMessageStored(m)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
