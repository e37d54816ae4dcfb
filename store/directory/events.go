package directory

import (
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// Apply applies one of accounts' change events to the cache:
// io.agentchat.conversation.changed replaces a conversation's membership
// (when newer than what the cache holds), io.agentchat.device.changed
// drops the user's devices. Any other type is an error, as is data that
// does not decode (the caller refuses the event; e is expected to have
// passed events.Validate).
func (c *Cached) Apply(e event.Event) error {
	switch e.Type() {
	case events.TypeConversationChanged:
		d, err := events.Decode[events.ConversationChanged](e)
		if err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		c.ConversationChanged(Membership{Conversation: e.Subject(), Kind: d.Kind, Members: d.Members, Rev: d.Rev})
	case events.TypeDeviceChanged:
		d, err := events.Decode[events.DeviceChanged](e)
		if err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		c.DeviceChanged(d.User)
	default:
		return fmt.Errorf("directory: %s is not a directory change", e.Type())
	}
	return nil
}

// IsChange reports whether an event type is one Apply takes.
func IsChange(typ string) bool {
	return typ == events.TypeConversationChanged || typ == events.TypeDeviceChanged
}
