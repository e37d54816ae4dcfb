package function

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// Handle dispatches one event. Bad input gets a reply event or is dropped
// with a log line (retrying cannot fix it); an infrastructure error is
// returned, which func turns into a 500 and the broker into a retry.
func (f *Function) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	switch e.Type() {
	case events.TypeMessageSent:
		return f.storeMessage(ctx, d.store, e)
	case events.TypeReceiptDelivered, events.TypeReceiptRead:
		return nil, f.moveCursor(ctx, d.store, e)
	}
	f.log.Warn("persist: ignoring event of a type no trigger should send here", "type", e.Type(), "id", e.ID())
	return nil, nil
}

// actor is who caused an event: the authenticated user and device the
// connector stamped, in the conversation the event is about.
type actor struct {
	conversation, user, device string
}

// actorOf reads the actor from e's extensions; ok is false when any of
// them is missing or malformed (no reply can be addressed then).
func actorOf(e event.Event) (actor, bool) {
	ext := func(name string) string { s, _ := e.Extensions()[name].(string); return s }
	a := actor{conversation: ext(events.ExtConversationID), user: ext(events.ExtSenderID), device: ext(events.ExtDeviceID)}
	return a, events.ValidID(a.conversation) && events.ValidID(a.user) && events.ValidID(a.device)
}
