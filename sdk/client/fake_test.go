package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/gorilla/websocket"
)

// waitFor bounds every wait in these tests. It is reached only when what
// the test waits for never comes, so it is generous: a loaded machine is
// slow, not wrong. Nothing waits a fixed time to decide an outcome: that
// something does NOT happen is shown with a fake clock (time moves only
// when the test says) and the barriers written and handled.
const waitFor = 30 * time.Second

// fakeConnector plays a connector: it upgrades with the agreed
// subprotocols, checks the bearer token, and hands each connection to the
// test, which reads the client's frames and writes whatever it likes.
type fakeConnector struct {
	t     *testing.T
	srv   *httptest.Server
	URL   string
	token string
	conns chan *fakeConn
}

type fakeConn struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan protocol.Frame
	wmu    sync.Mutex
}

func newFakeConnector(t *testing.T, token string) *fakeConnector {
	t.Helper()
	fc := &fakeConnector{t: t, token: token, conns: make(chan *fakeConn, 16)}
	up := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
	fc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tok string
		for _, p := range websocket.Subprotocols(r) {
			if t, ok := strings.CutPrefix(p, protocol.TokenSubprotocolPrefix); ok {
				tok = t
			}
		}
		if tok != fc.token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &fakeConn{t: t, ws: ws, frames: make(chan protocol.Frame, 1024)}
		go func() {
			defer close(c.frames)
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				f, err := protocol.Decode(data)
				if err != nil {
					t.Errorf("fake connector: client sent a bad frame: %v: %s", err, data)
					return
				}
				c.frames <- f
			}
		}()
		fc.conns <- c
	}))
	fc.URL = "ws" + strings.TrimPrefix(fc.srv.URL, "http")
	t.Cleanup(fc.srv.Close)
	return fc
}

// accept waits for the client's next connection.
func (fc *fakeConnector) accept() *fakeConn {
	fc.t.Helper()
	select {
	case c := <-fc.conns:
		fc.t.Cleanup(func() { c.ws.Close() })
		return c
	case <-time.After(waitFor):
		fc.t.Fatal("fake connector: no connection")
		return nil
	}
}

func (c *fakeConn) send(f protocol.Frame) {
	c.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("fake connector: write: %v", err)
	}
}

func (c *fakeConn) closeWith(code int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// expect returns the next frame of type typ, skipping frames of other types.
func (c *fakeConn) expect(typ string) protocol.Frame {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("fake connector: connection ended waiting for %q", typ)
			}
			if f.Type == typ {
				return f
			}
		case <-deadline:
			c.t.Fatalf("fake connector: no %q frame", typ)
		}
	}
}

// fakeClock is a clock that moves only when the test calls Advance, so
// that whether a debounce window or a timeout has passed is decided by the
// test, not by how fast the machine runs. A client on it writes no more
// than FrameBurst frames unless the test advances (the pacer refills with
// time), and pings only when the test moves past KeepAlive.
type fakeClock struct {
	t      *testing.T
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// fakeTimer delivers on an unbuffered channel, as Go's timers do: a value
// is taken by the loop or withdrawn by Reset and Stop, never left stale.
type fakeTimer struct {
	clk      *fakeClock
	c        chan time.Time
	armed    bool
	deadline time.Time
	withdraw chan struct{} // closed to take back a delivery not yet received; nil: none out
}

func newFakeClock(t *testing.T) *fakeClock {
	return &fakeClock{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (k *fakeClock) Now() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

func (k *fakeClock) NewTimer() timer {
	k.mu.Lock()
	defer k.mu.Unlock()
	tm := &fakeTimer{clk: k, c: make(chan time.Time)}
	k.timers = append(k.timers, tm)
	return tm
}

// Advance moves the clock by d and returns once every timer due by then has
// been received, or stopped, by its owner. The client's loop runs
// housekeep in the same turn as it receives, so whatever the test asks of
// the client next (Client.do is taken between turns) comes after it.
func (k *fakeClock) Advance(d time.Duration) {
	k.t.Helper()
	k.mu.Lock()
	k.now = k.now.Add(d)
	var taken []chan struct{}
	for _, tm := range k.timers {
		if tm.armed && !tm.deadline.After(k.now) {
			taken = append(taken, tm.fire())
		}
	}
	k.mu.Unlock()
	deadline := time.After(waitFor)
	for _, ch := range taken {
		select {
		case <-ch:
		case <-deadline:
			k.t.Fatal("fake clock: a due timer was not received")
		}
	}
}

func (tm *fakeTimer) C() <-chan time.Time { return tm.c }

func (tm *fakeTimer) Reset(d time.Duration) {
	tm.clk.mu.Lock()
	defer tm.clk.mu.Unlock()
	tm.stop()
	tm.armed, tm.deadline = true, tm.clk.now.Add(d)
	if d <= 0 {
		tm.fire()
	}
}

func (tm *fakeTimer) Stop() {
	tm.clk.mu.Lock()
	defer tm.clk.mu.Unlock()
	tm.stop()
}

// stop disarms the timer and withdraws a delivery not yet received. The
// clock's lock is held.
func (tm *fakeTimer) stop() {
	tm.armed = false
	if tm.withdraw != nil {
		close(tm.withdraw)
		tm.withdraw = nil
	}
}

// fire delivers the clock's time on C in the background (the receiver may
// be the goroutine calling Reset); the returned channel is closed once the
// value was received or withdrawn. The clock's lock is held.
func (tm *fakeTimer) fire() chan struct{} {
	tm.armed = false
	at, withdraw, done := tm.clk.now, make(chan struct{}), make(chan struct{})
	tm.withdraw = withdraw
	go func() {
		defer close(done)
		select {
		case tm.c <- at:
		case <-withdraw:
		}
	}()
	return done
}

// elapse moves the fake clock by d once the client has finished whatever
// the test asked of it before (a call through Client.do is taken before it
// has run; a query is answered after).
func elapse(t *testing.T, c *Client, k *fakeClock, d time.Duration) {
	t.Helper()
	if _, err := query(c, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	k.Advance(d)
}

// device is a test device: an id and a key.
type device struct {
	user, id string
	key      *e2ee.PrivateKey
}

func newDevice(t *testing.T, user, id string) device {
	t.Helper()
	k, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return device{user: user, id: id, key: k}
}

func (d device) recipient() e2ee.Recipient {
	return e2ee.Recipient{Device: d.id, PublicKey: d.key.PublicKey()}
}

// mapDirectory is a Directory from a map the test can change; it counts
// lookups.
type mapDirectory struct {
	mu      sync.Mutex
	m       map[string][]e2ee.Recipient
	lookups int
}

func (d *mapDirectory) ConversationDevices(_ context.Context, conv string) ([]e2ee.Recipient, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	return d.m[conv], nil
}

func (d *mapDirectory) set(conv string, rs ...e2ee.Recipient) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[string][]e2ee.Recipient)
	}
	d.m[conv] = rs
}

// message is a message frame from `from`, sealed for `to`, as route
// delivers it.
func message(t *testing.T, conv string, seq int64, from device, text string, to ...device) protocol.Frame {
	t.Helper()
	id := newMessageID()
	plain, err := e2ee.Content{Text: text}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]e2ee.Recipient, len(to))
	for i, d := range to {
		rs[i] = d.recipient()
	}
	env, err := e2ee.Seal(plain, e2ee.AssociatedData{Conversation: conv, SenderDevice: from.id, ClientMessageID: id}, rs)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Frame{Type: protocol.TypeMessage, ID: id, Conversation: conv, Seq: seq,
		Sender: from.user, SenderDevice: from.id, Envelope: env, StoredAt: time.Now().UTC()}
}

// testConfig is a Config with timers short enough for tests.
func testConfig(me device, dir Directory, urls ...string) Config {
	return Config{
		URLs:           urls,
		Token:          func(context.Context) (string, error) { return "tok", nil },
		User:           me.user,
		Device:         me.id,
		Key:            me.key,
		Directory:      dir,
		ResendInterval: 150 * time.Millisecond,
		AckDelay:       20 * time.Millisecond,
		IdleSync:       -1,
		GapRetry:       50 * time.Millisecond,
		SyncTimeout:    2 * time.Second,
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
	}
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next event of type T, failing on timeout. Events of
// other types are skipped.
func next[T Event](t *testing.T, c *Client) T {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("events closed")
			}
			if e, ok := ev.(T); ok {
				return e
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event", zero)
		}
	}
}

// messages collects the next n Message events, failing on an Error event.
func messages(t *testing.T, c *Client, n int) []*Message {
	t.Helper()
	var got []*Message
	deadline := time.After(waitFor)
	for len(got) < n {
		select {
		case ev := <-c.Events():
			switch e := ev.(type) {
			case *Message:
				got = append(got, e)
			case *Error:
				t.Fatalf("error event: %v", e)
			}
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(got), n)
		}
	}
	return got
}

func seqs(ms []*Message) []int64 {
	s := make([]int64, len(ms))
	for i, m := range ms {
		s[i] = m.Seq
	}
	return s
}

// barrier makes sure every frame the client wrote so far has reached the
// fake connector (and been skipped): a typing frame is written after them.
func barrier(t *testing.T, c *Client, sc *fakeConn) {
	t.Helper()
	written(t, c, sc)
}

// written returns the frames the client wrote so far, up to a typing frame
// it is asked to write after them.
func written(t *testing.T, c *Client, sc *fakeConn) []protocol.Frame {
	t.Helper()
	if err := c.Typing("barrier", "paused"); err != nil {
		t.Fatal(err)
	}
	var fs []protocol.Frame
	deadline := time.After(waitFor)
	for {
		select {
		case f, ok := <-sc.frames:
			if !ok {
				t.Fatal("fake connector: connection ended before the barrier")
			}
			if f.Type == protocol.TypeTyping && f.Conversation == "barrier" {
				return fs
			}
			fs = append(fs, f)
		case <-deadline:
			t.Fatal("fake connector: no barrier frame")
		}
	}
}

// handled returns once the client has handled every frame sent to it so
// far, with the events not yet taken: frames are handled in order, and a
// peer's typing frame sent after them comes back as the last event.
func handled(t *testing.T, c *Client, sc *fakeConn) []Event {
	t.Helper()
	sc.send(protocol.Frame{Type: protocol.TypeTyping, Conversation: "barrier", Sender: "barrier-peer", SenderDevice: "barrier-peer-d", State: "typing"})
	var evs []Event
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("events closed")
			}
			if ty, ok := ev.(*Typing); ok && ty.Conversation == "barrier" && ty.User == "barrier-peer" {
				return evs
			}
			evs = append(evs, ev)
		case <-deadline:
			t.Fatal("the client did not handle the barrier frame")
		}
	}
}

// noneOf fails if any frame in fs is of type typ.
func noneOf(t *testing.T, fs []protocol.Frame, typ, why string) {
	t.Helper()
	for _, f := range fs {
		if f.Type == typ {
			t.Fatalf("unexpected %q frame (%s): %+v", typ, why, f)
		}
	}
}
