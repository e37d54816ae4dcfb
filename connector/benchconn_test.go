package connector

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/presence"
)

// Environment of TestBenchConnector (make bench-connector) and of the
// processes it starts.
const (
	benchSocketsEnv    = "AGENTCHAT_BENCH_SOCKETS"    // sockets against one connector; set to run at scale
	benchIdleEnv       = "AGENTCHAT_BENCH_IDLE"       // idle window for the CPU (default 10s)
	benchFleetEnv      = "AGENTCHAT_BENCH_FLEET"      // sockets across the fleet (0: no fleet run)
	benchConnectorsEnv = "AGENTCHAT_BENCH_CONNECTORS" // connector processes of the fleet (default 6)
	benchProfileEnv    = "AGENTCHAT_BENCH_CPUPROFILE" // a CPU profile of the idle window, to <path>.<server>

	benchRoleEnv    = "AGENTCHAT_BENCH_ROLE" // "clients" or "connector": what this process is
	benchAddrEnv    = "AGENTCHAT_BENCH_ADDR"
	benchKeyEnv     = "AGENTCHAT_BENCH_KEY"     // hex Ed25519 seed and kid: "seed:kid"
	benchFirstEnv   = "AGENTCHAT_BENCH_FIRST"   // the clients' first user number
	benchSourcesEnv = "AGENTCHAT_BENCH_SOURCES" // the clients' source addresses, comma-separated
	benchConfigEnv  = "AGENTCHAT_BENCH_CONFIG"  // the connector's: id, redis url, prefix, sink, jwks ("|"-separated)
)

// benchMaxPerProcess is the most sockets one process may hold here: the
// per-process open-file limit is 20,000 (FACTS.md), and a process needs a
// few files of its own.
const benchMaxPerProcess = 19_000

// TestBenchConnector measures idle authenticated sockets and prints one line
// per setup:
//
//	connector: sockets=N bytes_per_socket=B idle_cpu_pct=P connect_per_s=R
//
// First N sockets against one connector, then against a bare
// gorilla/websocket server (a reader and a writer goroutine per socket, the
// usual shape), in the same run. Then the fleet: FLEET sockets across
// CONNECTORS connector processes on one Redis (a private redis-server when
// one is installed, so its command counts are the fleet's own), with their
// total RSS, Redis's commands per second over the idle window (INFO
// commandstats), and one message delivered to every device, counted by the
// clients.
//
// The clients run in child processes (this test binary again), at most
// benchMaxPerProcess sockets each, spread over 127.0.0.x source addresses,
// so the servers' numbers are their own. Each client opens its socket with
// a token, waits for hello, exchanges ping/pong (the connector), then stays
// idle, answering the server's pings. bytes_per_socket is the servers' heap
// and stacks per socket (runtime accounting, after GC), idle_cpu_pct the
// servers' CPU over the idle window as a percentage of one core,
// connect_per_s the sockets upgraded, authenticated, greeted and pinged per
// second, 16 connecting at once per client process.
//
// make bench-connector runs it at scale; without AGENTCHAT_BENCH_SOCKETS it
// is a small run that checks the harness itself (50 sockets on each
// server, a fleet of 2 connectors with 25 each and a delivery to all), so
// the benchmark cannot rot unseen.
func TestBenchConnector(t *testing.T) {
	switch os.Getenv(benchRoleEnv) {
	case "clients":
		benchClients(t)
		return
	case "connector":
		benchConnector(t)
		return
	}
	// Without AGENTCHAT_BENCH_SOCKETS: the small check of the harness.
	n, fleet, connectors := 50, 50, 2
	idle := 200 * time.Millisecond
	if v, ok := os.LookupEnv(benchSocketsEnv); ok {
		n, _ = strconv.Atoi(v) // 0: no single-connector run
		fleet, connectors, idle = 0, 6, 10*time.Second
		if v, err := strconv.Atoi(os.Getenv(benchFleetEnv)); err == nil {
			fleet = v
		}
		if v, err := strconv.Atoi(os.Getenv(benchConnectorsEnv)); err == nil && v > 0 {
			connectors = v
		}
	}
	if d, err := time.ParseDuration(os.Getenv(benchIdleEnv)); err == nil && d > 0 {
		idle = d
	}
	if n > benchMaxPerProcess {
		t.Fatalf("%d sockets against one process: at most %d fit under the open-file limit", n, benchMaxPerProcess)
	}

	if n > 0 {
		e := startConnector(t, nil)
		seed := hex.EncodeToString(e.is.priv.Seed())
		r := benchRun(t, "connector", strings.TrimPrefix(e.url, "http://"), seed+":"+e.is.kid, n, idle, e.srv.Connections)
		fmt.Println(r)

		bare := newBareServer(t)
		r = benchRun(t, "gorilla-bare", bare.addr, "", n, idle, bare.count)
		fmt.Println(r)
	}
	if fleet > 0 {
		benchFleet(t, fleet, connectors, idle)
	}
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

// benchSources are the source addresses of client process i: four of
// 127.0.0.0/8 of its own, so no address runs out of ephemeral ports.
func benchSources(i int) string {
	var s []string
	for j := range 4 {
		s = append(s, fmt.Sprintf("127.0.%d.%d", 1+i/60, 2+(i%60)*4+j))
	}
	return strings.Join(s, ",")
}

// benchRun starts the client process against addr, waits for n sockets
// (count), measures, and ends the clients.
func benchRun(t *testing.T, name, addr, key string, n int, idle time.Duration, count func() int) benchResult {
	before := memNow()
	start := time.Now()
	cl := startBenchProc(t, "clients", benchAddrEnv+"="+addr, benchKeyEnv+"="+key,
		benchSocketsEnv+"="+strconv.Itoa(n), benchFirstEnv+"=0", benchSourcesEnv+"="+benchSources(0))
	cl.await(t, "ready ", benchConnectWait(n))
	connected := time.Since(start)
	eventually(t, time.Minute, name+": every socket registered", func() bool { return count() == n })
	after := memNow()
	stopProfile := func() {}
	if path := os.Getenv(benchProfileEnv); path != "" {
		f, err := os.Create(path + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	time.Sleep(idle) // the measurement window itself, not a wait for an outcome
	cpu := cpuTime() - cpu0
	stopProfile()
	window := time.Since(t0)
	cl.stop(t)
	eventually(t, time.Minute, name+": every socket gone", func() bool { return count() == 0 })
	return benchResult{
		name: name, sockets: n,
		bytesPerSocket: float64(after.heap+after.stack-before.heap-before.stack) / float64(n),
		rssPerSocket:   float64(int64(after.rss)-int64(before.rss)) / float64(n),
		idleCPU:        100 * cpu.Seconds() / window.Seconds(),
		connectPer:     float64(n) / connected.Seconds(),
	}
}

// benchConnectWait bounds the wait for n sockets to connect: a liveness
// bound (at 50 sockets a second, far below what this machine does).
func benchConnectWait(n int) time.Duration {
	return max(2*time.Minute, time.Duration(n/50)*time.Second)
}

// benchFleet runs total sockets across k connector processes on one Redis:
// one client process per connector, the connectors' memory and CPU, Redis's
// command rate while they idle, and one message delivered to every device.
func benchFleet(t *testing.T, total, k int, idle time.Duration) {
	// Connector i holds the devices first[i] .. first[i+1]-1.
	first := make([]int, k+1)
	for i := range k {
		first[i+1] = first[i] + total/k
		if i < total%k {
			first[i+1]++
		}
	}
	if per := first[1]; per > benchMaxPerProcess || total < k {
		t.Fatalf("fleet: %d sockets over %d connectors: %d each, want 1 to %d", total, k, per, benchMaxPerProcess)
	}
	connectorOf := func(u int) int {
		i, _ := slices.BinarySearch(first, u+1)
		return i - 1
	}
	rdb, url, prefix, private := benchRedis(t, total >= 1000)
	is, sk := newIssuer(t), newSink(t)
	seed := hex.EncodeToString(is.priv.Seed())

	type member struct {
		proc       *benchProc
		id, addr   string
		before     benchMem
		after      benchMem
		cpu0, cpu1 time.Duration
	}
	fleet := make([]*member, k)
	for i := range fleet {
		id := fmt.Sprintf("bench-c%d-%s", i, randomHex(3))
		p := startBenchProc(t, "connector", benchConfigEnv+"="+strings.Join([]string{id, url, prefix, sk.srv.URL, is.srv.URL}, "|"))
		fleet[i] = &member{proc: p, id: id}
	}
	for _, m := range fleet {
		m.addr = strings.TrimPrefix(m.proc.await(t, "listening ", time.Minute), "listening ")
		m.before = m.proc.mem(t)
	}

	start := time.Now()
	clients := make([]*benchProc, k)
	for i, m := range fleet {
		clients[i] = startBenchProc(t, "clients", benchAddrEnv+"="+m.addr, benchKeyEnv+"="+seed+":"+is.kid,
			benchSocketsEnv+"="+strconv.Itoa(first[i+1]-first[i]), benchFirstEnv+"="+strconv.Itoa(first[i]),
			benchSourcesEnv+"="+benchSources(1+i))
	}
	for _, c := range clients {
		c.await(t, "ready ", benchConnectWait(total))
	}
	connected := time.Since(start)
	var heap int64
	for i, m := range fleet {
		m.after = m.proc.mem(t)
		if want := first[i+1] - first[i]; m.after.conns != want {
			t.Fatalf("fleet: connector %s holds %d sockets, want %d", m.id, m.after.conns, want)
		}
		heap += m.after.heap + m.after.stack - m.before.heap - m.before.stack
	}

	// The idle window: the connectors' CPU, and what they ask of Redis.
	ctx := context.Background()
	stats0 := redisStats(t, rdb)
	for _, m := range fleet {
		m.cpu0 = m.proc.usage(t).cpu
	}
	t0 := time.Now()
	time.Sleep(idle) // the measurement window itself, not a wait for an outcome
	var cpu time.Duration
	var rss, rssBefore int64 // at the end of the window; before the clients
	for _, m := range fleet {
		u := m.proc.usage(t)
		cpu += u.cpu - m.cpu0
		rss += u.rss
		rssBefore += m.before.rss
	}
	window := time.Since(t0)
	stats1 := redisStats(t, rdb)

	// One message to every device, routed as route does: presence, then
	// one delivery per connector and 500 devices.
	devices := make([]events.DeviceRef, total)
	for i := range devices {
		devices[i] = events.DeviceRef{User: fmt.Sprintf("bench-u%d", i), Device: "d"}
	}
	sent := time.Now()
	where, err := presence.NewRedis(rdb, prefix).Locate(ctx, devices)
	if err != nil {
		t.Fatal(err)
	}
	located := 0
	for i, m := range fleet {
		held := where[m.id]
		located += len(held)
		for _, d := range held {
			var u int
			fmt.Sscanf(d.User, "bench-u%d", &u)
			if connectorOf(u) != i {
				t.Fatalf("fleet: presence puts %s at %s, its socket is on connector %d", d.User, m.id, connectorOf(u))
			}
		}
	}
	if located != total {
		t.Fatalf("fleet: presence knows %d of %d devices after the idle window", located, total)
	}
	msg := stored(t, "bench-conv", 1, "bench-sender", "d", "bench-m1", envelope(64, "d"))
	pipe := rdb.Pipeline()
	for _, m := range fleet {
		held := where[m.id]
		for start := 0; start < len(held); start += 500 {
			var targets [][2]string
			for _, d := range held[start:min(start+500, len(held))] {
				targets = append(targets, [2]string{d.User, d.Device})
			}
			pipe.Publish(ctx, deliveryChannel(prefix, m.id), deliveryPayload(t, msg, targets...))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var delivered int
	received := func() int {
		delivered = 0
		for _, c := range clients {
			n, _ := strconv.Atoi(strings.TrimPrefix(c.ask(t, "count", "count ", time.Minute), "count "))
			delivered += n
		}
		return delivered
	}
	deadline := time.Now().Add(5 * time.Minute)
	for received() < total && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	deliverTime := time.Since(sent)

	for _, c := range clients {
		c.stop(t)
	}
	for _, m := range fleet {
		m.proc.stop(t)
	}

	fmt.Println(benchResult{
		name: "connector", sockets: total,
		bytesPerSocket: float64(heap) / float64(total),
		rssPerSocket:   float64(rss-rssBefore) / float64(total),
		idleCPU:        100 * cpu.Seconds() / window.Seconds(),
		connectPer:     float64(total) / connected.Seconds(),
	})
	calls, busy := stats1.since(stats0)
	var cmds int64
	for _, c := range calls {
		cmds += c.calls
	}
	redisLine := "redis=shared (commandstats include other clients)"
	if private {
		redisLine = fmt.Sprintf("redis_cmds_per_s=%.0f redis_cpu_pct=%.2f (%s)", float64(cmds)/window.Seconds(),
			100*busy.Seconds()/window.Seconds(), formatCalls(calls, window))
	}
	fmt.Printf("fleet: connectors=%d sockets=%d total_rss_mib=%.0f idle_cpu_pct_per_connector=%.2f delivered=%d/%d deliver_s=%.1f idle_window=%s %s\n",
		k, total, float64(rss)/(1<<20), 100*cpu.Seconds()/window.Seconds()/float64(k), delivered, total,
		deliverTime.Seconds(), window.Round(time.Millisecond), redisLine)
	if delivered != total {
		t.Errorf("fleet: %d of %d devices got the message", delivered, total)
	}
}

// cpuTime is the CPU this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchProc is a child process of the bench (this test binary again in a
// role), driven by lines on its stdin and answering with lines on stdout.
type benchProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	mu    sync.Mutex // one question at a time
}

func startBenchProc(t *testing.T, role string, env ...string) *benchProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchConnector$", "-test.v")
	cmd.Env = append(append(os.Environ(), benchRoleEnv+"="+role), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &benchProc{cmd: cmd, stdin: stdin, lines: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "--- FAIL") || strings.Contains(line, "_test.go:") {
				fmt.Fprintf(os.Stderr, "bench %s: %s\n", role, line)
			} else {
				p.lines <- line
			}
		}
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// await returns the next line that starts with prefix.
func (p *benchProc) await(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line := <-p.lines:
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-p.done:
			for len(p.lines) > 0 {
				if line := <-p.lines; strings.HasPrefix(line, prefix) {
					return line
				}
			}
			t.Fatalf("bench process ended before it said %q", prefix)
		case <-deadline:
			t.Fatalf("bench process did not say %q within %s", prefix, timeout)
		}
	}
}

// ask sends a command and returns the answer that starts with prefix.
func (p *benchProc) ask(t *testing.T, command, prefix string, timeout time.Duration) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintln(p.stdin, command); err != nil {
		t.Fatalf("bench process: %s: %v", command, err)
	}
	return p.await(t, prefix, timeout)
}

// stop closes its stdin (the process ends) and waits for it; a process that
// does not end within a minute is killed. Only the first call counts.
func (p *benchProc) stop(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdin == nil {
		return
	}
	p.stdin.Close()
	p.stdin = nil
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Errorf("bench process %d did not end; killing it", p.cmd.Process.Pid)
		p.cmd.Process.Kill()
	}
	p.cmd.Wait()
}

// benchMem is what a connector process reports of itself.
type benchMem struct {
	heap, stack, rss int64
	conns            int
	cpu              time.Duration
}

// mem asks for the heap and stacks after a GC ("mem").
func (p *benchProc) mem(t *testing.T) benchMem {
	return parseBenchMem(t, p.ask(t, "mem", "mem ", time.Minute))
}

// usage asks for the CPU used so far and the RSS, without a GC ("usage").
func (p *benchProc) usage(t *testing.T) benchMem {
	return parseBenchMem(t, p.ask(t, "usage", "usage ", time.Minute))
}

func parseBenchMem(t *testing.T, line string) benchMem {
	var m benchMem
	var cpu int64
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("bench: %q: %v", line, err)
		}
		switch k {
		case "heap":
			m.heap = n
		case "stack":
			m.stack = n
		case "rss":
			m.rss = n
		case "conns":
			m.conns = int(n)
		case "cpu_ns":
			cpu = n
		}
	}
	m.cpu = time.Duration(cpu)
	return m
}

// benchConnector is a connector process of the fleet, built as cmd/connector
// builds it (Open: Redis presence and deliveries, the HTTP sink, JWKS).
func benchConnector(t *testing.T) {
	f := strings.Split(os.Getenv(benchConfigEnv), "|")
	if len(f) != 5 {
		t.Fatalf("%s: want 5 fields, got %q", benchConfigEnv, f)
	}
	cfg := Config{ConnectorID: f[0], RedisURL: f[1], RedisPrefix: f[2], Sink: f[3], JWKSURL: f[4]}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, closeRedis, err := Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	eventually(t, time.Minute, "the delivery subscription", s.Ready)
	fmt.Printf("listening %s\n", ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "mem":
			m := memNow()
			fmt.Printf("mem heap=%d stack=%d rss=%d conns=%d\n", m.heap, m.stack, m.rss, s.Connections())
		case "usage":
			fmt.Printf("usage cpu_ns=%d rss=%d conns=%d\n", cpuTime(), rssBytes(), s.Connections())
		}
	}
}

// benchClients is a client process: it opens its sockets (16 at a time),
// reads each one's hello, exchanges a ping (with a connector), says
// "ready", and holds them (a goroutine each, answering pings and counting
// messages) until stdin closes; "count" asks for the messages received.
func benchClients(t *testing.T) {
	addr := os.Getenv(benchAddrEnv)
	n, _ := strconv.Atoi(os.Getenv(benchSocketsEnv))
	first, _ := strconv.Atoi(os.Getenv(benchFirstEnv))
	var sources []net.IP
	for _, s := range strings.Split(os.Getenv(benchSourcesEnv), ",") {
		if ip := net.ParseIP(s); ip != nil {
			sources = append(sources, ip)
		}
	}
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
	var next, messages atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				token := "none"
				if is != nil {
					token = is.token(t, fmt.Sprintf("bench-u%d", first+i), "d", tokenOpts{ttl: 24 * time.Hour})
				}
				var src net.IP
				if len(sources) > 0 {
					src = sources[i%len(sources)]
				}
				c, br, err := benchDial(addr, src, token, is != nil)
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c
				go benchHold(c, br, &messages)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("bench client: %v", err)
	}
	fmt.Printf("ready %d\n", n)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "count" {
			fmt.Printf("count %d\n", messages.Load())
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// benchDial upgrades a TCP connection from src by hand, reads the first
// frame (the connector's hello; the bare server greets too) and, if ping,
// exchanges a ping frame for a pong.
func benchDial(addr string, src net.IP, token string, ping bool) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: time.Minute}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	fail := func(what string, err error) (net.Conn, *bufio.Reader, error) {
		c.Close()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: %s\r\nAuthorization: Bearer %s\r\n\r\n", WebSocketPath, addr, protocol.Subprotocol, token)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		return fail("upgrade", fmt.Errorf("%v %v", resp, err))
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	defer c.SetReadDeadline(time.Time{})
	if _, _, err := readWSFrame(br); err != nil {
		return fail("first frame", err)
	}
	if !ping {
		return c, br, nil
	}
	if err := writeWSFrame(c, websocket.TextMessage, []byte(`{"type":"ping","id":"p"}`)); err != nil {
		return fail("ping", err)
	}
	for {
		op, data, err := readWSFrame(br)
		if err != nil {
			return fail("pong", err)
		}
		if op == websocket.TextMessage && bytes.Contains(data, []byte(`"type":"pong"`)) {
			return c, br, nil
		}
	}
}

// benchHold holds an idle client socket: it answers pings and counts the
// message frames that arrive, until the socket ends.
func benchHold(c net.Conn, br *bufio.Reader, messages *atomic.Int64) {
	for {
		op, data, err := readWSFrame(br)
		if err != nil {
			return
		}
		switch op {
		case websocket.PingMessage:
			if writeWSFrame(c, websocket.PongMessage, data) != nil {
				return
			}
		case websocket.TextMessage:
			if bytes.HasPrefix(data, []byte(`{"type":"message"`)) {
				messages.Add(1)
			}
		case websocket.CloseMessage:
			return
		}
	}
}

// readWSFrame reads one unmasked frame (what a server sends); a
// fragmented message comes as its first frame and continuation frames.
func readWSFrame(br *bufio.Reader) (op int, data []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if h[1]&0x80 != 0 || n > 1<<20 {
		return 0, nil, errors.New("bench client: masked or oversized frame from the server")
	}
	data = make([]byte, n)
	_, err = io.ReadFull(br, data)
	return int(h[0] & 0x0f), data, err
}

// writeWSFrame writes one short client frame, masked with a zero key (the
// mask bit is required; a zero key leaves the payload as it is).
func writeWSFrame(c net.Conn, op int, data []byte) error {
	if len(data) > 125 {
		return errors.New("bench client: frame too long")
	}
	frame := append([]byte{0x80 | byte(op), 0x80 | byte(len(data)), 0, 0, 0, 0}, data...)
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	_, err := c.Write(frame)
	return err
}

// benchRedis is the fleet's Redis: a private redis-server on a free port if
// one is installed and private is asked for (its command counts are then
// the fleet's own), else the test Redis under a fresh prefix.
func benchRedis(t *testing.T, wantPrivate bool) (rdb *redis.Client, url, prefix string, private bool) {
	if path, err := exec.LookPath("redis-server"); err == nil && wantPrivate {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--maxclients", "4096", "--dir", t.TempDir())
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		url = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		rdb = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		t.Cleanup(func() { rdb.Close() })
		eventually(t, 30*time.Second, "the private redis-server", func() bool { return rdb.Ping(context.Background()).Err() == nil })
		return rdb, url, "bench:", true
	}
	rdb, prefix = testRedis(t)
	return rdb, testenv.Env(t, testenv.EnvRedisURL), prefix, false
}

// redisSample is Redis's command counts (INFO commandstats: commands run
// inside scripts count too) and its CPU (INFO cpu) at one moment.
type redisSample struct {
	calls map[string]int64
	cpu   time.Duration
}

type commandCalls struct {
	name  string
	calls int64
}

func redisStats(t *testing.T, rdb *redis.Client) redisSample {
	info, err := rdb.Info(context.Background(), "commandstats", "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	s := redisSample{calls: map[string]int64{}}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, fields, _ := strings.Cut(rest, ":")
			for _, f := range strings.Split(fields, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					s.calls[name], _ = strconv.ParseInt(v, 10, 64)
				}
			}
		}
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				s.cpu += time.Duration(f * float64(time.Second))
			}
		}
	}
	return s
}

// since is what Redis ran between before and s, leaving out the INFO
// calls that took the samples; most calls first.
func (s redisSample) since(before redisSample) ([]commandCalls, time.Duration) {
	var out []commandCalls
	for name, n := range s.calls {
		if d := n - before.calls[name]; d > 0 && name != "info" {
			out = append(out, commandCalls{name, d})
		}
	}
	slices.SortFunc(out, func(a, b commandCalls) int { return int(b.calls - a.calls) })
	return out, s.cpu - before.cpu
}

func formatCalls(calls []commandCalls, window time.Duration) string {
	var parts []string
	for _, c := range calls {
		parts = append(parts, fmt.Sprintf("%s=%.1f/s", c.name, float64(c.calls)/window.Seconds()))
	}
	return strings.Join(parts, " ")
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
