package connector

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// Drain takes the connector out of service without losing a message:
// /readyz answers 503 and new upgrades are refused at once; every client is
// sent "reconnect" with a random delay in [0, ReconnectSpread) — so that the
// clients of a whole connector do not arrive at the others in one instant —
// followed, after its queued frames, by close 1012. Drain waits for the
// sockets to end, at most DrainTimeout (or until ctx ends), then closes the
// server (Close). Clients resume by syncing after their last seq.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	s.idleIfEmpty()
	s.mu.Unlock()
	s.log.Info("connector: draining", "connections", s.Connections())

	spread := s.cfg.ReconnectSpread.Milliseconds()
	for _, c := range s.conns() {
		after := int64(0)
		if spread > 0 {
			after = rand.Int64N(spread)
		}
		c.send(protocol.Frame{Type: protocol.TypeReconnect, AfterMs: after})
		c.shutdown(protocol.CloseServiceRestart, "connector draining", true)
	}

	t := time.NewTimer(s.cfg.DrainTimeout)
	defer t.Stop()
	var err error
	select {
	case <-s.idle:
	case <-t.C:
		s.log.Warn("connector: drain timeout; closing the remaining sockets", "connections", s.Connections())
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
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
