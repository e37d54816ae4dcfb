package function

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// storeMessage is the rule for a sent message: a well-formed envelope,
// from a current device of a member, wrapped for exactly the current
// devices of the conversation's members, gets the next seq; a resend gets
// the stored message again. MongoDB round trips when this instance has
// stored in the conversation before: members (2), devices, insert; for a
// resend it remembers: members (2), the message by _id. docs/data.md has
// the other cases.
func (f *Function) storeMessage(ctx context.Context, s store, e event.Event) (*event.Event, error) {
	a, ok := actorOf(e)
	if !ok {
		return nil, f.refuse(e, fmt.Errorf("conversation, sender and device extensions are required"))
	}
	sent, rej := decodeSent(e)
	if rej != nil {
		return f.reject(a, *rej)
	}
	members, found, err := s.Members(ctx, a.conversation)
	if err != nil {
		return nil, err
	}
	if !found || !slices.Contains(members, a.user) {
		return f.reject(a, events.MessageRejected{ClientMessageID: sent.ClientMessageID,
			Code: protocol.CodeNotMember, Reason: "you are not a member of this conversation"})
	}
	key := idemKey{Conversation: a.conversation, Sender: a.user, SenderDevice: a.device, ClientMessageID: sent.ClientMessageID}
	if seq, ok := f.recent.get(key); ok {
		// A resend of a message stored recently: answer with it.
		if m, ok, err := s.MessageAt(ctx, a.conversation, seq); err != nil || ok && keyOf(m) == key {
			if err != nil {
				return nil, err
			}
			f.stats.resends.Add(1)
			return f.reply(m)
		}
	}
	devices, err := s.CurrentDevices(ctx, members)
	if err != nil {
		return nil, err
	}
	if rej := checkRecipients(a, sent, devices); rej != nil {
		// A resend of a message stored before a device was added or
		// removed is still that message: answer with what was stored.
		if m, ok, err := s.FindMessage(ctx, key); err != nil || ok {
			if err != nil {
				return nil, err
			}
			f.stats.resends.Add(1)
			f.recent.put(key, m.Seq)
			return f.reply(m)
		}
		return f.reject(a, *rej)
	}
	m, err := f.allocate(ctx, s, events.Message{ConversationID: a.conversation, SenderID: a.user,
		SenderDevice: a.device, ClientMessageID: sent.ClientMessageID, Envelope: sent.Envelope})
	if err != nil {
		return nil, err
	}
	return f.reply(m)
}

// decodeSent decodes e's data, or says why it is rejected: a malformed
// envelope (bad_envelope) is told apart from any other malformed data
// (bad_frame), which a well-behaved connector never sends.
func decodeSent(e event.Event) (events.MessageSent, *events.MessageRejected) {
	sent, err := events.Decode[events.MessageSent](e)
	if err == nil {
		return sent, nil
	}
	var loose events.MessageSent
	_ = json.Unmarshal(e.Data(), &loose)
	rej := &events.MessageRejected{Code: protocol.CodeBadFrame, Reason: "the message event is malformed"}
	if events.ValidID(loose.ClientMessageID) {
		rej.ClientMessageID = loose.ClientMessageID
		if envErr := loose.Envelope.Validate(); envErr != nil {
			rej.Code, rej.Reason = protocol.CodeBadEnvelope, envErr.Error()
		}
	}
	return sent, rej
}

// reply turns a stored message into persist's reply event.
func (f *Function) reply(m events.Message) (*event.Event, error) {
	e, err := events.NewMessageStored(m)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// reject builds the message.rejected reply, addressed (through route) to
// the sending device.
func (f *Function) reject(a actor, d events.MessageRejected) (*event.Event, error) {
	f.log.Info("persist: message rejected", "conversation", a.conversation, "user", a.user,
		"device", a.device, "clientMessageId", d.ClientMessageID, "code", d.Code)
	e, err := events.NewMessageRejected(a.conversation, a.user, a.device, d)
	if err != nil {
		return nil, err
	}
	return &e, nil
}
