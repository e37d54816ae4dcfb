package connector

import (
	"context"
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
	for _, h := range held {
		if c := s.lookup(h.Dev); c == nil || c.stamp != h.Stamp {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.deps.Presence.Release(ctx, h.Dev, h.Stamp); err != nil {
				s.m.presenceErrors.Inc()
				s.log.Warn("connector: presence release failed", "user", h.Dev.User, "device", h.Dev.Device, "err", err)
			}
			cancel()
		}
	}
}

// heartbeatEvery is how often each record is refreshed: PresenceHeartbeat,
// by default a third of presence.TTL.
func (s *Server) heartbeatEvery() time.Duration {
	if s.cfg.PresenceHeartbeat > 0 {
		return s.cfg.PresenceHeartbeat
	}
	return presence.TTL / 3
}
