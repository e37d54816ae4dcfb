package connector

import (
	"context"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/presence"
)

// heartbeatSlots is how many parts the presence heartbeat's interval is cut
// into. Each socket that holds its device here sits in one slot (by its
// serial: consecutive sockets land in different slots), and each tick
// refreshes one slot, so the records of 100,000 sockets reach Redis as a
// steady trickle of batches, never all at once.
const heartbeatSlots = 10

// beatWheel is the heartbeat's timer wheel: one set of sockets per slot.
// Guarded by Server.mu; it holds exactly the sockets of Server.byDevice.
type beatWheel struct {
	slots [heartbeatSlots]map[*conn]struct{}
}

func (w *beatWheel) add(c *conn) {
	slot := &w.slots[c.serial%heartbeatSlots]
	if *slot == nil {
		*slot = make(map[*conn]struct{})
	}
	(*slot)[c] = struct{}{}
}

func (w *beatWheel) remove(c *conn) { delete(w.slots[c.serial%heartbeatSlots], c) }

// runHeartbeat turns the wheel: every heartbeatEvery/heartbeatSlots it
// refreshes the next slot, so every record is refreshed once per
// heartbeatEvery (a third of the TTL) from one goroutine and one ticker.
func (s *Server) runHeartbeat() {
	t := time.NewTicker(s.heartbeatEvery() / heartbeatSlots)
	defer t.Stop()
	for slot := 0; ; slot = (slot + 1) % heartbeatSlots {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.refreshPresence(slot)
	}
}

// refreshPresence refreshes the records of the sockets in one slot of the
// wheel (one Presence.Refresh: for Redis, one script call per
// presence.RefreshBatch sockets, in one round trip), closes those a newer
// socket elsewhere has replaced (4009), and releases again the records of
// sockets released meanwhile.
func (s *Server) refreshPresence(slot int) {
	s.mu.RLock()
	held := make([]Held, 0, len(s.beats.slots[slot]))
	for c := range s.beats.slots[slot] {
		held = append(held, Held{Dev: c.dev, Stamp: c.stamp})
	}
	s.mu.RUnlock()
	if len(held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.heartbeatEvery())
	lost, err := s.deps.Presence.Refresh(ctx, held)
	s.refreshSeen(ctx, held)
	cancel()
	if err != nil {
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: presence heartbeat failed", "devices", len(held), "err", err)
	}
	for _, h := range lost {
		// Not a socket that replaced the refreshed one meanwhile.
		if c := s.lookup(h.Dev); c != nil && c.stamp == h.Stamp {
			c.shutdown(protocol.CloseReplaced, "device connected elsewhere", true)
		}
	}
	// A socket released since the snapshot may have had its record written
	// back by the refresh (it found the key gone): release it again
	// (compare-and-delete, so a newer socket's record stays).
	var stale []Held
	for _, h := range held {
		if c := s.lookup(h.Dev); c == nil || c.stamp != h.Stamp {
			stale = append(stale, h)
		}
	}
	if len(stale) > 0 {
		s.releasePresence(stale...)
	}
}

// releases is the group commit of presence releases: the first caller of
// releasePresence becomes the flusher and releases, one Presence.Release
// per round, every record queued until none is left; callers meanwhile only
// queue theirs. So a thousand sockets closing at once (a network blip, a
// drain) cost Redis a few round trips, not a thousand, and no goroutine
// waits for a pooled connection. mu is a leaf lock, never held across I/O.
type releases struct {
	mu       sync.Mutex
	pending  []Held
	flushing bool
}

// releasePresence removes the presence records of held that still name
// their sockets: now, or in the round of the flusher already at work.
func (s *Server) releasePresence(held ...Held) {
	q := &s.releases
	q.mu.Lock()
	q.pending = append(q.pending, held...)
	if q.flushing {
		q.mu.Unlock()
		return
	}
	q.flushing = true
	for len(q.pending) > 0 {
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.deps.Presence.Release(ctx, batch); err != nil {
			// The records expire within presence.TTL.
			s.m.presenceErrors.Inc()
			s.log.Warn("connector: presence release failed", "devices", len(batch), "err", err)
		}
		cancel()
		q.mu.Lock()
	}
	q.flushing = false
	q.mu.Unlock()
}

// heartbeatEvery is how often each record is refreshed: PresenceHeartbeat,
// by default a third of presence.TTL.
func (s *Server) heartbeatEvery() time.Duration {
	if s.cfg.PresenceHeartbeat > 0 {
		return s.cfg.PresenceHeartbeat
	}
	return presence.TTL / 3
}
