package function

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
)

// storeMessage is the rule for a sent message: a well-formed envelope,
// from a current device of a member, wrapped for exactly the current
// devices of the conversation's members, gets the next seq; a resend gets
// the stored message again. The reply carries the audience checked (the
// member devices, the agent members), which route fans out from.
//
// The directory comes from the cache (kept current by accounts' change
// events); anything the cache would refuse is checked again against a
// fresh read before it is refused. Storage commands with a warm cache:
// the insert, when this instance has stored in the conversation before;
// a resend it remembers: the message by _id. docs/data.md has the rest.
func (f *Function) storeMessage(ctx context.Context, d *deps, e event.Event) (*event.Event, error) {
	a, ok := fn.ActorOf(e)
	if !ok {
		return nil, fn.Refuse("persist: conversation, sender and device extensions are required")
	}
	sent, rej := decodeSent(e)
	if rej != nil {
		return f.reject(a, *rej)
	}
	v, err := readView(ctx, d.dir, a.Conversation, false)
	if err != nil {
		return nil, err
	}
	if !v.isMember(a.User) {
		if v, err = readView(ctx, d.dir, a.Conversation, true); err != nil {
			return nil, err
		}
		if !v.isMember(a.User) {
			return f.reject(a, events.MessageRejected{ClientMessageID: sent.ClientMessageID,
				Code: protocol.CodeNotMember, Reason: "you are not a member of this conversation"})
		}
	}
	key := messages.Key{Conversation: a.Conversation, Sender: a.User, SenderDevice: a.Device, ClientMessageID: sent.ClientMessageID}
	if seq, ok := f.recent.get(key); ok {
		// A resend of a message stored recently: answer with it, whole
		// (a distribution with every device's key: it is published again).
		m, err := d.msgs.At(ctx, a.Conversation, seq, messages.AllDevices)
		switch {
		case err == nil && messages.KeyOf(m) == key:
			f.stats.resends.Add(1)
			return f.stored(m, v)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	rej = checkRecipients(a, sent, v.refs(), v.isAgent)
	if rej != nil && !v.fresh {
		// The cache may not know a device or member yet: look again.
		if v, err = readView(ctx, d.dir, a.Conversation, true); err != nil {
			return nil, err
		}
		if !v.isMember(a.User) {
			return f.reject(a, events.MessageRejected{ClientMessageID: sent.ClientMessageID,
				Code: protocol.CodeNotMember, Reason: "you are not a member of this conversation"})
		}
		rej = checkRecipients(a, sent, v.refs(), v.isAgent)
	}
	if rej != nil {
		// A resend of a message stored before a device was added or
		// removed is still that message: answer with what was stored.
		m, err := d.msgs.ByKey(ctx, key, messages.AllDevices)
		switch {
		case err == nil:
			f.stats.resends.Add(1)
			f.recent.put(key, m.Seq)
			return f.stored(m, v)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		if v.isAgent(a.User) && (rej.Code == protocol.CodeMissingKeys || rej.Code == protocol.CodeBadEnvelope) {
			// An agent's runtime has no key directory: it seals its reply
			// again for the audience it is told.
			rej.Audience = v.audience()
		}
		return f.reject(a, *rej)
	}
	m, err := f.allocate(ctx, d.msgs, events.Message{ConversationID: a.Conversation, SenderID: a.User,
		SenderDevice: a.Device, ClientMessageID: sent.ClientMessageID, Envelope: sent.Envelope})
	if err != nil {
		return nil, err
	}
	return f.stored(m, v)
}

// decodeSent decodes e's data, or says why it is rejected: a malformed
// envelope (bad_envelope) is told apart from any other malformed data
// (bad_frame), which a well-behaved connector never sends. The data is
// decoded once; only a malformed event is decoded a second time, loosely,
// to name what is wrong.
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

// stored is persist's reply for a stored message: m with the audience of
// v, the view it was checked against.
func (f *Function) stored(m events.Message, v view) (*event.Event, error) {
	m.Audience = v.audience()
	e, err := events.NewMessageStored(m)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// reject builds the message.rejected reply, addressed (through route) to
// the sending device.
func (f *Function) reject(a fn.Actor, d events.MessageRejected) (*event.Event, error) {
	f.log.Info("persist: message rejected", "conversation", a.Conversation, "user", a.User,
		"device", a.Device, "clientMessageId", d.ClientMessageID, "code", d.Code)
	e, err := events.NewMessageRejected(a.Conversation, a.User, a.Device, d)
	if err != nil {
		return nil, err
	}
	return &e, nil
}
