package connector

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func TestDeliveryReachesExactlyTheTargetDevices(t *testing.T) {
	e := startConnector(t, nil)
	alice := e.dial("alice", "a1")
	aliceOther := e.dial("alice", "a2")
	bob := e.dial("bob", "b1")
	carol := e.dial("carol", "c1")

	env := envelope(32, "a1", "a2", "b1")
	msg := stored(t, "conv-1", 7, "alice", "a1", "m-1", env)
	e.publish(msg, [2]string{"alice", "a1"}, [2]string{"alice", "a2"}, [2]string{"bob", "b1"}, [2]string{"dave", "d1"})

	if f := alice.next(); f.Type != protocol.TypeStored || f.ID != "m-1" || f.Conversation != "conv-1" || f.Seq != 7 || f.StoredAt.IsZero() || f.Envelope != nil {
		t.Errorf("sender's device: got %+v, want stored m-1 seq 7 without the envelope", f)
	}
	for name, c := range map[string]*client{"alice's other device": aliceOther, "bob": bob} {
		f := c.next()
		if f.Type != protocol.TypeMessage || f.ID != "m-1" || f.Seq != 7 || f.Sender != "alice" || f.SenderDevice != "a1" ||
			f.Envelope == nil || len(f.Envelope.Keys) != 3 {
			t.Errorf("%s: got %+v, want message m-1 seq 7 from alice/a1 with the envelope", name, f)
		}
	}
	// carol was not a target: the first frame she gets is the answer to her ping.
	carol.sendFrame(protocol.Frame{Type: protocol.TypePing, ID: "p"})
	if f := carol.next(); f.Type != protocol.TypePong {
		t.Errorf("carol: got %+v, want only her pong", f)
	}

	// The same delivery again (at-least-once upstream) is not written twice.
	e.publish(msg, [2]string{"bob", "b1"})
	e.publish(stored(t, "conv-1", 8, "alice", "a1", "m-2", env), [2]string{"bob", "b1"})
	if f := bob.next(); f.Seq != 8 {
		t.Errorf("after a duplicate: got %+v, want seq 8", f)
	}
}

func TestSlowReaderIsClosedWhileOthersKeepReceiving(t *testing.T) {
	e := startConnector(t, func(c *Config) { c.OutboundQueue = 16 })
	fast := e.dial("bob", "b1")
	slow := e.dialSmallBuffer("sam", "s1")

	var got atomic.Int64
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			f, err := fast.read(10 * time.Second)
			if err != nil {
				return
			}
			if f.Type == protocol.TypeMessage {
				if got.Add(1) == -1 {
					return
				}
			}
		}
	}()

	env := envelope(16<<10, "b1", "s1")
	sent := int64(0)
	eventually(t, 20*time.Second, "the slow reader to be closed", func() bool {
		sent++
		e.publish(stored(t, "conv-1", sent, "alice", "a1", "m", env), [2]string{"bob", "b1"}, [2]string{"sam", "s1"})
		return testutil.ToFloat64(e.srv.m.slowConsumers) >= 1
	})
	eventually(t, 10*time.Second, "the fast reader to get every message", func() bool { return got.Load() == sent })
	if code := slow.closeCode(10 * time.Second); code != protocol.CloseSlowConsumer {
		t.Errorf("slow reader's close code: got %d, want %d", code, protocol.CloseSlowConsumer)
	}
	eventually(t, frameWait, "only the fast reader to remain", func() bool { return e.srv.Connections() == 1 })
	t.Logf("published %d deliveries of 16 KiB before the slow reader overflowed", sent)
	fast.ws.Close()
	<-fastDone
}

// dialSmallBuffer connects a client that does not read by itself: a small
// receive buffer (set before connecting, so the TCP window is small from
// the start) makes the kernel stop taking its frames early.
func (e *env) dialSmallBuffer(user, device string) *client {
	e.t.Helper()
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	d := websocket.Dialer{NetDialContext: small.DialContext}
	c, _, err := e.tryDialWith(d, bearer(e.is.token(e.t, user, device, tokenOpts{})), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// A socket that never reads, in a conversation where ~80 KB messages keep
// coming: the sockets that read get every message live, the other is
// closed, and its backlog never holds more than OUTBOUND_QUEUE_BYTES — by
// the queue's own count, which covers the frames its writer has taken too.
// Its client sees 4008 if the close frame could still be written, else 1006
// (its buffers and ours were full): the server's record says which.
func TestNeverReadingSocketIsClosedWithinItsByteBound(t *testing.T) {
	const bound = 512 << 10
	// WriteTimeout stays long (the default 10 s) so that the byte bound,
	// not a frame write timing out on a busy machine, is what closes it.
	e := startConnector(t, func(c *Config) { c.OutboundQueueBytes = bound })
	readers := []*client{e.dial("bob", "b1"), e.dial("carol", "c1")}
	slow := e.dialSmallBuffer("sam", "s1")
	var sc *conn
	eventually(t, frameWait, "the silent socket to be registered", func() bool {
		sc = e.srv.lookup(events.DeviceRef{User: "sam", Device: "s1"})
		return sc != nil
	})

	counts := make([]atomic.Int64, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := r.read(10 * time.Second)
				if err != nil {
					return
				}
				if f.Type == protocol.TypeMessage {
					counts[i].Add(1)
				}
			}
		}()
	}
	t.Cleanup(func() {
		for _, r := range readers {
			r.ws.Close()
		}
		wg.Wait()
	})

	env := envelope(60<<10, "b1", "c1", "s1") // an 80 KB frame once encoded
	frame := must(json.Marshal(messageFrame(events.Message{ConversationID: "conv-1", Seq: 1, SenderID: "alice",
		SenderDevice: "a1", ClientMessageID: "m", Envelope: env, StoredAt: time.Now().UTC()})))
	targets := [][2]string{{"bob", "b1"}, {"carol", "c1"}, {"sam", "s1"}}
	published := int64(0)
	for testutil.ToFloat64(e.srv.m.slowConsumers) < 1 {
		if published == 2000 || e.srv.lookup(events.DeviceRef{User: "sam", Device: "s1"}) == nil {
			t.Fatalf("the silent socket was not closed as a slow consumer after %d messages (%s)", published, e.srv.debugCounters())
		}
		// The readers stay at most two messages behind: they must not
		// become slow consumers themselves on a busy machine.
		eventually(t, 20*time.Second, "the readers to keep up", func() bool {
			return counts[0].Load() >= published-2 && counts[1].Load() >= published-2
		})
		published++
		e.publish(stored(t, "conv-1", published, "alice", "a1", "m", env), targets...)
	}
	eventually(t, 20*time.Second, "the readers to get every message", func() bool {
		return counts[0].Load() == published && counts[1].Load() == published
	})
	eventually(t, 20*time.Second, "the silent socket to be gone", func() bool { return e.srv.Connections() == 2 })

	bytes, peak := sc.q.sizes()
	if peak > bound {
		t.Errorf("the silent socket's backlog held %d bytes; bound %d", peak, bound)
	}
	if peak <= bound-len(frame) {
		t.Errorf("the silent socket's backlog peaked at %d bytes, below the bound %d less one frame (%d): it was not what closed it", peak, bound, len(frame))
	}
	if bytes != 0 {
		t.Errorf("the closed socket's queue still counts %d bytes", bytes)
	}
	sc.mu.Lock()
	sent, took := sc.closeSent, sc.closedAt.Sub(sc.shutdownAt)
	sc.mu.Unlock()
	if limit := e.srv.cfg.WriteTimeout + time.Second; took > limit {
		t.Errorf("closed %s after the overflow; want within the write timeout (%s, +1 s of scheduling)", took, e.srv.cfg.WriteTimeout)
	}
	want := protocol.CloseSlowConsumer
	if !sent {
		want = websocket.CloseAbnormalClosure
	}
	if got := slow.closeCode(30 * time.Second); got != want {
		t.Errorf("silent client's close code: got %d, want %d (close frame sent: %v)", got, want, sent)
	}
	if got := testutil.ToFloat64(e.srv.m.closes.WithLabelValues(fmt.Sprint(want))); got != 1 {
		t.Errorf("closes{code=%d}: got %v, want 1", want, got)
	}
	t.Logf("%d messages of %d bytes; backlog peak %d bytes (bound %d); close frame sent: %v, %s after the overflow",
		published, len(frame), peak, bound, sent, took)
}

func TestDeliveryOfEveryEventType(t *testing.T) {
	e := startConnector(t, nil)
	bob := e.dial("bob", "b1")
	receipt, _ := events.NewReceipt(events.TypeReceiptRead, "/x", "conv-1", "alice", "a1", 5)
	e.publish(receipt, [2]string{"bob", "b1"})
	if f := bob.next(); f.Type != protocol.TypeReceipt || f.Kind != "read" || f.Sender != "alice" || f.SenderDevice != "a1" || f.Seq != 5 {
		t.Errorf("receipt: got %+v", f)
	}
	typing, _ := events.NewTyping("/x", "conv-1", "alice", "a1", events.TypingStarted)
	e.publish(typing, [2]string{"bob", "b1"})
	if f := bob.next(); f.Type != protocol.TypeTyping || f.Sender != "alice" || f.State != "typing" || f.Conversation != "conv-1" {
		t.Errorf("typing: got %+v", f)
	}
}

// TestEveryResendGetsItsStoredBack: a stored ack is idempotent like the
// message: each resend of an already-stored message on the same socket
// gets a stored (same seq) back, while a duplicate delivery that no resend
// asked for is still written once.
func TestEveryResendGetsItsStoredBack(t *testing.T) {
	e := startConnector(t, nil)
	alice := e.dial("alice", "a1")
	msg := stored(t, "conv-1", 5, "alice", "a1", "m-1", envelope(16, "a1", "b1"))
	for i := 1; i <= 4; i++ { // the first send, then three resends
		alice.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-1", Conversation: "conv-1", Envelope: envelope(16, "a1", "b1")})
		eventually(t, frameWait, "the send to reach the sink", func() bool { return len(e.sink.received()) == i })
		e.publish(msg, [2]string{"alice", "a1"}) // persist answers every resend with the same stored
		if f := alice.next(); f.Type != protocol.TypeStored || f.ID != "m-1" || f.Seq != 5 {
			t.Fatalf("send %d: got %+v, want stored m-1 seq 5", i, f)
		}
	}
	// No resend: a redelivered stored is a duplicate.
	e.publish(msg, [2]string{"alice", "a1"})
	e.publish(stored(t, "conv-1", 6, "alice", "a1", "m-2", envelope(16, "a1", "b1")), [2]string{"alice", "a1"})
	if f := alice.next(); f.Type != protocol.TypeStored || f.ID != "m-2" {
		t.Errorf("after a duplicate: got %+v, want stored m-2", f)
	}
}

func TestRecentForgetsOnlyWhatItIsTold(t *testing.T) {
	r := newRecent(3)
	a, b, c := dedupeKey{id: "a"}, dedupeKey{id: "b"}, dedupeKey{id: "c"}
	for _, tc := range []struct {
		k    dedupeKey
		want bool
	}{{a, true}, {a, false}, {b, true}} {
		if got := r.firstTime(tc.k); got != tc.want {
			t.Fatalf("firstTime(%v): %v, want %v", tc.k, got, tc.want)
		}
	}
	r.forget(a)
	if !r.firstTime(a) { // recorded again, in the third slot
		t.Fatal("a after forget: seen, want new")
	}
	// c takes the first slot, which still holds a's old record: the
	// re-recorded a must survive it.
	if !r.firstTime(c) || r.firstTime(a) {
		t.Errorf("a re-recorded after forget: forgotten when its old slot was reused")
	}
}

// A sync's batch reaches the device with the request's id and the end mark.
func TestBatchCarriesTheSyncsIDAndEnd(t *testing.T) {
	e := startConnector(t, nil)
	alice := e.dial("alice", "a1")
	m := stored(t, "conv-1", 1, "bob", "b1", "m-1", envelope(16, "a1", "b1"))
	msg, err := events.Decode[events.Message](m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := events.NewSyncBatch("conv-1", "alice", "a1", events.SyncBatch{Messages: []events.Message{msg}, More: true, LastSeq: 4, RequestID: "sync:9", End: true})
	if err != nil {
		t.Fatal(err)
	}
	e.publish(b, [2]string{"alice", "a1"})
	if f := alice.next(); f.Type != protocol.TypeBatch || f.ID != "sync:9" || !f.End || !f.More || f.LastSeq != 4 || len(f.Messages) != 1 || f.Messages[0].Seq != 1 {
		t.Errorf("got %+v, want batch sync:9, end, more, lastSeq 4, message seq 1", f)
	}
}
