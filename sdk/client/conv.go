package client

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// conv is what the client knows of one conversation.
type conv struct {
	id    string
	order *order[pendingMsg]
	seen  int64 // highest seq known to exist (stored frames, receipts, batches)

	syncing  bool      // a sync is out, its batch not yet in
	syncID   string    // the id of the last sync written (its answers carry it)
	receipts bool      // syncs ask for the members' cursors until a last batch brings them
	syncSent time.Time // when the last sync went out
	gapSince time.Time // when the current gap was first seen; zero: none

	// Acks: what the application has (want) and what was written (sent).
	wantDelivered, sentDelivered int64
	wantRead, sentRead           int64
	ackDue                       time.Time // zero: nothing to flush

	// Other members' cursors, and own messages whose ticks they move.
	peerDelivered, peerRead int64
	own                     map[int64]*ownMsg // by seq, until read

	// This user's own read cursor (the member's: moved by any of its
	// devices), and the seqs of other users' messages handed to the
	// application after it, in order: the unread ones.
	ownRead int64
	unread  []int64

	answers map[answerKey]*answer // agents' answers, partials in order (answers.go)

	entries map[int64]*e2ee.Entry // what actions are checked against (actions.go), by seq
}

// pendingMsg is a message waiting for its turn: a frame to decrypt, or an
// own message whose content is known from the outbox.
type pendingMsg struct {
	f       protocol.Frame
	content *e2ee.Content
}

type ownMsg struct {
	id    string
	state State
}

// conv returns the conversation's state, tracking it from seq 0 if new.
func (c *Client) conv(id string) *conv {
	cv := c.s.convs[id]
	if cv == nil {
		cv = &conv{id: id, order: newOrder[pendingMsg](0), own: make(map[int64]*ownMsg)}
		c.s.convs[id] = cv
	}
	return cv
}

// note records that seq exists.
func (cv *conv) note(seq int64) { cv.seen = max(cv.seen, seq) }

// peerState is the tick an own message at seq has from other members'
// cursors: ✓✓ once at least one other member's device has acked it
// delivered, read once at least one other member has read it. (In a group
// that is "someone", not "everyone": the receipts are there for an
// application that wants per-member ticks.)
func (cv *conv) peerState(seq int64) State {
	switch {
	case seq <= cv.peerRead:
		return StateRead
	case seq <= cv.peerDelivered:
		return StateDelivered
	}
	return StateStored
}

// track starts following conversation after lastSeq, or moves its start
// forward, then syncs.
func (c *Client) track(id string, lastSeq int64) {
	now := c.cfg.clock.Now()
	cv := c.conv(id)
	cv.receipts = true
	if lastSeq > cv.order.last {
		for _, p := range cv.order.skipTo(lastSeq) {
			c.deliver(cv, p)
		}
	}
	c.sync(cv, now)
}

// sync asks for everything after the last seq handed to the application.
func (c *Client) sync(cv *conv, now time.Time) {
	if c.s.conn == nil {
		return // resume syncs every conversation
	}
	c.s.syncs++
	cv.syncID = syncID(c.s.syncs)
	c.write(protocol.Frame{Type: protocol.TypeSync, ID: cv.syncID, Conversation: cv.id, After: cv.order.last, Limit: c.syncLimit(cv),
		Receipts: cv.receipts})
	cv.syncing, cv.syncSent = true, now
	c.wake(now.Add(c.cfg.SyncTimeout))
}

// syncID is the id of the n-th sync request: "sync:n" never collides with
// a client message id (hex, see newMessageID), which error frames also carry.
func syncID(n int) string { return "sync:" + strconv.Itoa(n) }

// syncLimit asks for no more than the first hole when one is known: the
// messages after it are buffered or on their way, and every message a
// sync carries is a read the server pays for again (under load, a full
// page per gap multiplied by every member device is what slows delivery
// into more gaps).
func (c *Client) syncLimit(cv *conv) int {
	limit := c.cfg.SyncLimit
	if limit <= 0 {
		limit = protocol.DefaultSyncLimit
	}
	if hole := cv.order.hole(cv.seen); hole > 0 && hole < int64(limit) {
		return int(hole)
	}
	return c.cfg.SyncLimit
}

// maybeSync syncs when a gap is known and no sync is out, at most once per
// GapRetry.
func (c *Client) maybeSync(cv *conv, now time.Time) {
	if !cv.order.gap(cv.seen) {
		cv.gapSince = time.Time{}
		return
	}
	if cv.syncing || c.s.conn == nil {
		return
	}
	// Deliveries of one conversation can pass each other (functions run
	// concurrently): a gap usually closes by itself within moments. Sync
	// only for one that stays open for GapGrace.
	if cv.gapSince.IsZero() {
		cv.gapSince = now
	}
	if due := cv.gapSince.Add(c.cfg.GapGrace); now.Before(due) {
		c.wake(due)
		return
	}
	if next := cv.syncSent.Add(c.cfg.GapRetry); now.Before(next) {
		c.wake(next)
		return
	}
	c.sync(cv, now)
}

// resume runs after every (re)connect: ask for what was missed in every
// conversation in one exchange (startResume; the members' cursors too:
// receipts published meanwhile are lost), resend the outbox in order, and
// write the acks again (they are idempotent, and the last ones may have
// died with the old socket).
func (c *Client) resume(now time.Time) {
	c.startResume(now, "")
	for _, id := range slices.Sorted(maps.Keys(c.s.convs)) {
		cv := c.s.convs[id]
		if cv.sentDelivered > 0 || cv.sentRead > 0 {
			cv.sentDelivered, cv.sentRead = 0, 0
			c.scheduleAck(cv, now)
		}
	}
	for _, e := range c.s.outbox {
		if e.rekeying || e.needRekey {
			continue
		}
		e.attempts = 0
		c.sendEntry(e, now)
	}
}

// ack records that the application has everything up to seq (read: has
// shown it, which implies delivered) and schedules the debounced ack.
func (c *Client) ack(cv *conv, seq int64, read bool) {
	if seq < 1 {
		return
	}
	cv.wantDelivered = max(cv.wantDelivered, seq)
	if read {
		cv.wantRead = max(cv.wantRead, seq)
		cv.ownReadTo(seq)
	}
	c.scheduleAck(cv, c.cfg.clock.Now())
}

func (c *Client) scheduleAck(cv *conv, now time.Time) {
	if cv.ackDue.IsZero() {
		cv.ackDue = now.Add(c.cfg.AckDelay)
	}
	c.wake(cv.ackDue)
}

// flushAcks writes the cumulative acks that are due.
func (c *Client) flushAcks(cv *conv, now time.Time) {
	if cv.ackDue.IsZero() || c.s.conn == nil {
		return
	}
	if now.Before(cv.ackDue) {
		c.wake(cv.ackDue)
		return
	}
	cv.ackDue = time.Time{}
	if cv.wantDelivered > cv.sentDelivered {
		c.write(protocol.Frame{Type: protocol.TypeDelivered, Conversation: cv.id, Seq: cv.wantDelivered})
		cv.sentDelivered = cv.wantDelivered
	}
	if cv.wantRead > cv.sentRead {
		c.write(protocol.Frame{Type: protocol.TypeRead, Conversation: cv.id, Seq: cv.wantRead})
		cv.sentRead = cv.wantRead
	}
}

// ownReadTo moves this user's own read cursor (its acks, its other
// devices' read receipts, the cursors of a batch): what is up to it is
// no longer unread.
func (cv *conv) ownReadTo(seq int64) {
	if seq <= cv.ownRead {
		return
	}
	cv.ownRead = seq
	i := 0
	for i < len(cv.unread) && cv.unread[i] <= seq {
		i++
	}
	cv.unread = cv.unread[i:]
}

// peerReceipt moves another member's cursor and the ticks of own messages
// it covers, in seq order.
func (c *Client) peerReceipt(cv *conv, kind string, seq int64) {
	switch kind {
	case ReceiptRead:
		cv.peerRead = max(cv.peerRead, seq)
		cv.peerDelivered = max(cv.peerDelivered, seq)
	case ReceiptDelivered:
		cv.peerDelivered = max(cv.peerDelivered, seq)
	default:
		return
	}
	for _, s := range slices.Sorted(maps.Keys(cv.own)) {
		m := cv.own[s]
		st := cv.peerState(s)
		if st <= m.state {
			continue
		}
		c.advance(cv.id, m.id, s, m.state, st)
		m.state = st
		if st == StateRead {
			delete(cv.own, s)
		}
	}
}

// advance reports an own message's every step from one state to another,
// so that an application sees ✓ before ✓✓ even when both come at once.
func (c *Client) advance(conversation, id string, seq int64, from, to State) {
	for st := max(from+1, StateStored); st <= to; st++ {
		c.emit(&Status{Conversation: conversation, ID: id, Seq: seq, State: st})
	}
}
