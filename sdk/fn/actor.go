package fn

import (
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/agentchat/agentchat/sdk/events"
)

// Actor is who caused an event: the authenticated user and device (the
// connector stamps them; an agent's runtime stamps its own) in the
// conversation the event is about.
type Actor struct {
	Conversation string
	User         string
	Device       string
}

// ActorOf reads the actor from e's conversationid, senderid and deviceid
// extensions; ok is false when any of them is missing or malformed.
func ActorOf(e event.Event) (a Actor, ok bool) {
	a = Actor{Conversation: Ext(e, events.ExtConversationID), User: Ext(e, events.ExtSenderID), Device: Ext(e, events.ExtDeviceID)}
	return a, events.ValidID(a.Conversation) && events.ValidID(a.User) && events.ValidID(a.Device)
}

// DeviceRef is the actor's device as a DeviceRef.
func (a Actor) DeviceRef() events.DeviceRef { return events.DeviceRef{User: a.User, Device: a.Device} }

// Ext reads an extension attribute as text ("" when absent). Brokers may
// set some as other types (knativeerrorcode as a number): those are
// formatted.
func Ext(e event.Event, name string) string {
	v, ok := e.Extensions()[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	s, err := types.Format(v)
	if err != nil {
		return ""
	}
	return s
}
