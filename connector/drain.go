package connector

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// moveGrace is how long past its hinted time a draining socket stays open
// for its client to move on its own; then the connector closes it (1012).
const moveGrace = time.Second

// Drain takes the connector out of service without losing a message and
// without a reconnect storm:
//
//   - /readyz answers 503 and new upgrades are refused at once;
//   - every client is sent "reconnect" with a delay afterMs of its own,
//     spread evenly over [0, spread) in random order — of n clients, one
//     in each n-th of the spread (spreadHints) —, where spread is
//     ReconnectSpread, at most half of DrainTimeout;
//   - until then its socket keeps working (deliveries, sends, acks), so a
//     client loses nothing while it waits: at afterMs it closes the socket
//     itself, connects to another connector and resumes (one exchange);
//   - a socket still open moveGrace after its hinted time is closed by the
//     connector, 1012 after its queued frames, so clients that ignore the
//     hint and reconnect on the close are spread just the same.
//
// Drain returns once every socket is gone, at most DrainTimeout after it
// began (or when ctx ends), and then closes the server (Close).
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	s.idleIfEmpty()
	s.mu.Unlock()
	// accept registers sockets under s.mu and refuses them once draining
	// is set: this snapshot holds every socket that will ever be here.
	conns := s.conns()
	spread := s.drainSpread()
	s.log.Info("connector: draining", "connections", len(conns), "spread", spread.String())

	begin := time.Now()
	hints := spreadHints(len(conns), spread)
	type move struct {
		c  *conn
		by time.Time // when the connector closes it if the client has not
	}
	moves := make([]move, len(conns))
	for i, c := range conns {
		c.send(protocol.Frame{Type: protocol.TypeReconnect, AfterMs: hints[i].Milliseconds()})
		moves[i] = move{c: c, by: begin.Add(hints[i] + moveGrace)}
	}
	slices.SortFunc(moves, func(a, b move) int { return a.by.Compare(b.by) })

	bound := time.NewTimer(s.cfg.DrainTimeout)
	defer bound.Stop()
	turn := time.NewTimer(0)
	defer turn.Stop()
	var err error
	next := 0
wait:
	for {
		select {
		case <-s.idle:
			break wait
		case <-bound.C:
			s.log.Warn("connector: drain timeout; closing the remaining sockets", "connections", s.Connections())
			break wait
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-turn.C:
			now := time.Now()
			for ; next < len(moves) && !moves[next].by.After(now); next++ {
				// Nothing happens to a socket its client closed already.
				moves[next].c.shutdown(protocol.CloseServiceRestart, "connector draining", true)
			}
			if next < len(moves) {
				turn.Reset(moves[next].by.Sub(now))
			}
		}
	}
	s.log.Info("connector: drained", "took", time.Since(begin).Round(time.Millisecond).String(), "left", s.Connections())
	s.Close()
	return err
}

// drainSpread is the spread of the reconnect hints: ReconnectSpread, but
// at most half of DrainTimeout, so that the sockets are gone in time.
func (s *Server) drainSpread() time.Duration {
	return min(s.cfg.ReconnectSpread, s.cfg.DrainTimeout/2)
}

// spreadHints returns n reconnect delays over [0, spread): one in each
// n-th of it, at a random point of that slot, in random order. At any
// moment of the spread about n/spread clients move per unit of time —
// never all at once, even by bad luck, as n independent draws could.
func spreadHints(n int, spread time.Duration) []time.Duration {
	hints := make([]time.Duration, n)
	if spread <= 0 || n == 0 {
		return hints
	}
	slot := float64(spread) / float64(n)
	for i, j := range rand.Perm(n) {
		hints[i] = min(time.Duration((float64(j)+rand.Float64())*slot), spread-1)
	}
	return hints
}

// Close stops the connector now: open sockets get close 1001 (without
// waiting for their queues; sockets already closing, as after Drain, stop
// flushing theirs after the frame being written), background work stops, and Close returns when
// every goroutine the server started has returned. Serve returns nil.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		s.http.Close()
		s.mu.Lock()
		s.idleIfEmpty()
		s.mu.Unlock()
		for _, c := range s.conns() {
			c.shutdown(protocol.CloseGoingAway, "connector shutting down", false)
		}
		// The poller reads the clients' answers to the close frames: it
		// stops once every socket is gone (each within WriteTimeout and
		// closeGrace, or the reader's SinkTimeout).
		bound := time.NewTimer(s.cfg.WriteTimeout + closeGrace + s.cfg.SinkTimeout)
		select {
		case <-s.idle:
		case <-bound.C:
			s.log.Error("connector: sockets still open at close", "connections", s.Connections())
		}
		bound.Stop()
		s.flushDepartures()
		s.cancel()
		if s.poll != nil {
			s.poll.stop()
		}
		s.track.Close()
	})
	return nil
}

// idleIfEmpty closes s.idle, once, if the server is draining and no socket
// is left. The caller holds s.mu.
func (s *Server) idleIfEmpty() {
	if !s.draining.Load() || len(s.all) != 0 {
		return
	}
	select {
	case <-s.idle:
	default:
		close(s.idle)
	}
}
