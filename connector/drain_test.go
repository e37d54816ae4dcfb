package connector

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func TestDrainSendsReconnectThenCloses1012(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.ReconnectSpread = 2 * time.Second })
	clients := []*client{e.dial("alice", "d1"), e.dial("bob", "d2"), e.dial("carol", "d3")}
	if got := readyz(t, e); got != http.StatusOK {
		t.Fatalf("readyz before drain: got %d, want 200", got)
	}

	drained := make(chan error, 1)
	go func() { drained <- e.srv.Drain(context.Background()) }()
	eventually(t, frameWait, "readyz to answer 503", func() bool { return readyz(t, e) == http.StatusServiceUnavailable })

	for i, c := range clients {
		f := c.nextOfType(protocol.TypeReconnect)
		if f.AfterMs < 0 || f.AfterMs >= 2000 {
			t.Errorf("client %d: afterMs %d, want in [0, 2000)", i, f.AfterMs)
		}
		if got, want := c.closeCode(frameWait), protocol.CloseServiceRestart; got != want {
			t.Errorf("client %d: close code %d, want %d", i, got, want)
		}
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Errorf("Drain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return")
	}
	// New upgrades are refused while draining (the listener is closed after).
	if e.srv.Ready() {
		t.Error("Ready after drain")
	}
}

// A draining connector keeps serving each socket until its client moves:
// the hints are spread one per slot of the spread, deliveries still reach
// the sockets that wait, their frames are still taken, and Drain returns
// as soon as the clients have gone — not when the connector would have
// closed their sockets (the last at more than 7/8 of a minute).
func TestDrainServesEverySocketUntilItsClientMoves(t *testing.T) {
	const n, spread = 8, time.Minute
	e := startConnector(t, func(c *Config) { c.ReconnectSpread, c.DrainTimeout = spread, 4*spread })
	var clients []*client
	for i := range n {
		clients = append(clients, e.dial("u"+string(rune('a'+i)), "d"))
	}
	drained := make(chan error, 1)
	go func() { drained <- e.srv.Drain(context.Background()) }()

	var hints []int64
	for _, c := range clients {
		hints = append(hints, c.nextOfType(protocol.TypeReconnect).AfterMs)
	}
	slices.Sort(hints)
	slot := spread.Milliseconds() / n
	for i, h := range hints {
		if h < int64(i)*slot || h > int64(i+1)*slot {
			t.Errorf("hint %d of %d: afterMs %d, want in [%d, %d] (one per slot): %v", i, n, h, int64(i)*slot, int64(i+1)*slot, hints)
		}
	}

	// The sockets still serve: a delivery reaches each, a send is taken.
	var targets [][2]string
	for i := range n {
		targets = append(targets, [2]string{"u" + string(rune('a'+i)), "d"})
	}
	e.publish(stored(t, "conv-1", 1, "x", "x1", "m-1", envelope(16, "d")), targets...)
	for i, c := range clients {
		if f := c.nextOfType(protocol.TypeMessage); f.Seq != 1 {
			t.Errorf("client %d: got %+v, want the message", i, f)
		}
	}
	clients[0].sendFrame(protocol.Frame{Type: protocol.TypeTyping, Conversation: "conv-1", State: "typing"})
	eventually(t, frameWait, "the typing event from a draining socket", func() bool { return len(e.sink.received()) == 1 })

	// The clients move on their own: Drain is done when the last has gone.
	for _, c := range clients {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Errorf("Drain: %v", err)
		}
	case <-time.After(frameWait):
		t.Fatalf("Drain did not return within %s of the clients leaving (%d sockets left)", frameWait, e.srv.Connections())
	}
}

func TestSpreadHints(t *testing.T) {
	for _, n := range []int{1, 2, 10, 1000} {
		const spread = 5 * time.Second
		hints := spreadHints(n, spread)
		slices.Sort(hints)
		slot := spread / time.Duration(n)
		for i, h := range hints {
			if h < time.Duration(i)*slot || h > time.Duration(i+1)*slot || h >= spread {
				t.Fatalf("n=%d: hint %d is %s, want within slot [%s, %s]", n, i, h, time.Duration(i)*slot, time.Duration(i+1)*slot)
			}
		}
	}
	if got := spreadHints(3, 0); !slices.Equal(got, []time.Duration{0, 0, 0}) {
		t.Errorf("no spread: %v, want zeros", got)
	}
	if got := spreadHints(0, time.Second); len(got) != 0 {
		t.Errorf("no clients: %v", got)
	}
}

func readyz(t *testing.T, e *env) int {
	resp, err := http.Get(e.url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHealthAndMetrics(t *testing.T) {
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	c.sendFrame(protocol.Frame{Type: protocol.TypePing})
	c.next()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/nothing-here": 404} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
	for _, series := range []string{
		"agentchat_connector_connections 1",
		`agentchat_connector_frames_in_total{type="ping"} 1`,
		`agentchat_connector_frames_out_total{type="pong"} 1`,
	} {
		eventually(t, frameWait, "/metrics to show "+series, func() bool { return contains(get(t, e.url+"/metrics"), series) })
	}
}

// Close after a flushing shutdown (Drain's 1012) no longer flushes: the
// writer stops after the frame it is writing, instead of writing a slow
// client's whole queue, WriteTimeout per frame.
func TestCloseAfterDrainStopsTheFlush(t *testing.T) {
	const frames, size = 400, 64 << 10 // far more than the sockets' buffers hold
	e := startConnector(t, func(c *Config) {
		c.OutboundQueue = frames + 10
		c.OutboundQueueBytes = (frames + 10) * size
		c.WriteTimeout = time.Minute
	})
	cl := e.dial("alice", "d1")
	c := e.srv.lookup(events.DeviceRef{User: "alice", Device: "d1"})
	data := []byte(`"` + strings.Repeat("x", size-2) + `"`)
	for range frames {
		if !c.enqueue(outFrame{typ: "test", data: data}) {
			t.Fatal("enqueue refused")
		}
	}
	// The client reads nothing yet: the writer is stuck in the queue.
	c.shutdown(protocol.CloseServiceRestart, "connector draining", true)
	c.shutdown(protocol.CloseGoingAway, "connector shutting down", false)
	got := 0
	for {
		cl.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, p, err := cl.ws.ReadMessage()
		if err != nil {
			break
		}
		if len(p) == size {
			got++
		}
	}
	if got >= frames {
		t.Fatalf("the client got all %d queued frames: the flush went on after Close", got)
	}
}
