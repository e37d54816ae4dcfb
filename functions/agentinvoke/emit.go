package function

import (
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// identity is an agent as this runtime acts for it: its id, its one
// device, and that device's private key.
type identity struct {
	Agent  string
	Device string
	Key    *e2ee.PrivateKey
}

// The events an agent sends. Each names the agent as sender (senderid),
// its device (deviceid) and agentid, which route checks against the
// conversation's members before fanning anything out.

func (id identity) meta(conversation string) events.Meta {
	return events.Meta{Source: events.SourceAgentPrefix + id.Agent, Conversation: conversation,
		Sender: id.Agent, Device: id.Device, AgentID: id.Agent}
}

// typingEvent is "thinking" (or "paused" when the turn is over).
func typingEvent(id identity, conversation, state string) (event.Event, error) {
	return events.NewTyping(events.SourceAgentPrefix+id.Agent, conversation, id.Agent, id.Device, state)
}

// partialEvent carries the index-th chunk of the reply being streamed.
func partialEvent(id identity, k callKey, index int, env *e2ee.Envelope) (event.Event, error) {
	return events.New(events.TypeAgentPartial, events.DeriveID("agent-partial", k.id(), strconv.Itoa(index)),
		id.meta(k.Conversation), events.AgentPartial{AgentID: id.Agent, ReplyTo: k.Seq, Index: index, Envelope: env})
}

// replyEvent is the reply itself: an ordinary message, with the call's
// deterministic client message id, so persist stores it once.
func replyEvent(id identity, k callKey, env *e2ee.Envelope) (event.Event, error) {
	return events.NewMessageSent(events.SourceAgentPrefix+id.Agent, k.Conversation, id.Agent, id.Device,
		events.MessageSent{ClientMessageID: k.replyID(), Envelope: env})
}

func doneEvent(id identity, k callKey) (event.Event, error) {
	return events.New(events.TypeAgentDone, events.DeriveID("agent-done", k.id()),
		id.meta(k.Conversation), events.AgentDone{AgentID: id.Agent, ReplyTo: k.Seq, ClientMessageID: k.replyID()})
}

func errorEvent(id identity, k callKey, code, message string, retryable bool) (event.Event, error) {
	return events.New(events.TypeAgentError, events.DeriveID("agent-error", k.id()),
		id.meta(k.Conversation), events.AgentError{AgentID: id.Agent, ReplyTo: k.Seq, Code: code, Message: message, Retryable: retryable})
}

// sealText seals content as the agent for recipients, bound to ad.
func sealText(c e2ee.Content, ad e2ee.AssociatedData, rs []e2ee.Recipient) (*e2ee.Envelope, error) {
	b, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return e2ee.Seal(b, ad, rs)
}

func replyAD(id identity, k callKey) e2ee.AssociatedData {
	return e2ee.AssociatedData{Conversation: k.Conversation, SenderDevice: id.Device, ClientMessageID: k.replyID()}
}
