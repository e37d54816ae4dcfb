package connector

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/userlimit"
)

// countingLimits counts Take calls and the requests they carried.
type countingLimits struct {
	UserLimits
	calls, reqs atomic.Int64
}

func (c *countingLimits) Take(ctx context.Context, reqs []userlimit.Request) ([]time.Duration, error) {
	c.calls.Add(1)
	c.reqs.Add(int64(len(reqs)))
	return c.UserLimits.Take(ctx, reqs)
}

// BenchmarkInboundSend measures sends through one connector — read,
// decode, validate, the per-user rate check, post to a sink (an HTTP test
// server) — from 20 users sending at once, with the per-user limits on
// (every send checked in Redis, at a rate no one reaches) and off: the
// difference is what the check costs. It reports sends/s and, with the
// limits on, sends per Redis round trip (the group commit's batches).
func BenchmarkInboundSend(b *testing.B) {
	const users = 20
	for _, on := range []bool{true, false} {
		name := "user-limits-off"
		if on {
			name = "user-limits-on"
		}
		b.Run(name, func(b *testing.B) {
			rdb, prefix := testRedis(b)
			var counted *countingLimits
			e := startConnectorWith(b, rdb, prefix, newIssuer(b), newSink(b), func(c *Config) {
				c.RateLimit, c.RateBurst = 1e9, 1<<30 // the socket's own limit out of the way
				c.UserSendRate, c.UserSendBurst = 1e9, 1<<30
				if !on {
					c.UserSendRate = -1
				}
			}, func(s *Server) {
				counted = &countingLimits{UserLimits: s.deps.Limits}
				s.deps.Limits = counted
			})
			clients := make([]*client, users)
			for i := range clients {
				clients[i] = e.dial(fmt.Sprintf("u%d", i), "d")
			}
			env := envelope(256, "d", "e")
			b.ResetTimer()
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: fmt.Sprintf("m-%d", i), Conversation: "conv-1", Envelope: env})
					}
				})
			}
			wg.Wait()
			eventually(b, 5*time.Minute, "every send at the sink", func() bool { return len(e.sink.received()) >= b.N })
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "sends/s")
			if n := counted.calls.Load(); on && n > 0 {
				b.ReportMetric(float64(counted.reqs.Load())/float64(n), "sends/roundtrip")
			}
		})
	}
}

// BenchmarkInboundSendLatency measures one send at a time from one client:
// each op is a send and a ping, and ends with the pong (the socket's frames
// are handled in order, so the pong comes after the send was posted).
// With the limits on, each send waits for its own Redis round trip: the
// difference is what a send's latency pays for the check.
func BenchmarkInboundSendLatency(b *testing.B) {
	for _, on := range []bool{true, false} {
		name := "user-limits-off"
		if on {
			name = "user-limits-on"
		}
		b.Run(name, func(b *testing.B) {
			e := startConnector(b, func(c *Config) {
				c.RateLimit, c.RateBurst = 1e9, 1<<30
				c.UserSendRate, c.UserSendBurst = 1e9, 1<<30
				if !on {
					c.UserSendRate = -1
				}
			})
			c := e.dial("u", "d")
			env := envelope(256, "d", "e")
			i := 0
			for b.Loop() {
				i++
				c.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: fmt.Sprintf("m-%d", i), Conversation: "conv-1", Envelope: env})
				if got := c.settle(); len(got) != 0 {
					b.Fatalf("answers %+v", got)
				}
			}
		})
	}
}
