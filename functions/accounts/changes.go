package function

import (
	"context"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/directory"
)

// announceTimeout bounds one announcement; the change is committed
// either way.
const announceTimeout = 3 * time.Second

// announce posts a change event once the change is committed, before the
// request is answered, so that a client told "done" finds the pipeline
// told too (an event is usually there within milliseconds). Best effort:
// if the broker does not take it, the caches notice the change when their
// entries expire (TTL) or when a refusal makes them read again.
func (s *service) announce(ctx context.Context, e event.Event, err error) {
	if err != nil {
		s.log.Error("accounts: build change event", "type", e.Type(), "err", err)
		return
	}
	if s.changes == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), announceTimeout)
	defer cancel()
	if err := s.changes.Send(ctx, e); err != nil {
		s.log.Warn("accounts: announce a change (caches see it when their entries expire)", "type", e.Type(), "subject", e.Subject(), "err", err)
	}
}

// announceConversation: conversation c is now at revision c.Rev, changed
// by p; mc is the change that made it (nil for the creation). The event
// also reaches the devices of the members and of a removed member (route
// renders it as a conversation frame), so it carries the title a client
// names the conversation by; its change becomes the conversation's
// membership entry (persist).
func (s *service) announceConversation(ctx context.Context, c directory.Conversation, p principal, mc *directory.MemberChange) {
	d := events.ConversationChanged{Kind: c.Kind, Rev: c.Rev, Members: c.Members, Title: c.Title, Admins: c.Admins}
	if mc != nil {
		if mc.Op == directory.OpRemove || mc.Op == directory.OpLeave {
			d.Removed = []string{mc.User}
		}
		d.Change = &protocol.MemberChange{Op: mc.Op, User: mc.User, By: mc.By, Rev: c.Rev, Promoted: mc.Promoted}
	}
	e, err := events.NewConversationChanged(c.ID, p.User, p.Device, d)
	s.announce(ctx, e, err)
}

// announceDevice: d was registered, revoked, or given a key. The key
// directory's cache drops the user's devices first, here and on the other
// replicas (shared over Redis; persist's and route's caches hear it too),
// so that the client told "done" reads the change back.
func (s *service) announceDevice(ctx context.Context, d directory.Device) {
	if err := s.keys.ApplyChange(ctx, directory.Change{User: d.User}); err != nil {
		s.log.Warn("accounts: share a device change (other replicas see it when their entries expire)", "user", d.User, "err", err)
	}
	e, err := events.NewDeviceChanged(events.DeviceChanged{User: d.User, Device: d.ID, PublicKey: d.PublicKey, SigningKey: d.SigningKey, Revoked: d.Revoked()})
	s.announce(ctx, e, err)
}
