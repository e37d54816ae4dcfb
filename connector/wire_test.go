package connector

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// rawClient is a WebSocket client written by hand, to send what gorilla's
// client would not: frames in the same packet as the upgrade request,
// control frames inside a fragmented message.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// rawDialWith upgrades a TCP connection with token, sending extra right
// behind the request (in the same write).
func rawDialWith(t testing.TB, addr, token string, extra []byte) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: %s\r\nAuthorization: Bearer %s\r\n\r\n", WebSocketPath, addr, protocol.Subprotocol, token)
	if _, err := nc.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw upgrade: %v %v", resp, err)
	}
	return &rawClient{t: t, nc: nc, br: br}
}

// clientFrame encodes one masked client frame.
func clientFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := make([]byte, 4)
	rand.Read(key)
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// frame reads one server frame (unmasked, unfragmented).
func (r *rawClient) frame() (op byte, payload []byte) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		r.t.Fatalf("read frame header: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		io.ReadFull(r.br, ext[:])
		n = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		io.ReadFull(r.br, ext[:])
		n = int(binary.BigEndian.Uint64(ext[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, payload); err != nil {
		r.t.Fatalf("read frame payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// expect reads server frames until each of want (keyed "pong:<payload>"
// for control pongs, "<type>:<id>" for text frames) has been seen.
func (r *rawClient) expect(want ...string) {
	r.t.Helper()
	missing := make(map[string]bool)
	for _, w := range want {
		missing[w] = true
	}
	for len(missing) > 0 {
		op, p := r.frame()
		key := ""
		switch op {
		case 0xA:
			key = "pong:" + string(p)
		case 0x1:
			var f protocol.Frame
			json.Unmarshal(p, &f)
			key = f.Type + ":" + f.ID
		default:
			r.t.Fatalf("unexpected frame op %#x %q while waiting for %v", op, p, want)
		}
		delete(missing, key)
	}
}

// The socket reader takes frames however they arrive: in the packet of the
// upgrade request, fragmented with a ping between the fragments, after an
// unsolicited pong, several in one packet.
func TestFramesHoweverTheyArrive(t *testing.T) {
	e := startConnector(t, nil)
	addr := strings.TrimPrefix(e.url, "http://")
	c := rawDialWith(t, addr, e.is.token(t, "alice", "a1", tokenOpts{}), clientFrame(0x9, true, []byte("early")))
	c.expect("hello:", "pong:early")

	msg := []byte(`{"type":"ping","id":"p1"}`)
	var pkt []byte
	pkt = append(pkt, clientFrame(0x1, false, msg[:10])...)
	pkt = append(pkt, clientFrame(0x9, true, []byte("mid"))...)
	pkt = append(pkt, clientFrame(0x0, true, msg[10:])...)
	c.nc.Write(pkt)
	c.expect("pong:mid", "pong:p1")

	// An unsolicited pong, then two frames in one packet.
	c.nc.Write(clientFrame(0xA, true, []byte("unasked")))
	c.nc.Write(append(clientFrame(0x1, true, []byte(`{"type":"ping","id":"p2"}`)), clientFrame(0x1, true, []byte(`{"type":"ping","id":"p3"}`))...))
	c.expect("pong:p2", "pong:p3")

	// A frame split across writes (the reader waits for the rest).
	f := clientFrame(0x1, true, []byte(`{"type":"ping","id":"p4"}`))
	c.nc.Write(f[:5])
	c.nc.Write(f[5:])
	c.expect("pong:p4")

	// A large frame, read past the pooled buffer.
	big := clientFrame(0x1, true, []byte(`{"type":"ping","id":"p5"`+strings.Repeat(" ", 100<<10)+`}`))
	c.nc.Write(big)
	c.expect("pong:p5")
	c.nc.Write(clientFrame(0x1, true, []byte(`{"type":"ping","id":"p6"}`)))
	c.expect("pong:p6")
}

// An idle socket has no goroutine and holds no read buffer, also after a
// lone ping or pong woke its reader.
func TestIdleSocketsHoldNoGoroutineAndNoBuffer(t *testing.T) {
	if !pollerSupported {
		t.Skip("readiness polling needs Linux")
	}
	e := startConnector(t, func(c *Config) { c.PingInterval = time.Hour })
	addr := strings.TrimPrefix(e.url, "http://")
	base := runtime.NumGoroutine()
	const n = 50
	var clients []*rawClient
	for i := range n {
		c := rawDialWith(t, addr, e.is.token(t, fmt.Sprintf("u%d", i), "d", tokenOpts{}), nil)
		c.expect("hello:")
		c.nc.Write(clientFrame(0x1, true, []byte(`{"type":"ping","id":"x"}`)))
		c.expect("pong:x")
		clients = append(clients, c)
	}
	if got := e.srv.Connections(); got != n {
		t.Fatalf("connections: got %d, want %d", got, n)
	}
	// A lone pong (the answer to the keep-alive ping) and a lone ping
	// leave no reader waiting for a data frame behind them.
	for _, c := range clients {
		c.nc.Write(clientFrame(0xA, true, []byte("keepalive")))
	}
	for _, c := range clients {
		c.nc.Write(clientFrame(0x9, true, []byte("lone")))
		c.expect("pong:lone")
	}
	eventually(t, 10*time.Second, "the sockets' goroutines to end", func() bool { return runtime.NumGoroutine() < base+n/5 })
	eventually(t, 10*time.Second, "every socket idle", func() bool {
		for _, c := range e.srv.conns() {
			if !c.readMu.TryLock() { // a reader runs (or is parked)
				return false
			}
			held := c.wire.buf != nil
			c.readMu.Unlock()
			c.mu.Lock()
			writing := c.writing
			c.mu.Unlock()
			if held || writing {
				return false
			}
		}
		return true
	})
}

// One timer pings every socket; a socket that answers stays, one that
// never answers (it never reads) is closed after two silent intervals.
func TestSilentSocketIsClosedAndAnsweringOneStays(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.PingInterval = 500 * time.Millisecond })
	answering := e.dial("alice", "a1")
	done := make(chan struct{})
	go func() { // gorilla's client answers pings while it reads
		defer close(done)
		for {
			if _, err := answering.read(time.Minute); err != nil {
				return
			}
		}
	}()
	silent := rawDialWith(t, strings.TrimPrefix(e.url, "http://"), e.is.token(t, "bob", "b1", tokenOpts{}), nil)
	eventually(t, 20*time.Second, "the silent socket to be closed", func() bool {
		return e.srv.lookup(events.DeviceRef{User: "bob", Device: "b1"}) == nil
	})
	if e.srv.lookup(events.DeviceRef{User: "alice", Device: "a1"}) == nil {
		t.Error("the socket that answers pings was closed too")
	}
	silent.nc.Close()
	answering.ws.Close()
	<-done
}
