package seen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/presence"
	"github.com/agentchat/agentchat/store/storetest"
)

// BenchmarkRedis measures, on the test Redis, what presence adds per
// socket and per fan-out: a heartbeat of one batch of sockets (what each
// slot of the connector's heartbeat wheel costs on top of the routing
// records' refresh, RoutingRefresh500), the states of one batch of
// watchers (what route reads for one presence change), and one socket's
// connect and leave.
func BenchmarkRedis(b *testing.B) {
	opt, err := redis.ParseURL(storetest.Need(b, storetest.EnvRedisURL))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	r := make([]byte, 4)
	rand.Read(r)
	prefix := "bench:seen:" + hex.EncodeToString(r) + ":"
	defer func() {
		if keys, err := rdb.Keys(context.Background(), prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	}()
	s := NewRedis(rdb, prefix, 0)
	ctx := context.Background()
	socks := make([]Socket, batch)
	users := make([]string, batch)
	for i := range socks {
		users[i] = fmt.Sprintf("u%04d", i)
		socks[i] = Socket{Dev: events.DeviceRef{User: users[i], Device: "d"}, Stamp: uint64(i + 1)}
	}
	b.Run("Refresh500", func(b *testing.B) {
		for b.Loop() {
			if err := s.Refresh(ctx, socks); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/socket")
	})
	// The routing records' heartbeat of the same sockets, for comparison.
	reg := presence.NewRedis(rdb, prefix).Connector("c")
	for _, so := range socks {
		if _, err := reg.Claim(ctx, so.Dev, so.Stamp); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("RoutingRefresh500", func(b *testing.B) {
		for b.Loop() {
			if _, err := reg.Refresh(ctx, socks); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/socket")
	})
	b.Run("States500", func(b *testing.B) {
		for b.Loop() {
			if st, err := s.States(ctx, users); err != nil || len(st) != batch {
				b.Fatal(len(st), err)
			}
		}
	})
	b.Run("ConnectedDisconnected", func(b *testing.B) {
		so := Socket{Dev: events.DeviceRef{User: "flap", Device: "d"}}
		for b.Loop() {
			so.Stamp++
			if _, err := s.Connected(ctx, so); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Disconnected(ctx, so, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
