package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// ErrNotChange marks an Apply error about the event itself (its type or
// its data): the caller refuses the event. Any other Apply error is a
// failed publish, worth a retry (applying again is harmless).
var ErrNotChange = errors.New("not a directory change")

// Apply applies one of accounts' change events to the cache:
// io.agentchat.conversation.changed replaces a conversation's membership
// (when newer than what the cache holds), io.agentchat.device.changed
// drops the user's devices. When the cache is shared (Share), the change
// is then published to the other replicas. e is expected to have passed
// events.Validate.
func (c *Cached) Apply(ctx context.Context, e event.Event) error {
	ch, err := ChangeOf(e)
	if err != nil {
		return err
	}
	return c.ApplyChange(ctx, ch)
}

// ApplyChange is Apply for a change its caller decoded itself (route
// reads more of a conversation.changed event than the cache needs, and
// decodes it once).
func (c *Cached) ApplyChange(ctx context.Context, ch Change) error {
	c.applyChange(ch)
	c.mu.Lock()
	b := c.shared
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Publish(ctx, ch)
}

// ChangeOf decodes a change event (an error wrapping ErrNotChange for any
// other type, or data that does not decode).
func ChangeOf(e event.Event) (Change, error) {
	switch e.Type() {
	case events.TypeConversationChanged:
		d, err := events.Decode[events.ConversationChanged](e)
		if err != nil {
			return Change{}, fmt.Errorf("directory: %w: %w", ErrNotChange, err)
		}
		return Change{Conversation: e.Subject(), Kind: d.Kind, Members: d.Members, Rev: d.Rev}, nil
	case events.TypeDeviceChanged:
		d, err := events.Decode[events.DeviceChanged](e)
		if err != nil {
			return Change{}, fmt.Errorf("directory: %w: %w", ErrNotChange, err)
		}
		return Change{User: d.User}, nil
	}
	return Change{}, fmt.Errorf("directory: %w: %s", ErrNotChange, e.Type())
}

// applyChange applies a change, whether from an event or from another
// replica.
func (c *Cached) applyChange(ch Change) {
	switch {
	case ch.Conversation != "":
		c.ConversationChanged(Membership{Conversation: ch.Conversation, Kind: ch.Kind, Members: ch.Members, Rev: ch.Rev})
	case ch.User != "":
		c.DeviceChanged(ch.User)
	}
}

// Share makes c one replica among those subscribed to b: Apply publishes
// each change it applies, and c applies every change published (its own
// included, harmlessly). Call it once, before c serves; stop ends the
// subscription.
func (c *Cached) Share(ctx context.Context, b Broadcast) (stop func(), err error) {
	stop, err = b.Subscribe(ctx, c.applyChange)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.shared = b
	c.mu.Unlock()
	return stop, nil
}

// IsChange reports whether an event type is one Apply takes.
func IsChange(typ string) bool {
	return typ == events.TypeConversationChanged || typ == events.TypeDeviceChanged
}
