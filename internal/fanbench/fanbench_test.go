package fanbench

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
)

// TestBenchFanout is make bench-fanout at a tiny scale, in every test run:
// the harness works end to end — members offline and online over two
// connectors, the group's messages reaching every connected member, the
// listeners' sockets counted — and the line has its shape. It checks no
// speed.
func TestBenchFanout(t *testing.T) {
	redisURL, prefix := testenv.Redis(t)
	mongoURI := testenv.Env(t, testenv.EnvMongoURI)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const members, online, senders, messages = 12, 6, 4, 20
	const listeners = online - senders
	res, err := Run(ctx, Config{
		RedisURL: redisURL, RedisPrefix: prefix, MongoURI: mongoURI,
		Database: fmt.Sprintf("fanbench_%d", time.Now().UnixNano()),
		Members:  members, Online: online, Senders: senders, Rate: 50, Messages: messages, Warmup: 2, TextSize: 100,
		Out: &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	line := res.Line()
	t.Log(line)
	re := regexp.MustCompile(`^fanout: members=12 online=6 p50_ms=\d+\.\d p99_ms=\d+\.\d bytes_per_delivery=\d+$`)
	if !re.MatchString(line) {
		t.Errorf("line %q does not have the documented shape", line)
	}
	// Every message reached every other connected member, and each one
	// has a last delivery.
	if l := res.Load; l.Stored != messages || l.Received != messages*(online-1) || len(l.LastDeliveries) != messages {
		t.Errorf("stored %d, received %d, last deliveries %d; want %d, %d, %d", l.Stored, l.Received, len(l.LastDeliveries), messages, messages*(online-1), messages)
	}
	// The listeners sent nothing, got every message, and their sockets
	// read at least the 100-byte texts' ciphertexts.
	if l := res.Load; l.ListenerReceived != messages*listeners || res.BytesPerDelivery() < 100 {
		t.Errorf("listeners got %d deliveries, %.0f bytes each; want %d, over 100", l.ListenerReceived, res.BytesPerDelivery(), messages*listeners)
	}
	if p50, p99 := res.Load.LastPercentile(50), res.Load.LastPercentile(99); p50 <= 0 || p99 < p50 {
		t.Errorf("last-delivery latency p50 %s p99 %s: want measured", p50, p99)
	}
}
