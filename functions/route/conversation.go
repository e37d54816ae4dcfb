package function

import (
	"context"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	storedir "github.com/agentchat/agentchat/store/directory"
)

// conversationChanged takes accounts' announcement that a conversation was
// created or changed its members: first into the cache (the audiences of
// receipts, typing and agent activity), then to the devices of everyone it
// concerns — the members, and those this revision removed — which the
// connectors render as a conversation frame. That is how a conversation
// someone starts with you, or a group you are added to, reaches your
// online devices at once; offline devices find it in their next resume.
// A redelivered event is delivered again: devices keep the highest rev.
// Nothing of this touches a stored message's path.
func (f *Function) conversationChanged(ctx context.Context, d *deps, e event.Event) error {
	ch, err := events.Decode[events.ConversationChanged](e)
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	if err := d.audiences.ApplyChange(ctx, storedir.Change{Conversation: e.Subject(), Kind: ch.Kind, Members: ch.Members, Rev: ch.Rev}); err != nil {
		return err // not shared with the other replicas: a retry applies and shares it again
	}
	users := slices.Concat(ch.Members, ch.Removed)
	if len(users) == 0 {
		return nil
	}
	ds, err := d.audiences.CurrentDevices(ctx, users)
	if err != nil {
		return err
	}
	return f.deliver(ctx, d, e, refsOf(ds))
}
