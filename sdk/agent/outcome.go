package agent

import (
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// Outcome is persist's answer to an agent's reply: message.stored (the
// reply has its seq: time for agent.done) or message.rejected (it was
// not stored; with Rejected.Audience, seal it again for that audience).
// persist's answer to an agent's message carries the agent's agentid and
// agentkind (and always senderid), so a Trigger like
//
//	filters: [{all: [{any: [{exact: {type: io.agentchat.message.stored}},
//	                        {exact: {type: io.agentchat.message.rejected}}]},
//	                 {exact: {senderid: calc}}]}]
//
// brings it to the agent's runtime (docs/agents.md).
type Outcome struct {
	Agent        string // the sender: the agent
	Device       string // the agent's device that sent the reply
	Conversation string
	ReplyTo      int64                   // the seq the reply answers
	Stored       *events.Message         // set for message.stored
	Rejected     *events.MessageRejected // set for message.rejected
}

// OutcomeOf reads persist's answer e. ok is false when e is not about an
// agent's reply (another type, or a message whose client message id is
// not a reply id); err when it is malformed.
func OutcomeOf(e event.Event) (o Outcome, ok bool, err error) {
	ext := func(name string) string { s, _ := e.Extensions()[name].(string); return s }
	o = Outcome{Agent: ext(events.ExtSenderID), Device: ext(events.ExtDeviceID), Conversation: ext(events.ExtConversationID)}
	var clientMessageID string
	switch e.Type() {
	case events.TypeMessageStored:
		m, err := events.Decode[events.Message](e)
		if err != nil {
			return o, false, err
		}
		if m.SenderID != o.Agent || m.SenderDevice != o.Device || m.ConversationID != o.Conversation {
			return o, false, fmt.Errorf("%w: message.stored: extensions do not match the message", events.ErrInvalid)
		}
		o.Stored, clientMessageID = &m, m.ClientMessageID
	case events.TypeMessageRejected:
		r, err := events.Decode[events.MessageRejected](e)
		if err != nil {
			return o, false, err
		}
		o.Rejected, clientMessageID = &r, r.ClientMessageID
	default:
		return o, false, nil
	}
	o.ReplyTo, ok = ReplyTo(clientMessageID)
	return o, ok, nil
}
