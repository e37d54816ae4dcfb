package connector

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// Environment of TestBenchConnector (make bench-connector).
const (
	benchSocketsEnv = "AGENTCHAT_BENCH_SOCKETS" // sockets to hold; set to run
	benchIdleEnv    = "AGENTCHAT_BENCH_IDLE"    // idle window for the CPU (default 10s)
	benchRoleEnv    = "AGENTCHAT_BENCH_ROLE"    // "clients": this process is the load client
	benchAddrEnv    = "AGENTCHAT_BENCH_ADDR"
	benchKeyEnv     = "AGENTCHAT_BENCH_KEY" // hex Ed25519 seed and kid: "seed:kid"
)

// TestBenchConnector holds N idle authenticated sockets against one
// connector, then against a bare gorilla/websocket server (a reader and a
// writer goroutine per socket, the usual shape), in the same run, and
// prints one line for each:
//
//	connector: sockets=N bytes_per_socket=B idle_cpu_pct=P connect_per_s=R
//
// The clients run in a child process (this test binary again), so the
// server's numbers are its own: bytes_per_socket is the server's heap and
// stacks per socket (runtime accounting, after GC), idle_cpu_pct the
// process's CPU over the idle window as a percentage of one core (the
// connector pings each socket every 25 s in it), connect_per_s the sockets
// upgraded, authenticated (the connector) and greeted per second with 16
// clients connecting at once. make bench-connector runs it at scale
// (AGENTCHAT_BENCH_SOCKETS); without that variable it is a small run that
// checks the harness itself (50 sockets held, registered and released on
// both servers), so the benchmark cannot rot unseen.
func TestBenchConnector(t *testing.T) {
	if os.Getenv(benchRoleEnv) == "clients" {
		benchClients(t)
		return
	}
	n, _ := strconv.Atoi(os.Getenv(benchSocketsEnv))
	idle := 10 * time.Second
	if n <= 0 {
		n, idle = 50, 200*time.Millisecond
	}
	if d, err := time.ParseDuration(os.Getenv(benchIdleEnv)); err == nil && d > 0 {
		idle = d
	}

	e := startConnector(t, nil)
	seed := hex.EncodeToString(e.is.priv.Seed())
	r := benchRun(t, "connector", strings.TrimPrefix(e.url, "http://"), seed+":"+e.is.kid, n, idle, e.srv.Connections)
	fmt.Println(r)

	bare := newBareServer(t)
	r = benchRun(t, "gorilla-bare", bare.addr, "", n, idle, bare.count)
	fmt.Println(r)
}

type benchResult struct {
	name                string
	sockets             int
	bytesPerSocket      float64
	rssPerSocket        float64
	idleCPU, connectPer float64
}

func (r benchResult) String() string {
	return fmt.Sprintf("%s: sockets=%d bytes_per_socket=%.0f idle_cpu_pct=%.2f connect_per_s=%.0f (rss_per_socket=%.0f)",
		r.name, r.sockets, r.bytesPerSocket, r.idleCPU, r.connectPer, r.rssPerSocket)
}

// benchRun starts the client process against addr, waits for n sockets
// (count), measures, and ends the clients.
func benchRun(t *testing.T, name, addr, key string, n int, idle time.Duration, count func() int) benchResult {
	before := memNow()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchConnector$", "-test.v")
	cmd.Env = append(os.Environ(), benchRoleEnv+"=clients", benchAddrEnv+"="+addr, benchKeyEnv+"="+key,
		benchSocketsEnv+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // the client says "ready n" when every socket got its hello
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s: the clients did not connect", name)
	}
	connected := time.Since(start)
	eventually(t, time.Minute, name+": every socket registered", func() bool { return count() == n })
	after := memNow()
	cpu0 := cpuTime()
	t0 := time.Now()
	time.Sleep(idle) // the measurement window itself, not a wait for an outcome
	cpu := cpuTime() - cpu0
	window := time.Since(t0)
	stdin.Close() // the clients exit
	cmd.Wait()
	eventually(t, time.Minute, name+": every socket gone", func() bool { return count() == 0 })
	return benchResult{
		name: name, sockets: n,
		bytesPerSocket: float64(after.heap+after.stack-before.heap-before.stack) / float64(n),
		rssPerSocket:   float64(int64(after.rss)-int64(before.rss)) / float64(n),
		idleCPU:        100 * cpu.Seconds() / window.Seconds(),
		connectPer:     float64(n) / connected.Seconds(),
	}
}

// cpuTime is the CPU this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClients is the client process: it opens the sockets (16 at a time),
// reads each one's first frame, says "ready", and holds them until stdin
// closes.
func benchClients(t *testing.T) {
	addr := os.Getenv(benchAddrEnv)
	n, _ := strconv.Atoi(os.Getenv(benchSocketsEnv))
	var is *issuer
	if k := os.Getenv(benchKeyEnv); k != "" {
		seed, kid, _ := strings.Cut(k, ":")
		raw, err := hex.DecodeString(seed)
		if err != nil {
			t.Fatal(err)
		}
		is = &issuer{kid: kid, priv: ed25519.NewKeyFromSeed(raw)}
	}
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				token := "none"
				if is != nil {
					token = is.token(t, fmt.Sprintf("bench-u%d", i), "d", tokenOpts{ttl: 24 * time.Hour})
				}
				c, err := benchDial(addr, token)
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("bench client: %v", err)
	}
	fmt.Printf("ready %d\n", n)
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// benchDial upgrades a TCP connection by hand and reads the first frame
// (the connector's hello; the bare server greets too).
func benchDial(addr, token string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: %s\r\nAuthorization: Bearer %s\r\n\r\n", WebSocketPath, addr, protocol.Subprotocol, token)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("upgrade: %v %v", resp, err)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("first frame: %w", err)
	}
	if _, err := io.CopyN(io.Discard, br, int64(h[1]&0x7f)); err != nil { // short frames only
		c.Close()
		return nil, fmt.Errorf("first frame: %w", err)
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}

// bareServer is the comparison: gorilla/websocket as its examples use it,
// a reader goroutine and a writer goroutine (pings every 25 s) per socket.
type bareServer struct {
	addr string
	n    atomic.Int64
}

func newBareServer(t *testing.T) *bareServer {
	b := &bareServer{}
	up := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		b.n.Add(1)
		out := make(chan []byte, 16)
		out <- []byte(`{"type":"hello"}`)
		go func() { // writer
			ping := time.NewTicker(25 * time.Second)
			defer ping.Stop()
			for {
				select {
				case m, ok := <-out:
					if !ok {
						return
					}
					ws.WriteMessage(websocket.TextMessage, m)
				case <-ping.C:
					ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
				case <-ctx.Done():
					return
				}
			}
		}()
		go func() { // reader
			defer func() { close(out); ws.Close(); b.n.Add(-1) }()
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { cancel(); srv.Close() })
	b.addr = ln.Addr().String()
	return b
}

func (b *bareServer) count() int { return int(b.n.Load()) }
