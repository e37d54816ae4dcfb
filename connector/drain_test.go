package connector

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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
