package connector

import (
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// frames is what one delivered event looks like to devices: own for the
// device that caused it (its senderid/deviceid), other for every other
// target. They differ only for a stored message: its sender's device gets
// "stored" (✓), everyone else the "message".
type frames struct {
	actor      events.DeviceRef
	own, other protocol.Frame
}

// framesFor is the one place where event types become frames.
func framesFor(e event.Event) (frames, error) {
	ext := func(name string) string { s, _ := e.Extensions()[name].(string); return s }
	fr := frames{actor: events.DeviceRef{User: ext(events.ExtSenderID), Device: ext(events.ExtDeviceID)}}
	conv := ext(events.ExtConversationID)
	same := func(f protocol.Frame, err error) (frames, error) {
		fr.own, fr.other = f, f
		return fr, err
	}
	switch e.Type() {
	case events.TypeMessageStored:
		m, err := events.Decode[events.Message](e)
		if err != nil {
			return fr, err
		}
		fr.own = protocol.Frame{Type: protocol.TypeStored, ID: m.ClientMessageID, Conversation: m.ConversationID, Seq: m.Seq, StoredAt: m.StoredAt}
		fr.other = messageFrame(m)
		return fr, nil
	case events.TypeMessageRejected:
		d, err := events.Decode[events.MessageRejected](e)
		return same(protocol.Frame{Type: protocol.TypeError, ID: d.ClientMessageID, Conversation: conv,
			Code: d.Code, Message: d.Reason, MissingDevices: d.MissingDevices}, err)
	case events.TypeReceiptDelivered, events.TypeReceiptRead:
		d, err := events.Decode[events.Receipt](e)
		kind := "delivered"
		if e.Type() == events.TypeReceiptRead {
			kind = "read"
		}
		return same(protocol.Frame{Type: protocol.TypeReceipt, Kind: kind, Conversation: conv,
			Sender: fr.actor.User, SenderDevice: fr.actor.Device, Seq: d.Seq}, err)
	case events.TypeTyping:
		d, err := events.Decode[events.Typing](e)
		return same(protocol.Frame{Type: protocol.TypeTyping, Conversation: conv, Sender: fr.actor.User, State: d.State}, err)
	case events.TypeSyncBatch:
		d, err := events.Decode[events.SyncBatch](e)
		f := batchFrame(conv, d.Messages, d.More, d.LastSeq, d.Cursors)
		f.ID, f.End = d.RequestID, d.End
		return same(f, err)
	case events.TypeResumeBatch:
		d, err := events.Decode[events.ResumeBatch](e)
		if d.Code != "" {
			return same(protocol.Frame{Type: protocol.TypeError, ID: d.RequestID, Code: d.Code, Message: d.Reason}, err)
		}
		f := protocol.Frame{Type: protocol.TypeResumed, ID: d.RequestID, Gone: d.Gone, Next: d.Next,
			Batches: make([]protocol.Frame, len(d.Conversations))}
		for i, c := range d.Conversations {
			f.Batches[i] = batchFrame(c.ConversationID, c.Messages, c.More, c.LastSeq, c.Cursors)
			// a conversation new to the device: what names it
			f.Batches[i].Kind, f.Batches[i].Rev, f.Batches[i].Members, f.Batches[i].Title = c.Kind, c.Rev, c.Members, c.Title
		}
		return same(f, err)
	case events.TypeAgentPartial:
		// The agent's device is the partial's associated data (e2ee.PartialAD):
		// a client that has not seen a message of the agent yet needs it.
		d, err := events.Decode[events.AgentPartial](e)
		return same(protocol.Frame{Type: protocol.TypeAgent, Kind: "partial", Agent: d.AgentID, Conversation: conv,
			Sender: fr.actor.User, SenderDevice: fr.actor.Device,
			ReplyTo: d.ReplyTo, Index: d.Index, Envelope: d.Envelope}, err)
	case events.TypeAgentDone:
		d, err := events.Decode[events.AgentDone](e)
		return same(protocol.Frame{Type: protocol.TypeAgent, Kind: "done", Agent: d.AgentID, Conversation: conv,
			Sender: fr.actor.User, SenderDevice: fr.actor.Device,
			ReplyTo: d.ReplyTo, ID: d.ClientMessageID}, err)
	case events.TypeAgentStatus:
		d, err := events.Decode[events.AgentStatus](e)
		return same(protocol.Frame{Type: protocol.TypeAgent, Kind: protocol.AgentStatus, Agent: d.AgentID, Conversation: conv,
			Sender: fr.actor.User, SenderDevice: fr.actor.Device,
			ReplyTo: d.ReplyTo, Index: d.Index, State: d.State, Tools: d.Tools}, err)
	case events.TypeAgentError:
		d, err := events.Decode[events.AgentError](e)
		return same(protocol.Frame{Type: protocol.TypeAgent, Kind: "error", Agent: d.AgentID, Conversation: conv,
			Sender: fr.actor.User, SenderDevice: fr.actor.Device,
			ReplyTo: d.ReplyTo, Code: d.Code, Message: d.Message, Retryable: d.Retryable}, err)
	case events.TypeMediaUploadReady:
		d, err := events.Decode[events.MediaUploadReady](e)
		f := protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaUpload, ID: d.MediaID, Conversation: conv,
			URL: d.UploadURL, Headers: d.Headers, ExpiresAt: d.ExpiresAt}
		for _, p := range d.Parts {
			f.Parts = append(f.Parts, protocol.Part{URL: p.URL, Size: p.Size})
		}
		return same(f, err)
	case events.TypeMediaStored:
		d, err := events.Decode[events.MediaStored](e)
		return same(protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaStored, ID: d.MediaID, Conversation: conv,
			Size: d.Size, SHA256: d.SHA256}, err)
	case events.TypeMediaDownloadReady:
		d, err := events.Decode[events.MediaDownloadReady](e)
		return same(protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaDownload, ID: d.MediaID, Conversation: conv,
			URL: d.DownloadURL, ExpiresAt: d.ExpiresAt, Size: d.Size, SHA256: d.SHA256}, err)
	case events.TypeConversationChanged:
		// Who is in it and what it is called; the removed users it also
		// reaches find themselves missing from members.
		d, err := events.Decode[events.ConversationChanged](e)
		return same(protocol.Frame{Type: protocol.TypeConversation, Conversation: conv, Kind: d.Kind, Rev: d.Rev,
			Members: d.Members, Admins: d.Admins, Title: d.Title, Sender: fr.actor.User, SenderDevice: fr.actor.Device}, err)
	case events.TypePresenceState:
		d, err := events.Decode[events.PresenceState](e)
		return same(presenceFrame(d), err)
	case events.TypeMediaRejected:
		d, err := events.Decode[events.MediaRejected](e)
		return same(protocol.Frame{Type: protocol.TypeError, ID: d.MediaID, Conversation: conv, Code: d.Code, Message: d.Reason}, err)
	}
	return fr, fmt.Errorf("connector: no frame for event type %q", e.Type())
}

// batchFrame is one conversation's batch of stored messages (a sync's
// answer, or one conversation of a resume's).
func batchFrame(conv string, msgs []events.Message, more bool, lastSeq int64, cursors []events.Cursor) protocol.Frame {
	f := protocol.Frame{Type: protocol.TypeBatch, Conversation: conv, More: more, LastSeq: lastSeq,
		Messages: make([]protocol.Frame, len(msgs))}
	for i, m := range msgs {
		f.Messages[i] = messageFrame(m)
	}
	for _, c := range cursors {
		f.Cursors = append(f.Cursors, protocol.Cursor{User: c.User, Delivered: c.Delivered, Read: c.Read})
	}
	return f
}

// messageFrame is a stored message as a device receives it (live or in a batch).
func messageFrame(m events.Message) protocol.Frame {
	return protocol.Frame{Type: protocol.TypeMessage, ID: m.ClientMessageID, Conversation: m.ConversationID, Seq: m.Seq,
		Sender: m.SenderID, SenderDevice: m.SenderDevice, Envelope: m.Envelope, StoredAt: m.StoredAt, System: m.System}
}

// presenceFrame is a presence state as its frame: one user's, or a
// request's answer (its id and a frame per user).
func presenceFrame(d events.PresenceState) protocol.Frame {
	one := func(u events.UserPresence) protocol.Frame {
		f := protocol.Frame{Type: protocol.TypePresence, User: u.User, Online: u.Online}
		if u.LastSeen != nil {
			f.LastSeen = *u.LastSeen
		}
		return f
	}
	if !d.Snapshot && len(d.Users) == 1 {
		return one(d.Users[0])
	}
	f := protocol.Frame{Type: protocol.TypePresence, ID: d.RequestID, Users: make([]protocol.Frame, len(d.Users))}
	for i, u := range d.Users {
		f.Users[i] = one(u)
	}
	return f
}
