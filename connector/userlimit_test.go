package connector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/userlimit"
)

// postedSends are the client message ids of the message.sent events of
// user the sink has (a duplicate fails the test).
func postedSends(t *testing.T, sk *sink, user string) map[string]bool {
	t.Helper()
	out := make(map[string]bool)
	for _, e := range sk.received() {
		if e.Type() != events.TypeMessageSent || e.Extensions()[events.ExtSenderID] != user {
			continue
		}
		d, err := events.Decode[events.MessageSent](e)
		if err != nil {
			t.Fatal(err)
		}
		if out[d.ClientMessageID] {
			t.Errorf("send %s posted twice", d.ClientMessageID)
		}
		out[d.ClientMessageID] = true
	}
	return out
}

// settle sends a ping after what c sent and returns the frames before its
// pong: a socket's frames are handled in order, so these are the answers to
// everything sent before.
func (c *client) settle() []protocol.Frame {
	c.t.Helper()
	id := "p-" + randomHex(4)
	c.sendFrame(protocol.Frame{Type: protocol.TypePing, ID: id})
	var out []protocol.Frame
	for {
		f := c.next()
		if f.Type == protocol.TypePong && f.ID == id {
			return out
		}
		out = append(out, f)
	}
}

// Alice's sends are limited as one user whichever device and connector
// they come through: her three devices, two on one connector and one on
// another, share one budget of 9; bob's is his own.
func TestUserSendRateHoldsAcrossDevicesAndConnectors(t *testing.T) {
	rdb, prefix := testRedis(t)
	is, sk := newIssuer(t), newSink(t)
	const burst = 9
	tweak := func(c *Config) { c.UserSendRate, c.UserSendBurst = 1.0/3600, burst } // no token back within the test
	one := startConnectorOn(t, rdb, prefix, is, sk, tweak)
	two := startConnectorOn(t, rdb, prefix, is, sk, tweak)
	devices := []*client{one.dial("alice", "d1"), one.dial("alice", "d2"), two.dial("alice", "d3")}
	bob := two.dial("bob", "b1")

	var sent []string
	refused := make(map[string]int64) // id → afterMs
	for round := range 5 {
		for i, c := range devices {
			id := fmt.Sprintf("m-%d-%d", i, round)
			sent = append(sent, id)
			c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: id, Conversation: "conv-1", Envelope: envelope(16, "d1", "d2", "d3", "b1")})
		}
	}
	for _, c := range devices {
		for _, f := range c.settle() {
			if f.Type != protocol.TypeError || f.Code != protocol.CodeRateLimited || f.ID == "" {
				t.Fatalf("unexpected frame %+v", f)
			}
			refused[f.ID] = f.AfterMs
		}
	}
	for i := range 3 {
		bob.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: fmt.Sprintf("b-%d", i), Conversation: "conv-1", Envelope: envelope(16, "b1")})
	}
	if got := bob.settle(); len(got) != 0 {
		t.Errorf("bob's sends were answered %+v; want none refused (his budget is his own)", got)
	}

	// Everything sent before the pings is handled; the posts are awaited
	// (the sink may still be counting the last ones).
	eventually(t, frameWait, "alice's allowed sends to reach the sink", func() bool {
		return len(postedSends(t, sk, "alice")) == len(sent)-len(refused)
	})
	posted := postedSends(t, sk, "alice")
	if len(posted) != burst || len(refused) != len(sent)-burst {
		t.Errorf("posted %d, refused %d of %d; want %d posted (the user's burst), the rest refused", len(posted), len(refused), len(sent), burst)
	}
	for _, id := range sent {
		if posted[id] == (refused[id] != 0) {
			t.Errorf("send %s: posted %v, refused %v; want exactly one", id, posted[id], refused[id] != 0)
		}
	}
	for id, ms := range refused {
		// The next token is an interval (an hour) away: say so.
		if ms < 3_590_000 || ms > 3_600_000 {
			t.Errorf("refusal of %s: afterMs %d, want about an hour", id, ms)
		}
	}
	eventually(t, frameWait, "bob's sends to reach the sink", func() bool { return len(postedSends(t, sk, "bob")) == 3 })
	var counted float64
	for _, e := range []*env{one, two} {
		counted += testutil.ToFloat64(e.srv.m.userLimited.WithLabelValues(protocol.TypeSend))
		// Refusals by the user's limit are no strikes against the socket.
		e.srv.mu.RLock()
		var conns []*conn
		for c := range e.srv.all {
			conns = append(conns, c)
		}
		e.srv.mu.RUnlock()
		for _, c := range conns {
			c.readMu.Lock()
			if c.strikes != 0 {
				t.Errorf("socket of %v has %d strikes", c.dev, c.strikes)
			}
			c.readMu.Unlock()
		}
	}
	if counted != float64(len(refused)) {
		t.Errorf("user_limited_total{type=send} = %v across the connectors, want %d", counted, len(refused))
	}
}

// A client that resends each refused send after its afterMs gets every
// message through, and the user's sends, over three devices on two
// connectors, never outrun the rule: by any time T, at most Burst +
// Rate × (T − start) were posted.
func TestUserSendRateRefusalsAreRetried(t *testing.T) {
	rdb, prefix := testRedis(t)
	is, sk := newIssuer(t), newSink(t)
	const rate, burst, each = 40.0, 5, 12
	tweak := func(c *Config) { c.UserSendRate, c.UserSendBurst = rate, burst }
	one := startConnectorOn(t, rdb, prefix, is, sk, tweak)
	two := startConnectorOn(t, rdb, prefix, is, sk, tweak)
	devices := []*client{one.dial("alice", "d1"), one.dial("alice", "d2"), two.dial("alice", "d3")}

	var (
		mu       sync.Mutex
		postedAt []time.Time // when each send was let through (its refusal-free answer)
		refusals int
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i, c := range devices {
		wg.Go(func() {
			for n := range each {
				id := fmt.Sprintf("m-%d-%d", i, n)
				for {
					c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: id, Conversation: "conv-1", Envelope: envelope(16, "d1")})
					answers := c.settle()
					if len(answers) == 0 {
						mu.Lock()
						postedAt = append(postedAt, time.Now())
						mu.Unlock()
						break
					}
					f := answers[0]
					if len(answers) != 1 || f.Code != protocol.CodeRateLimited || f.ID != id || f.AfterMs <= 0 {
						t.Errorf("answers to %s: %+v; want one rate_limited with its id and afterMs", id, answers)
						return
					}
					mu.Lock()
					refusals++
					mu.Unlock()
					time.Sleep(time.Duration(f.AfterMs) * time.Millisecond) // as a client told afterMs waits
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	eventually(t, frameWait, "every send at the sink", func() bool { return len(postedSends(t, sk, "alice")) == 3*each })
	if refusals == 0 {
		t.Fatalf("no send was refused: the test did not reach the limit")
	}
	// Each send's token was taken before its answer (postedAt) and after
	// start, so the k-th answer had at least k tokens taken before it.
	sort.Slice(postedAt, func(i, j int) bool { return postedAt[i].Before(postedAt[j]) })
	for k, at := range postedAt {
		if limit := burst + rate*at.Sub(start).Seconds(); float64(k+1) > limit+1 { // +1: clock reading slack
			t.Errorf("send %d let through %v after start: over burst + rate × elapsed = %.1f", k+1, at.Sub(start), limit)
		}
	}
	t.Logf("%d sends through with %d refusals in %v", 3*each, refusals, time.Since(start).Round(time.Millisecond))
}

// Typing frames have a bucket of their own: over it they are dropped with
// rate_limited (no id), and sends still go.
func TestUserTypingRate(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.UserTypingRate, c.UserTypingBurst = 1.0/3600, 2 })
	c := e.dial("alice", "d1")
	for range 3 {
		c.sendFrame(protocol.Frame{Type: protocol.TypeTyping, Conversation: "conv-1", State: "typing"})
	}
	c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-1", Conversation: "conv-1", Envelope: envelope(16, "d1")})
	got := c.settle()
	if len(got) != 1 || got[0].Code != protocol.CodeRateLimited || got[0].ID != "" || got[0].AfterMs <= 0 {
		t.Fatalf("answers %+v; want one rate_limited (the third typing) without id, with afterMs", got)
	}
	eventually(t, frameWait, "2 typing and 1 send at the sink", func() bool { return len(e.sink.received()) == 3 })
}

// brokenLimits is a store that is down (err), or answers fewer checks
// than it was asked.
type brokenLimits struct {
	err   error
	calls int
}

func (f *brokenLimits) Take(context.Context, []userlimit.Request) ([]time.Duration, error) {
	f.calls++
	return nil, f.err
}

// A limiter outage (or a broken answer) lets sends through (counted),
// rather than refusing every user's messages.
func TestUserLimitsFailOpen(t *testing.T) {
	for name, down := range map[string]*brokenLimits{
		"down":         {err: errors.New("redis: connection refused")},
		"short answer": {},
	} {
		t.Run(name, func(t *testing.T) {
			rdb, prefix := testRedis(t)
			e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil, func(s *Server) { s.deps.Limits = down })
			c := e.dial("alice", "d1")
			c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-1", Conversation: "conv-1", Envelope: envelope(16, "d1")})
			if got := c.settle(); len(got) != 0 {
				t.Fatalf("answers %+v; want none", got)
			}
			eventually(t, frameWait, "the send at the sink", func() bool { return len(e.sink.received()) == 1 })
			if n := testutil.ToFloat64(e.srv.m.userLimitErrors); n != 1 || down.calls != 1 {
				t.Errorf("user_limit_errors_total = %v after %d calls, want 1 after 1", n, down.calls)
			}
		})
	}
}

// heldLimits holds its first Take until release is closed, and records the
// size of every batch.
type heldLimits struct {
	UserLimits
	reached, release chan struct{}
	mu               sync.Mutex
	batches          []int
}

func (h *heldLimits) Take(ctx context.Context, reqs []userlimit.Request) ([]time.Duration, error) {
	h.mu.Lock()
	h.batches = append(h.batches, len(reqs))
	first := len(h.batches) == 1
	h.mu.Unlock()
	if first {
		close(h.reached)
		<-h.release
	}
	return h.UserLimits.Take(ctx, reqs)
}

// While one check is at Redis, the checks of other sockets queue, and the
// next round trip answers all of them: group commit, not a round trip each.
func TestUserLimitChecksAreBatched(t *testing.T) {
	rdb, prefix := testRedis(t)
	h := &heldLimits{UserLimits: userlimit.NewRedis(rdb, prefix), reached: make(chan struct{}), release: make(chan struct{})}
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil, func(s *Server) { s.deps.Limits = h })
	var cs []*client
	for i := range 5 {
		cs = append(cs, e.dial(fmt.Sprintf("u%d", i), "d"))
	}
	cs[0].sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-0", Conversation: "conv-1", Envelope: envelope(16, "d")})
	<-h.reached
	for i, c := range cs[1:] {
		c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: fmt.Sprintf("m-%d", i+1), Conversation: "conv-1", Envelope: envelope(16, "d")})
	}
	eventually(t, frameWait, "4 checks queued behind the first", func() bool {
		e.srv.limits.mu.Lock()
		defer e.srv.limits.mu.Unlock()
		return len(e.srv.limits.pending) == 4
	})
	close(h.release)
	eventually(t, frameWait, "5 sends at the sink", func() bool { return len(e.sink.received()) == 5 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if fmt.Sprint(h.batches) != "[1 4]" {
		t.Errorf("batches %v, want [1 4]: the first check, then the four queued meanwhile in one", h.batches)
	}
}
