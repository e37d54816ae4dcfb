package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// entry is one own message in the outbox: sealed, and sent again (under
// the same client message id, so persist stores it once) until a stored
// frame names its id.
type entry struct {
	id, conv string
	content  e2ee.Content
	plain    []byte // content as sealed, kept to seal again for new devices
	env      *e2ee.Envelope

	sent      bool      // StateSent was reported
	due       time.Time // next send (or rekey)
	attempts  int       // unavailable / rate_limited answers in a row
	sends     int       // send frames written: resends back off exponentially
	rekeys    int       // times sealed again after missing_keys / bad_envelope
	rekeying  bool      // a rekeyer goroutine is out
	needRekey bool      // seal again before the next send

	// Sender keys (senderkeys.go): internal marks a sender key
	// distribution (no Status events, nothing shown); after is the
	// distribution a group message waits for (sent once it is stored);
	// done marks a distribution stored.
	internal bool
	after    *entry
	done     bool
}

// maxRekeys bounds sealing again for the same message: a directory that
// keeps disagreeing with persist is a bug, not a race.
const maxRekeys = 5

// rekeyTimeout bounds one directory refresh and seal.
const rekeyTimeout = 30 * time.Second

// Send encrypts content for every current device of the conversation's
// members and puts it in the outbox; it returns the message's client message
// id, which Status events name. From then on the client owns the message:
// it is sent, resent with backoff from ResendInterval and after every reconnect until
// stored, sealed again for a fresh key directory if persist reports missing
// devices, and backed off when the platform is busy. Send blocks only for
// the key directory (cached per conversation) and the encryption.
func (c *Client) Send(ctx context.Context, conversation string, content e2ee.Content) (string, error) {
	if c.keys == nil {
		return "", fmt.Errorf("client: send: no Directory configured")
	}
	if !validID(conversation) {
		return "", fmt.Errorf("client: send: bad conversation id %q", conversation)
	}
	plain, err := content.Marshal()
	if err != nil {
		return "", fmt.Errorf("client: send: %w", err)
	}
	id := newMessageID()
	sl, err := c.seal(ctx, conversation, id, plain, false)
	if err != nil {
		return "", err
	}
	e := &entry{id: id, conv: conversation, content: content, plain: plain, env: sl.env, after: sl.after}
	if err := c.do(func() {
		if sl.dist != nil {
			c.enqueue(sl.dist, c.cfg.clock.Now())
		}
		c.enqueue(e, c.cfg.clock.Now())
	}); err != nil {
		return "", err
	}
	return id, nil
}

// recipients is the conversation's devices from the key cache, with this
// device added if the directory does not list it, so that its own
// messages read back after a sync.
func (c *Client) recipients(ctx context.Context, conversation string, refresh bool) ([]e2ee.Recipient, error) {
	rs, err := c.keys.recipients(ctx, conversation, refresh)
	if err != nil {
		return nil, fmt.Errorf("client: send: key directory: %w", err)
	}
	if !slices.ContainsFunc(rs, func(r e2ee.Recipient) bool { return r.Device == c.cfg.Device }) {
		rs = append(slices.Clip(rs), e2ee.Recipient{Device: c.cfg.Device, PublicKey: c.cfg.Key.PublicKey()})
	}
	return rs, nil
}

// sealPairwise encrypts plain for every device of rs (v1) and signs it.
func (c *Client) sealPairwise(conversation, id string, plain []byte, rs []e2ee.Recipient) (*e2ee.Envelope, error) {
	env, err := e2ee.Seal(plain, e2ee.AssociatedData{
		Conversation: conversation, SenderDevice: c.cfg.Device, ClientMessageID: id,
	}, rs)
	if err != nil {
		return nil, fmt.Errorf("client: send: %w", err)
	}
	if c.cfg.SigningKey != nil {
		e2ee.SignEnvelope(env, conversation, c.cfg.Device, c.cfg.SigningKey)
	}
	return env, nil
}

func (c *Client) enqueue(e *entry, now time.Time) {
	c.conv(e.conv) // a conversation sent to is tracked
	c.s.outbox = append(c.s.outbox, e)
	c.s.byID[e.id] = e
	c.sendEntry(e, now)
}

// sendEntry writes e's send frame if connected, and schedules the resend.
func (c *Client) sendEntry(e *entry, now time.Time) {
	if c.s.conn == nil || e.waiting() {
		return // resume sends it, or its distribution's storing does
	}
	c.write(protocol.Frame{Type: protocol.TypeSend, ID: e.id, Conversation: e.conv, Envelope: e.env})
	// Resends back off (ResendInterval, then doubling up to ten times it,
	// jittered): when the platform is slow, resending at a fixed pace only
	// adds duplicates to the queue it is slow to drain.
	e.sends++
	e.due = now.Add(backoff(e.sends, c.cfg.ResendInterval, 10*c.cfg.ResendInterval))
	c.wake(e.due)
	if !e.sent {
		e.sent = true
		if !e.internal {
			c.emit(&Status{Conversation: e.conv, ID: e.id, State: StateSent})
		}
	}
}

// remove takes e out of the outbox.
func (c *Client) remove(e *entry) {
	delete(c.s.byID, e.id)
	if i := slices.Index(c.s.outbox, e); i >= 0 {
		c.s.outbox = slices.Delete(c.s.outbox, i, i+1)
	}
}

func (c *Client) fail(e *entry, err error) {
	c.remove(e)
	if e.internal {
		c.distributionFailed(e, err)
		return
	}
	c.log.Warn("client: message refused", "conversation", e.conv, "id", e.id, "err", err)
	c.emit(&Status{Conversation: e.conv, ID: e.id, State: StateFailed, Err: err})
}

// stored handles a stored frame, or an own message echoed back, which is as
// good: id has seq. The message leaves the outbox, its status moves on (to
// delivered or read at once if receipts beyond seq came first), and it
// takes its place in the conversation's order with the content it was sent
// with.
func (c *Client) stored(conversation, id string, seq int64, storedAt, now time.Time) {
	cv := c.conv(conversation)
	cv.note(seq)
	e := c.s.byID[id]
	if e == nil || e.conv != conversation {
		c.maybeSync(cv, now)
		return // stored before, or not ours
	}
	c.remove(e)
	if e.internal {
		c.distributionStored(cv, e, seq, storedAt, now)
		return
	}
	st := cv.peerState(seq)
	c.advance(conversation, id, seq, StateSent, st)
	if st < StateRead {
		cv.own[seq] = &ownMsg{id: id, state: st}
	}
	content := e.content
	c.offer(cv, pendingMsg{f: protocol.Frame{
		Type: protocol.TypeMessage, ID: id, Conversation: conversation, Seq: seq,
		Sender: c.s.user, SenderDevice: c.cfg.Device, StoredAt: storedAt,
	}, content: &content}, now)
}

// sendError handles an error frame about an outbox message: seal again for
// a fresh directory, back off, or give up, depending on the code.
func (c *Client) sendError(e *entry, f protocol.Frame, now time.Time) {
	perr := &protocol.Error{Code: f.Code, Message: f.Message, Ref: f.ID}
	switch f.Code {
	case protocol.CodeMissingKeys, protocol.CodeBadEnvelope:
		if e.rekeying {
			return // an earlier resend's answer; the new seal is on its way
		}
		e.rekeys++
		if e.rekeys > maxRekeys {
			c.fail(e, fmt.Errorf("client: still %w after sealing %d times", perr, maxRekeys))
			return
		}
		c.log.Info("client: sealing again for a fresh key directory", "conversation", e.conv, "id", e.id,
			"code", f.Code, "missing", len(f.MissingDevices))
		c.startRekey(e)
	case protocol.CodeUnavailable, protocol.CodeRateLimited, protocol.CodeInternal:
		e.attempts++
		e.due = now.Add(backoff(e.attempts, 4*c.cfg.MinBackoff, 3*c.cfg.MaxBackoff))
		// A refusal by the user's send rate says when a token is back:
		// not before then (sooner would be refused again).
		if after := time.Duration(f.AfterMs) * time.Millisecond; e.due.Before(now.Add(after)) {
			e.due = now.Add(after)
		}
		c.wake(e.due)
	default:
		c.fail(e, perr)
	}
}

// startRekey refreshes the conversation's key directory and seals e again
// under the same id, off the loop; rekeyed takes the result back.
func (c *Client) startRekey(e *entry) {
	e.rekeying, e.needRekey = true, false
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, rekeyTimeout)
		defer cancel()
		var sl sealed
		var err error
		if e.internal {
			sl.env, err = c.resealDistribution(ctx, e)
		} else {
			sl, err = c.seal(ctx, e.conv, e.id, e.plain, true)
		}
		_ = c.do(func() { c.rekeyed(e, sl, err, c.cfg.clock.Now()) })
	}()
}

func (c *Client) rekeyed(e *entry, sl sealed, err error, now time.Time) {
	if c.s.byID[e.id] != e {
		return // stored or failed meanwhile
	}
	e.rekeying = false
	if err != nil {
		c.log.Warn("client: seal again failed", "conversation", e.conv, "id", e.id, "err", err)
		e.needRekey = true
		e.due = now.Add(backoff(e.rekeys, 4*c.cfg.MinBackoff, 3*c.cfg.MaxBackoff))
		c.wake(e.due)
		return
	}
	if sl.dist != nil {
		c.enqueue(sl.dist, now)
	}
	e.env, e.after = sl.env, sl.after
	c.sendEntry(e, now)
}
