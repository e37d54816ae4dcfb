package client

import (
	"math/rand/v2"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// state is everything the loop owns. Nothing else reads or writes it, so
// none of it needs a lock: public methods reach it through Client.do.
type state struct {
	user string // this device's user (Config.User, or the hello frame's)

	conn        *wsConn   // nil while disconnected
	gen         int       // bumped per connection
	urlIdx      int       // index into Config.URLs of the current or next dial
	attempt     int       // failed dials in a row
	dialing     bool      // a dialer goroutine is out
	reconnectAt time.Time // next dial, while disconnected
	switchAt    time.Time // a reconnect frame asked to move at this time
	fatal       bool      // replaced elsewhere or revoked: no more reconnects

	convs      map[string]*conv
	lastDevice map[string]string // user → the device of their latest message (agents have one)
	outbox     []*entry          // in send order
	byID       map[string]*entry
	syncs      int                            // sync requests written, for their ids
	resume     resumeState                    // the resume under way, if any
	resumeDone bool                           // this connection's resume answered its last page (or fell back to syncs)
	media      map[string][]*mediaWait        // media requests waiting for their answer, by media id
	pages      map[string]chan protocol.Frame // History requests waiting for their page, by request id
	pageN      int                            // History requests written, for their ids

	queue     []Event          // events the application has not taken yet
	writes    []protocol.Frame // frames the writer has not taken yet
	pace      *pacer           // paces writes under the connector's rate limit
	lastWrite time.Time
	nextIdle  time.Time // the next idle sync (idleAfter)

	timer    timer     // from Config.clock: the loop's only timer
	deadline time.Time // when timer fires; zero: stopped
}

func (s *state) init(user string, pace *pacer, t timer) {
	s.user, s.pace = user, pace
	s.convs = make(map[string]*conv)
	s.lastDevice = make(map[string]string)
	s.byID = make(map[string]*entry)
	s.media = make(map[string][]*mediaWait)
	s.pages = make(map[string]chan protocol.Frame)
	s.timer = t
}

// loop is the client's one owner of state. Every input arrives on a channel;
// output to the application and to the writer leaves through select cases
// that are armed only when something waits, so the loop never blocks on a
// slow consumer and Close always gets through.
func (c *Client) loop() {
	defer close(c.events)
	defer close(c.done)
	s := &c.s
	for {
		var (
			evCh  chan<- Event
			ev    Event
			outCh chan<- protocol.Frame
			out   protocol.Frame
		)
		if len(s.queue) > 0 {
			evCh, ev = c.events, s.queue[0]
		}
		if s.conn != nil && len(s.writes) > 0 {
			if d := s.pace.wait(c.cfg.clock.Now()); d == 0 {
				outCh, out = s.conn.out, s.writes[0]
			} else {
				c.wake(c.cfg.clock.Now().Add(d))
			}
		}
		select {
		case <-c.ctx.Done():
			s.timer.Stop()
			c.teardown(true)
			return
		case fn := <-c.cmds:
			fn()
		case in := <-c.in:
			c.handle(in, c.cfg.clock.Now())
		case r := <-c.dialed:
			c.dialDone(r, c.cfg.clock.Now())
		case evCh <- ev:
			s.queue[0] = nil
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = nil
			}
		case outCh <- out:
			s.pace.take()
			s.writes = s.writes[1:]
			if len(s.writes) == 0 {
				s.writes = nil
			}
			s.lastWrite = c.cfg.clock.Now()
		case <-s.timer.C():
			s.deadline = time.Time{}
			c.housekeep(c.cfg.clock.Now())
		}
	}
}

// emit queues an event for the application.
func (c *Client) emit(ev Event) { c.s.queue = append(c.s.queue, ev) }

// write queues a frame for the current connection; without one it is
// dropped (whatever matters is redone on reconnect: syncs, outbox, acks).
func (c *Client) write(f protocol.Frame) {
	if c.s.conn != nil {
		c.s.writes = append(c.s.writes, f)
	}
}

// wake makes housekeep run at at (or earlier, if already due earlier).
func (c *Client) wake(at time.Time) {
	s := &c.s
	if !s.deadline.IsZero() && !at.Before(s.deadline) {
		return
	}
	s.deadline = at
	s.timer.Reset(max(at.Sub(c.cfg.clock.Now()), 0))
}

// housekeep does everything that is due by time and arms the timer for
// what is due later: reconnects, moving off a draining connector, outbox
// resends, syncs that timed out or wait for their gap retry, acks,
// keepalives and the idle sync.
func (c *Client) housekeep(now time.Time) {
	s := &c.s
	if s.conn == nil {
		if !s.fatal && !s.dialing {
			if !now.Before(s.reconnectAt) {
				c.startDial()
			} else {
				c.wake(s.reconnectAt)
			}
		}
		return
	}
	if !s.switchAt.IsZero() {
		if !now.Before(s.switchAt) {
			c.disconnected(s.conn, errMoved, now)
			return
		}
		c.wake(s.switchAt)
	}
	if s.resume.id != "" && !now.Before(s.resume.sent.Add(c.cfg.SyncTimeout)) {
		c.resumeFailed(now)
	}
	for _, e := range s.outbox {
		switch {
		case e.rekeying, e.waiting():
		case now.Before(e.due):
			c.wake(e.due)
		case e.needRekey:
			c.startRekey(e)
		default:
			c.sendEntry(e, now)
		}
	}
	idle := c.cfg.IdleSync > 0 && !now.Before(s.nextIdle)
	if idle {
		s.nextIdle = c.idleAfter(now)
	}
	for _, cv := range s.convs {
		if cv.syncing && !now.Before(cv.syncSent.Add(c.cfg.SyncTimeout)) {
			cv.syncing = false
			c.sync(cv, now)
		} else if idle && !cv.syncing {
			cv.receipts = true
			c.sync(cv, now)
		} else {
			c.maybeSync(cv, now)
		}
		c.flushAcks(cv, now)
	}
	if c.cfg.IdleSync > 0 {
		c.wake(s.nextIdle)
	}
	if !now.Before(s.lastWrite.Add(c.cfg.KeepAlive)) && len(s.writes) == 0 {
		c.write(protocol.Frame{Type: protocol.TypePing})
		s.lastWrite = now
	}
	next := s.lastWrite.Add(c.cfg.KeepAlive)
	if !next.After(now) { // writes are queued behind a slow socket: the read timeout decides
		next = now.Add(c.cfg.KeepAlive)
	}
	c.wake(next)
}

// idleAfter is when the idle sync after one at now is due: IdleSync from
// now, give or take a quarter at random. Devices that connected together
// (a connector's restart, a load run) would otherwise sync every
// conversation in step, all of them at once, for as long as they stay.
func (c *Client) idleAfter(now time.Time) time.Time {
	d := c.cfg.IdleSync
	if d <= 0 {
		return time.Time{} // never: no idle sync
	}
	return now.Add(d*3/4 + rand.N(d/2+1))
}
