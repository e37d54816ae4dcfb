package client

import (
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// handle dispatches one frame (or a reader's final error) on the loop.
// Frames from a socket that is already replaced still count when they carry
// data (messages, batches, stored, receipts); its control frames do not.
func (c *Client) handle(in inbound, now time.Time) {
	if in.err != nil {
		c.disconnected(in.w, in.err, now)
		return
	}
	f := in.f
	current := in.w == c.s.conn
	switch f.Type {
	case protocol.TypeHello:
		if c.s.user == "" {
			c.s.user = f.User
		}
		if current {
			c.log.Debug("client: hello", "connector", f.Connector)
		}
	case protocol.TypeStored:
		if validID(f.Conversation) && f.Seq > 0 {
			c.stored(f.Conversation, f.ID, f.Seq, f.StoredAt, now)
		}
	case protocol.TypeMessage:
		c.message(f, now)
	case protocol.TypeBatch:
		if c.pageAnswer(f) {
			return // a History page: below the order, not a gap to fill
		}
		c.batch(f, now)
	case protocol.TypeResumed:
		c.resumed(f, now)
	case protocol.TypeReceipt:
		c.receipt(f, now)
	case protocol.TypeTyping:
		if f.SenderDevice != c.cfg.Device && (f.Sender == "" || f.Sender != c.s.user) {
			c.emit(&Typing{Conversation: f.Conversation, User: f.Sender, Device: f.SenderDevice, State: f.State})
		}
	case protocol.TypeAgent:
		c.agent(f, now)
	case protocol.TypeMedia:
		c.mediaAnswer(f)
	case protocol.TypeConversation:
		c.conversation(f, now)
	case protocol.TypePresence:
		c.presence(f)
	case protocol.TypeError:
		if e := c.s.byID[f.ID]; f.ID != "" && e != nil {
			c.sendError(e, f, now)
			return
		}
		if f.ID != "" && c.mediaAnswer(f) {
			return // a media request's refusal: its caller gets it
		}
		if c.pageAnswer(f) {
			return // a History request's refusal: its caller gets it
		}
		if f.ID != "" && f.ID == c.s.resume.id {
			c.resumeFailed(now) // refused (or a platform without resume): sync each
		}
		// The refusal of a sync carries the sync's id (a platform from
		// before request ids sent none): it ends that sync.
		cv := c.s.convs[f.Conversation]
		syncAnswer := cv != nil && f.ID != "" && f.ID == cv.syncID
		if syncAnswer {
			cv.syncing = false
		}
		if f.Code == protocol.CodeNotMember && (f.ID == "" || syncAnswer) && f.Conversation != "" {
			delete(c.s.convs, f.Conversation) // removed from it: stop syncing it
		}
		c.log.Warn("client: error frame", "code", f.Code, "message", f.Message, "ref", f.ID)
		c.emit(&Error{Conversation: f.Conversation, ID: f.ID, Code: f.Code,
			Err: &protocol.Error{Code: f.Code, Message: f.Message, Ref: f.ID}})
	case protocol.TypeReconnect:
		if current {
			// The connector spread its clients' afterMs over its drain;
			// only a hint of 0 (no spread) gets jitter of our own.
			after := time.Duration(f.AfterMs) * time.Millisecond
			if after <= 0 {
				after = jitter(c.cfg.MinBackoff)
			}
			c.s.switchAt = now.Add(after)
			c.log.Info("client: connector draining", "after_ms", f.AfterMs)
			c.wake(c.s.switchAt)
		}
	case protocol.TypeResync:
		if !current {
			return
		}
		if f.Conversation != "" {
			c.sync(c.conv(f.Conversation), now)
			return
		}
		c.startResume(now, "")
	case protocol.TypePong:
	default:
		c.log.Debug("client: unknown frame type", "type", f.Type)
	}
}

// message takes one stored message (live or from a batch) into its
// conversation's order. An own message echoed back completes its outbox
// entry like a stored frame would.
func (c *Client) message(f protocol.Frame, now time.Time) {
	if !validID(f.Conversation) || f.Seq < 1 {
		c.log.Warn("client: message frame without conversation or seq")
		return
	}
	if f.SenderDevice == c.cfg.Device {
		if e := c.s.byID[f.ID]; e != nil {
			c.stored(f.Conversation, f.ID, f.Seq, f.StoredAt, now) // offers it with its known content
		}
	}
	if c.memberEntry(f) { // this user's own removal (groups.go)
		return
	}
	if f.Sender != "" && f.SenderDevice != "" && f.System == nil {
		c.s.lastDevice[f.Sender] = f.SenderDevice
	}
	cv := c.conv(f.Conversation)
	cv.note(f.Seq)
	c.offer(cv, pendingMsg{f: f}, now)
}

// offer puts a message in order, hands the application whatever is now
// ready, schedules the delivered ack, and syncs if a gap shows.
func (c *Client) offer(cv *conv, p pendingMsg, now time.Time) {
	ready, _ := cv.order.offer(p.f.Seq, p)
	fromOthers := false
	for _, r := range ready {
		c.deliver(cv, r)
		fromOthers = fromOthers || r.f.SenderDevice != c.cfg.Device
	}
	// Only others' messages are worth an ack: a receipt for one's own
	// messages alone would cost every member a fan-out for nothing.
	if fromOthers && c.cfg.AutoDeliveredAck {
		cv.wantDelivered = max(cv.wantDelivered, cv.order.last)
		c.scheduleAck(cv, now)
	}
	c.maybeSync(cv, now)
}

// batch applies a sync answer and asks for more while there is more.
// The last batch of the answer to the sync that is out (its id, end) ends
// that sync; a batch without an id comes from a platform from before
// request ids, which answers every sync with one batch. A batch of an
// earlier sync (timed out, or asked on a socket since replaced) still
// brings its messages and cursors, but the sync that is out stays out.
func (c *Client) batch(f protocol.Frame, now time.Time) {
	if !validID(f.Conversation) {
		return
	}
	cv := c.conv(f.Conversation)
	before := cv.order.last
	final := f.ID == "" || (f.ID == cv.syncID && f.End)
	cv.note(f.LastSeq)
	if final && !f.More {
		cv.receipts = false
	}
	// The members' cursors: ticks whose receipt events were lost.
	for _, cur := range f.Cursors {
		if cur.User == c.s.user {
			cv.ownReadTo(cur.Read)
		}
		if cur.User != c.s.user && validID(cur.User) {
			c.peerReceipt(cv, ReceiptDelivered, cur.Delivered)
			c.peerReceipt(cv, ReceiptRead, cur.Read)
		}
	}
	for _, m := range f.Messages {
		if m.Conversation == "" {
			m.Conversation = f.Conversation
		}
		if m.Conversation != f.Conversation {
			continue
		}
		c.message(m, now) // the sync is still out: no gap sync from in here
	}
	if final {
		cv.syncing = false
	}
	// More after a hole-sized page is no reason to ask again unless a gap
	// is still open: the rest is buffered or arriving live.
	if final && f.More && cv.order.last > before && cv.order.gap(cv.seen) {
		c.sync(cv, now)
		return
	}
	c.maybeSync(cv, now)
}

// deliver hands one message, in order, to the application: decrypted, or
// as an Error event if it cannot be (it still counts as received, so that
// what follows is not held up behind it).
func (c *Client) deliver(cv *conv, p pendingMsg) {
	f := p.f
	if e2ee.IsDistributionID(f.ID) {
		c.takeDistribution(cv, p) // a sender key, not a message
		return
	}
	if f.Sender != c.s.user && f.Seq > cv.ownRead && f.System == nil { // an entry is nobody's unread message
		cv.unread = append(cv.unread, f.Seq)
	}
	m := &Message{Conversation: cv.id, Seq: f.Seq, ID: f.ID, Sender: f.Sender, SenderDevice: f.SenderDevice,
		StoredAt: f.StoredAt, Own: f.SenderDevice == c.cfg.Device}
	if f.System != nil {
		// Membership moved: the next group message starts a new sender
		// key (senderkeys.go). The entry is stored and ordered, so this
		// holds even when the conversation frame was lost.
		c.membershipChanged(cv.id, f.System.Rev)
		c.emit(&MemberEntry{Conversation: cv.id, Seq: f.Seq, StoredAt: f.StoredAt, Change: *f.System})
		return
	}
	if p.content != nil {
		m.Content = *p.content
		m.Verified = true // this device's own outbox: it sealed this content itself
		m.Invalid = cv.judge(m)
		c.emit(m)
		return
	}
	content, code, err := c.open(f.Envelope, e2ee.AssociatedData{
		Conversation: cv.id, SenderDevice: f.SenderDevice, ClientMessageID: f.ID,
	})
	if err != nil {
		c.log.Warn("client: message not readable", "conversation", cv.id, "seq", f.Seq, "code", code, "err", err)
		c.emit(&Error{Conversation: cv.id, Seq: f.Seq, ID: f.ID, Sender: f.Sender, SenderDevice: f.SenderDevice,
			Code: code, Err: err})
		return
	}
	m.Content = content
	m.Verified = c.verified(cv.id, f)
	if !m.Verified {
		c.log.Info("client: message not verified", "conversation", cv.id, "seq", f.Seq, "senderDevice", f.SenderDevice)
	}
	m.Invalid = cv.judge(m)
	if m.Content.Kind() != e2ee.KindMessage && len(cv.unread) > 0 && cv.unread[len(cv.unread)-1] == f.Seq {
		// An edit, delete or reaction is not a message to read: it
		// changes one (WhatsApp counts none of them as unread).
		cv.unread = cv.unread[:len(cv.unread)-1]
	}
	if content.ReplyTo > 0 && !m.Own {
		// The reply itself: what is left of its partials is dropped.
		cv.endAnswer(answerKey{agent: f.Sender, replyTo: content.ReplyTo})
	}
	c.emit(m)
}

// verified checks a message's signature against its sender device's
// signing key as the key cache holds it. It never asks accounts (the loop
// does not wait on the network): the reader warmed the cache for the
// frame's senders before handing it over (warmSigningKeys).
func (c *Client) verified(conversation string, f protocol.Frame) bool {
	if c.keys == nil || f.Envelope == nil {
		return false
	}
	key := c.keys.signingKey(conversation, f.SenderDevice)
	if key == nil && f.SenderDevice == c.cfg.Device && c.cfg.SigningKey != nil {
		key = c.cfg.SigningKey.PublicKeyBytes() // own, from before a restart
	}
	return e2ee.VerifyEnvelope(f.Envelope, conversation, f.SenderDevice, key) == nil
}

// open decrypts an envelope for this device and reads its content. The code
// tells apart "not for me" from "tampered" from "not content".
func (c *Client) open(env *e2ee.Envelope, ad e2ee.AssociatedData) (e2ee.Content, string, error) {
	var plain []byte
	var err error
	if env != nil && env.V == e2ee.Version2 && !slices.ContainsFunc(env.Keys, func(k e2ee.WrappedKey) bool { return k.Device == c.cfg.Device }) {
		// Sealed with the sender's chain (a wrapped key instead: an
		// agent's message, e2ee.SealOnce, or this agent device's own).
		plain, err = c.gk.open(env, ad)
		if errors.Is(err, errNoSenderKey) {
			return e2ee.Content{}, CodeNoSenderKey, err
		}
	} else {
		plain, err = e2ee.Open(env, ad, c.cfg.Device, c.cfg.Key)
	}
	switch {
	case errors.Is(err, e2ee.ErrNotRecipient):
		return e2ee.Content{}, CodeNotRecipient, err
	case err != nil:
		return e2ee.Content{}, CodeUndecryptable, err
	}
	content, err := e2ee.UnmarshalContent(plain)
	if err != nil {
		return e2ee.Content{}, CodeBadContent, err
	}
	return content, "", nil
}

// receipt reports another device's cursor, and moves own ticks when it is
// another member's.
func (c *Client) receipt(f protocol.Frame, now time.Time) {
	user, device := f.Sender, f.SenderDevice
	if user == "" {
		user, device = f.User, f.Device
	}
	if !validID(f.Conversation) || f.Seq < 1 {
		return
	}
	c.emit(&Receipt{Conversation: f.Conversation, User: user, Device: device, Kind: f.Kind, Seq: f.Seq})
	cv := c.conv(f.Conversation)
	// A receipt is not taken as evidence that a message exists: receipts
	// take another path through the platform and routinely overtake the
	// message they ack; syncing on them only adds load when it is busiest.
	if user != c.s.user && device != c.cfg.Device {
		c.peerReceipt(cv, f.Kind, f.Seq)
	}
	if user == c.s.user && f.Kind == ReceiptRead {
		cv.ownReadTo(f.Seq) // read on another of this user's devices
	}
	c.maybeSync(cv, now)
}

// conversation follows a conversation this user was put in (from its
// start: its messages come by sync) and stops following one the user is no
// longer in, and tells the application either way.
func (c *Client) conversation(f protocol.Frame, now time.Time) {
	if !validID(f.Conversation) || f.Rev < 1 {
		return
	}
	ev := &ConversationChange{ID: f.Conversation, Kind: f.Kind, Rev: f.Rev, Members: f.Members, Admins: f.Admins, Title: f.Title, By: f.Sender,
		Member: slices.Contains(f.Members, c.s.user)}
	c.membershipChanged(f.Conversation, f.Rev)
	c.emit(ev)
	cv, known := c.s.convs[f.Conversation]
	switch {
	case !ev.Member && known:
		delete(c.s.convs, f.Conversation)
	case ev.Member && !known:
		cv = c.conv(f.Conversation)
		cv.receipts = true
		c.sync(cv, now)
	}
}

// agent reports an agent's activity; partial chunks are content, sealed
// with e2ee.PartialAD, and decrypted here. Partials reach the application
// once each, in index order (answers.go); done and error end the answer.
func (c *Client) agent(f protocol.Frame, now time.Time) {
	a := &AgentActivity{Conversation: f.Conversation, Agent: f.Agent, Device: f.SenderDevice,
		ReplyTo: f.ReplyTo, Kind: f.Kind, Index: f.Index}
	if a.Agent == "" {
		a.Agent = f.Sender
	}
	if a.Device == "" {
		// A frame that does not name the agent's device: an agent has one,
		// and its messages have shown which.
		a.Device = c.s.lastDevice[a.Agent]
	}
	if !validID(f.Conversation) || !validID(a.Agent) {
		return
	}
	cv := c.conv(f.Conversation)
	switch f.Kind {
	case AgentPartial:
		if f.Index < 0 {
			return
		}
		plain, err := e2ee.Open(f.Envelope, e2ee.PartialAD(f.Conversation, a.Device, f.ReplyTo, f.Index),
			c.cfg.Device, c.cfg.Key)
		if err != nil {
			// It takes its place in the order all the same, and is
			// reported once.
			ready, fresh := cv.partial(agentKey(f), f.Index, nil)
			if fresh {
				code := CodeUndecryptable
				if errors.Is(err, e2ee.ErrNotRecipient) {
					code = CodeNotRecipient
				}
				c.emit(&Error{Conversation: f.Conversation, Seq: f.ReplyTo, Sender: a.Agent, SenderDevice: a.Device,
					Code: code, Err: err})
			}
			for _, r := range ready {
				c.emit(r)
			}
			break
		}
		a.Content = partialContent(plain)
		ready, _ := cv.partial(agentKey(f), f.Index, a)
		for _, r := range ready {
			c.emit(r)
		}
	case AgentStatus:
		if f.Index < 0 || !cv.status(agentKey(f), f.Index) {
			break
		}
		a.State, a.Tools = f.State, f.Tools
		c.emit(a)
	case AgentDone:
		a.ID = f.ID
		cv.endAnswer(agentKey(f))
		c.emit(a)
	case AgentError:
		a.Code, a.Text, a.Retryable = f.Code, f.Message, f.Retryable
		cv.endAnswer(agentKey(f))
		c.emit(a)
	default:
		c.emit(a)
	}
	if f.ReplyTo > 0 {
		cv.note(f.ReplyTo)
		c.maybeSync(cv, now)
	}
}

// partialContent reads a streamed chunk: Content JSON like a message, or
// (from a runtime that streams bare text) the UTF-8 text itself.
func partialContent(plain []byte) e2ee.Content {
	if content, err := e2ee.UnmarshalContent(plain); err == nil {
		return content
	}
	if utf8.Valid(plain) {
		return e2ee.Content{Text: string(plain)}
	}
	return e2ee.Content{}
}
