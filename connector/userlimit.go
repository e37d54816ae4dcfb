package connector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/userlimit"
)

// userLimitTimeout bounds one batch of per-user limit checks: a Redis that
// hangs delays sends by at most this much, and then lets them through.
const userLimitTimeout = time.Second

// userLimits is the group commit of per-user limit checks (store/userlimit,
// one bucket per user and kind shared by every connector): the reader of a
// send or typing frame queues its check; the first one finding no flush
// under way takes every check queued so far, runs them in one
// Limits.Take (for Redis, one round trip), hands the answers out, and
// passes the turn to the first reader that queued meanwhile. So a frame
// costs at most one round trip of its own, and under load a round trip
// answers many frames. mu is a leaf lock, never held across I/O.
type userLimits struct {
	mu       sync.Mutex
	pending  []*limitCheck
	flushing bool
}

// limitCheck is one frame's question; done carries true when wait holds
// the answer, false when its reader is to flush next.
type limitCheck struct {
	req  userlimit.Request
	wait time.Duration
	done chan bool
}

// userRule is the configured rule for frames of typ, and whether they are
// limited per user at all.
func (s *Server) userRule(typ string) (userlimit.Kind, userlimit.Rule, bool) {
	if s.deps.Limits == nil {
		return "", userlimit.Rule{}, false
	}
	var kind userlimit.Kind
	var rule userlimit.Rule
	switch typ {
	case protocol.TypeSend:
		kind, rule = userlimit.Send, userlimit.Rule{Rate: s.cfg.UserSendRate, Burst: s.cfg.UserSendBurst}
	case protocol.TypeTyping:
		kind, rule = userlimit.Typing, userlimit.Rule{Rate: s.cfg.UserTypingRate, Burst: s.cfg.UserTypingBurst}
	default:
		return "", rule, false
	}
	return kind, rule, rule.Valid() // a negative rate: off
}

// userWait takes a token from the bucket of c's user for a frame of typ and
// returns 0 when the frame may go on, or how long the user must wait. It
// blocks the socket's reader for the round trip (as posting to the sink
// does). A store that fails or times out lets the frame through (counted
// and logged): refusing every user's messages because Redis blinked would
// be worse than a few seconds without this limit.
func (s *Server) userWait(c *conn, typ string) time.Duration {
	kind, rule, ok := s.userRule(typ)
	if !ok {
		return 0
	}
	mine := &limitCheck{req: userlimit.Request{Kind: kind, User: c.dev.User, Rule: rule}, done: make(chan bool, 1)}
	q := &s.limits
	q.mu.Lock()
	q.pending = append(q.pending, mine)
	lead := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if !lead && <-mine.done {
		return mine.wait
	}
	// This reader flushes: every check queued so far, its own among them.
	q.mu.Lock()
	batch := q.pending
	q.pending = nil
	q.mu.Unlock()
	reqs := make([]userlimit.Request, len(batch))
	for i, b := range batch {
		reqs[i] = b.req
	}
	ctx, cancel := context.WithTimeout(s.ctx, userLimitTimeout)
	waits, err := s.deps.Limits.Take(ctx, reqs)
	cancel()
	if err == nil && len(waits) != len(reqs) {
		err = fmt.Errorf("%d answers for %d checks", len(waits), len(reqs))
	}
	if err != nil {
		s.m.userLimitErrors.Inc()
		s.log.Warn("connector: per-user limits unavailable; not limiting", "frames", len(batch), "err", err)
		waits = nil
	}
	for i, b := range batch {
		if waits != nil {
			b.wait = waits[i]
		}
		if b != mine {
			b.done <- true
		}
	}
	// Pass the turn on: the next flush answers whoever queued meanwhile.
	q.mu.Lock()
	if len(q.pending) > 0 {
		q.pending[0].done <- false
	} else {
		q.flushing = false
	}
	q.mu.Unlock()
	return mine.wait
}

// userLimited answers a frame refused by its user's limit: rate_limited
// with the frame's id (a send's client message id; none for typing) and
// afterMs, the wait until the user's bucket has a token again. Nothing was
// posted; resending the same frame after afterMs is safe. It counts no
// strike against the socket: the user's other devices may have spent the
// budget.
func (s *Server) userLimited(c *conn, f protocol.Frame, wait time.Duration) {
	s.m.userLimited.WithLabelValues(f.Type).Inc()
	msg := "too many messages from your account; resend after afterMs"
	if f.Type == protocol.TypeTyping {
		msg = "too many typing frames from your account; dropped"
	}
	c.sendError(&protocol.Error{Code: protocol.CodeRateLimited, Message: msg, Ref: f.ID, RetryAfter: wait})
}
