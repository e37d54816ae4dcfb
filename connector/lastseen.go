package connector

import (
	"context"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/seen"
)

// Users' presence (docs/protocol.md, "Presence"): whether any socket of a
// user is live, kept in store/seen beside the routing records. The
// connector knows when sockets come and go, so it writes the store and
// announces a user's transitions (io.agentchat.presence.changed, about the
// user) to the broker; route tells the user's watchers. Only transitions
// are announced, and going offline only after a grace period: a socket
// that closes and comes back (a network blip, a reload, a drain moving it
// to another connector) within the grace keeps its user online without a
// single event, so a flapping client costs its contacts nothing.

// seenQueue holds the departures waiting out their grace period. mu is a
// leaf lock, never held across I/O.
type seenQueue struct {
	mu      sync.Mutex
	pending []departure // in order of due (the grace is one constant)
	wake    chan struct{}
}

// departure is a socket that closed at at; it is written to the store
// (and its user announced offline if it was their last) at due.
type departure struct {
	sock seen.Socket
	at   time.Time
	due  time.Time
}

// presenceGrace is how long a closed socket still counts (PRESENCE_GRACE).
func (s *Server) presenceGrace() time.Duration { return s.cfg.PresenceGrace }

// socketUp records c's socket as live and announces its user online if it
// was their first. Run after the hello, off the accept path.
func (s *Server) socketUp(c *conn) {
	if s.deps.Seen == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SinkTimeout)
	defer cancel()
	first, err := s.deps.Seen.Connected(ctx, seen.Socket{Dev: c.dev, Stamp: c.stamp})
	if err != nil {
		// The heartbeat records it within one interval; the transition is
		// not announced (watchers see it at their next connect).
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: seen: connected failed", "user", c.dev.User, "device", c.dev.Device, "err", err)
		return
	}
	if first {
		s.announce(ctx, c.dev, events.PresenceOnline, c.stamp)
	}
}

// socketDown queues c's departure for the grace period.
func (s *Server) socketDown(c *conn) {
	if s.deps.Seen == nil {
		return
	}
	now := time.Now()
	q := &s.seenQ
	q.mu.Lock()
	q.pending = append(q.pending, departure{sock: seen.Socket{Dev: c.dev, Stamp: c.stamp}, at: now, due: now.Add(s.presenceGrace())})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// runDepartures writes each departure when its grace ends. One goroutine:
// a thousand sockets closing at once are a thousand small scripts in a
// row, not a thousand goroutines.
func (s *Server) runDepartures() {
	q := &s.seenQ
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		q.mu.Lock()
		var due []departure
		now := time.Now()
		i := 0
		for i < len(q.pending) && !q.pending[i].due.After(now) {
			i++
		}
		due, q.pending = q.pending[:i:i], q.pending[i:]
		next := time.Hour
		if len(q.pending) > 0 {
			next = time.Until(q.pending[0].due)
		}
		q.mu.Unlock()
		s.depart(due)
		t.Reset(next)
		select {
		case <-s.ctx.Done():
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

// flushDepartures writes every departure still waiting, now: the
// connector is closing, and nobody would write them after it.
func (s *Server) flushDepartures() {
	if s.deps.Seen == nil {
		return
	}
	q := &s.seenQ
	q.mu.Lock()
	all := q.pending
	q.pending = nil
	q.mu.Unlock()
	s.depart(all)
}

// depart writes departures and announces the users who went offline.
func (s *Server) depart(ds []departure) {
	for _, d := range ds {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SinkTimeout)
		gone, err := s.deps.Seen.Disconnected(ctx, d.sock, d.at)
		if err != nil {
			// The socket's entry expires within seen.TTL; its user's last
			// seen is then the last heartbeat.
			s.m.presenceErrors.Inc()
			s.log.Warn("connector: seen: disconnected failed", "user", d.sock.Dev.User, "device", d.sock.Dev.Device, "err", err)
		} else if gone {
			s.announce(ctx, d.sock.Dev, events.PresenceOffline, d.sock.Stamp)
		}
		cancel()
	}
}

// announce posts a presence.changed about dev's user. Its id is keyed by
// (user, device, cause, stamp): a repeat is the same event.
func (s *Server) announce(ctx context.Context, dev events.DeviceRef, cause string, stamp uint64) {
	e, err := events.NewPresenceChanged(s.source, dev.User, dev.Device, cause, stamp)
	if err == nil {
		err = s.deps.Sink.Post(ctx, e)
	}
	if err != nil {
		// Watchers connected now keep the previous state until the next
		// change or their next connect; nothing else depends on it.
		s.m.eventsFailed.WithLabelValues(events.TypePresenceChanged).Inc()
		s.log.Warn("connector: presence announcement failed", "user", dev.User, "cause", cause, "err", err)
		return
	}
	s.m.eventsPosted.WithLabelValues(events.TypePresenceChanged).Inc()
}

// refreshSeen is the heartbeat of the users' presence, beside the routing
// records' (refreshPresence): the same sockets, one more round trip.
func (s *Server) refreshSeen(ctx context.Context, held []Held) {
	if s.deps.Seen == nil {
		return
	}
	if err := s.deps.Seen.Refresh(ctx, held); err != nil {
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: seen heartbeat failed", "devices", len(held), "err", err)
	}
}

// presenceRequestEvery is how often one socket may ask for presence: a
// client asks once per connect (changes are pushed after it), and each
// request costs route a read of the user's conversations.
const presenceRequestEvery = 5 * time.Second

// presenceWait reports how long c must wait before asking for presence
// again (0: f is not a presence request, or it may go now, and the time is
// taken).
func (c *conn) presenceWait(f protocol.Frame) time.Duration {
	if f.Type != protocol.TypePresence {
		return 0
	}
	now := time.Now().UnixNano()
	last := c.presenceAsked.Load()
	if last != 0 && now-last < int64(presenceRequestEvery) {
		return time.Duration(last + int64(presenceRequestEvery) - now)
	}
	if !c.presenceAsked.CompareAndSwap(last, now) {
		return presenceRequestEvery // another reader took it this instant
	}
	return 0
}
