package connector

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/presence"
)

// BenchmarkIdleConnections measures what an idle socket costs the
// connector: N authenticated sockets (default 2000, BENCH_CONNS to change)
// that received their hello and then do nothing. The clients are raw TCP
// connections that did the handshake by hand, so the client side adds only
// a file descriptor per socket to the numbers. Run with -benchtime=1x.
func BenchmarkIdleConnections(b *testing.B) {
	n := 2000
	if s := os.Getenv("BENCH_CONNS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	e := startConnector(b, func(c *Config) { c.PingInterval = time.Hour })
	addr := strings.TrimPrefix(e.url, "http://")
	for b.Loop() {
		before := memNow()
		conns := make([]net.Conn, 0, n)
		for i := range n {
			conns = append(conns, rawDial(b, addr, e.is.token(b, fmt.Sprintf("u%d", i), "d", tokenOpts{})))
		}
		eventually(b, 30*time.Second, "all sockets registered", func() bool { return e.srv.Connections() == n })
		after := memNow()
		if p := os.Getenv("BENCH_HEAPPROFILE"); p != "" {
			f, _ := os.Create(p)
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		b.ReportMetric(float64(after.heap+after.stack-before.heap-before.stack)/float64(n), "heap+stack-B/conn")
		b.ReportMetric(float64(after.rss-before.rss)/float64(n), "RSS-B/conn")
		b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
		b.ReportMetric(float64(after.stack-before.stack)/float64(n), "stack-B/conn")
		for _, c := range conns {
			c.Close()
		}
		eventually(b, 30*time.Second, "all sockets gone", func() bool { return e.srv.Connections() == 0 })
	}
}

type memSample struct {
	heap, stack, rss uint64
	goroutines       int
}

func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, stack: ms.StackInuse, rss: rssBytes(), goroutines: runtime.NumGoroutine()}
}

// rssBytes reads VmRSS from /proc/self/status (0 where there is none).
func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// rawDial upgrades a plain TCP connection and keeps nothing but the socket.
func rawDial(b *testing.B, addr, token string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: %s\r\nAuthorization: Bearer %s\r\n\r\n", WebSocketPath, addr, protocol.Subprotocol, token)
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("raw upgrade: %v %v", resp, err)
	}
	return c
}

// BenchmarkFanout measures deliveries from Redis to sockets: each
// operation publishes one message.stored for a group of `group` devices on
// the connector's channel; the benchmark ends when every client has read
// every frame. Clients are gorilla clients reading in their own goroutines
// (in this process, so they share the CPU with the connector).
func BenchmarkFanout(b *testing.B) {
	for _, group := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			e := startConnector(b, func(c *Config) { c.OutboundQueue = 4096 })
			clients := 100
			devices := make([]string, clients)
			var received atomic.Int64
			for i := range clients {
				devices[i] = fmt.Sprintf("d%d", i)
				c := e.dial(fmt.Sprintf("u%d", i), devices[i])
				c.ws.SetReadDeadline(time.Time{}) // dial's read of hello set one
				go func() {
					for {
						if _, _, err := c.ws.ReadMessage(); err != nil {
							return
						}
						received.Add(1)
					}
				}()
			}
			// One payload per starting device, published round-robin.
			payloads := make([][]byte, clients)
			for i := range clients {
				targets := make([][2]string, group)
				keys := make([]string, group)
				for j := range group {
					k := (i + j) % clients
					targets[j] = [2]string{fmt.Sprintf("u%d", k), devices[k]}
					keys[j] = devices[k]
				}
				payloads[i] = deliveryPayload(b, stored(b, "conv-"+strconv.Itoa(i), 1, "sender", "sd", "m", envelope(1024, keys...)), targets...)
			}
			channel := deliveryChannel(e.prefix, e.srv.ID())
			ctx := context.Background()
			e.srv.dedupe = newRecent(1) // every publish reuses (conversation, seq): do not dedupe
			b.ResetTimer()
			start := time.Now()
			// Publish in pipelined batches, keeping at most `window`
			// deliveries unread: an unbounded flood would only measure
			// Redis disconnecting a subscriber over its output buffer limit.
			const batch, window = 50, 500
			pipe := e.rdb.Pipeline()
			published := 0
			for b.Loop() {
				pipe.Publish(ctx, channel, payloads[published%clients])
				published++
				if pipe.Len() == batch {
					pipe.Exec(ctx)
					stuck := time.Now().Add(30 * time.Second)
					for int64(published-window)*int64(group) > received.Load() {
						if time.Now().After(stuck) {
							b.Fatalf("frames stopped arriving: %d of %d (%s)", received.Load(), published*group, e.srv.debugCounters())
						}
						time.Sleep(100 * time.Microsecond)
					}
				}
			}
			pipe.Exec(ctx)
			want := int64(published * group)
			eventually(b, time.Minute, fmt.Sprintf("every frame (%d of %d; %s)", received.Load(), want, e.srv.debugCounters()), func() bool { return received.Load() >= want })
			elapsed := time.Since(start)
			b.ReportMetric(float64(want)/elapsed.Seconds(), "frames/s")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkDeliver measures the connector's CPU cost per delivery without
// sockets or Redis: decode the delivery and its event, render the frames
// and queue them on `group` sockets.
func BenchmarkDeliver(b *testing.B) {
	for _, group := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			s, err := New(Config{ConnectorID: "bench"}, Deps{Sink: &HTTPSink{}, Presence: presence.NewMemory().Connector("bench"),
				Deliveries: &RedisDeliveries{}, Tokens: &JWKSVerifier{}})
			if err != nil {
				b.Fatal(err)
			}
			s.dedupe = newRecent(1)
			targets := make([][2]string, group)
			keys := make([]string, group)
			conns := make([]*conn, group)
			for i := range group {
				targets[i] = [2]string{fmt.Sprintf("u%d", i), fmt.Sprintf("d%d", i)}
				keys[i] = targets[i][1]
				conns[i] = &conn{s: s, q: newOutQueue(1<<30, 1<<62), writing: true, serial: uint64(i), // writing: no writer is started
					dev: events.DeviceRef{User: targets[i][0], Device: targets[i][1]}}
				s.byDevice[conns[i].dev] = conns[i]
			}
			payload := deliveryPayload(b, stored(b, "conv-1", 1, "sender", "sd", "m", envelope(1024, keys...)), targets...)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			var buf []outFrame
			for b.Loop() {
				s.deliver(payload)
				for _, c := range conns {
					buf = c.q.take(buf)
					c.serial += uint64(group) // a new dedupe key for the same payload next time
				}
			}
			if got := len(buf); got != 1 {
				b.Fatalf("queued %d frames per socket, want 1", got)
			}
		})
	}
}
