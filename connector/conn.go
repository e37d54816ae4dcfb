package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// closeGrace is how long a closing socket waits for the client to answer
// the close frame before the TCP connection is cut.
const closeGrace = time.Second

// conn is one authenticated socket. An idle socket has no goroutine and no
// buffer: it is read by a goroutine started when the poller reports it
// readable (readReady), which reads the frames that arrived and returns,
// and written by a goroutine started when something is queued for it
// (kick → writeRun), which writes the queue and returns. Sockets without a
// file descriptor (or without epoll) keep one reader goroutine (readAll).
//
// A socket ends through one path: shutdown records why and starts the
// writer, which flushes (if asked), writes the close frame, waits briefly
// for the client's answer and tears the socket down: it stops the poller
// watching it, closes it, waits for a reader still running, and releases
// the device.
type conn struct {
	// presenceAsked is when the socket last asked for presence (unix ns;
	// lastseen.go: one request per presenceRequestEvery).
	presenceAsked atomic.Int64

	s      *Server
	ws     *websocket.Conn
	wire   *wireConn
	fd     int // for the poller; -1: read by readAll
	dev    events.DeviceRef
	serial uint64 // distinguishes sockets of the same device in dedupe keys
	stamp  uint64 // orders sockets of the same device: fixed before the upgrade (Presence)
	q      outQueue

	// lastSeen (unix nanoseconds) is when the client last showed life: a
	// frame, a pong. The server's ping sweep closes sockets silent too long.
	lastSeen atomic.Int64

	expiry *time.Timer // token expiry → 4001; set before the socket is registered

	// pollMu orders the poller's add and arm of the socket before
	// teardown's remove: once unwatched, the socket is closed (its file
	// descriptor may be another socket's) and is never watched again.
	pollMu    sync.Mutex
	unwatched bool

	released bool // Server.release ran (guarded by Server.mu)

	readMu      sync.Mutex // held by the goroutine reading the socket; guards what follows
	readClosed  bool       // torn down: read no more
	readStopped bool       // the reader saw the socket end
	limiter     *rate.Limiter
	strikes     int
	strikeStart time.Time
	readEnded   chan struct{} // closed when the reader saw the socket end

	mu        sync.Mutex // guards the fields below
	writing   bool       // a writer goroutine runs
	finished  bool       // the writer has begun the last steps
	closing   bool
	closeCode int // 0: no close frame (the socket is already broken)
	closeText string
	flush     bool // write what is queued before the close frame
	// closeBy, for a close without flush, is when the close frame must be
	// out (WriteTimeout after shutdown); past it the TCP connection is cut.
	closeBy    time.Time
	shutdownAt time.Time
	closeSent  bool      // the close frame was written (else the client sees 1006)
	closedAt   time.Time // when the writer closed the socket
	// abandon is set by a shutdown without flush: the writer stops after
	// the frame it is writing.
	abandon atomic.Bool
}

func newConn(s *Server, ws *websocket.Conn, wire *wireConn, id Identity, serial uint64) *conn {
	c := &conn{
		s: s, ws: ws, wire: wire, fd: -1, serial: serial,
		dev:       events.DeviceRef{User: id.User, Device: id.Device},
		q:         newOutQueue(s.cfg.OutboundQueue, s.cfg.OutboundQueueBytes),
		limiter:   rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst),
		readEnded: make(chan struct{}),
	}
	c.lastSeen.Store(time.Now().UnixNano())
	if s.poll != nil {
		if fd, ok := socketFD(wire.Conn); ok {
			c.fd = fd // fixed before the socket is shared (teardown reads it)
		}
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	wire.onPong = c.seen
	wire.onPing = func(payload []byte) {
		c.seen()
		// As gorilla's own ping handler: a pong that cannot be written
		// now is not worth an error (the writer will find out).
		c.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(s.cfg.WriteTimeout))
	}
	return c
}

func (c *conn) seen() { c.lastSeen.Store(time.Now().UnixNano()) }

// shutdown starts closing the socket with code (0: without a close frame);
// flush asks for queued frames to be written first. The first call sets the
// code; a later call without flush still stops a flush under way (Close
// after Drain, a broken socket after a 4009): the writer stops after the
// frame it is writing. It never blocks.
func (c *conn) shutdown(code int, text string, flush bool) {
	c.mu.Lock()
	if c.closing {
		if c.flush && !flush {
			c.flush = false
			if !c.finished {
				c.closeBy = time.Now().Add(c.s.cfg.WriteTimeout)
			}
			c.abandon.Store(true)
		}
		c.mu.Unlock()
		return
	}
	c.closing, c.closeCode, c.closeText, c.flush = true, code, text, flush
	c.shutdownAt = time.Now()
	if !flush {
		c.closeBy = c.shutdownAt.Add(c.s.cfg.WriteTimeout)
		c.abandon.Store(true)
	}
	c.mu.Unlock()
	c.q.close()
	c.kick()
}

// send encodes f and queues it; see enqueue.
func (c *conn) send(f protocol.Frame) bool {
	data, err := json.Marshal(f)
	if err != nil {
		c.s.log.Error("connector: encode frame", "type", f.Type, "err", err)
		return false
	}
	return c.enqueue(outFrame{typ: f.Type, data: data})
}

// enqueue queues an encoded frame without blocking and starts the writer.
// A full queue (in frames or bytes) means the client cannot keep up: the
// socket is closed with 4008 (without flushing — the backlog is what it
// could not take) and the client will sync.
func (c *conn) enqueue(f outFrame) bool {
	queued, full := c.q.push(f)
	if full {
		c.s.m.slowConsumers.Inc()
		c.s.m.deliveryDrops.WithLabelValues("slow_consumer").Inc()
		c.shutdown(protocol.CloseSlowConsumer, "slow consumer", false)
	}
	if queued {
		c.kick()
	}
	return queued
}

// sendError queues an error frame.
func (c *conn) sendError(e *protocol.Error) { c.send(e.Frame()) }

// pingFrame is a queued WebSocket ping (not a protocol frame).
const pingFrame = "\x00ping"

// kick starts the socket's writer unless one runs (or has finished).
func (c *conn) kick() {
	c.mu.Lock()
	if c.writing || c.finished {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	if !c.s.track.Go(c.writeRun) {
		// Past the server's shutdown point, which closed every socket it
		// knew: this one can only be cut.
		c.ws.Close()
	}
}

// writeRun writes what is queued and returns when the queue is empty, or
// ends the socket once shutdown was called.
func (c *conn) writeRun() {
	var batch []outFrame
	for {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			c.finish()
			return
		}
		batch = c.q.take(batch)
		if len(batch) == 0 {
			c.mu.Lock()
			if !c.closing && c.q.empty() {
				c.writing = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			continue
		}
		n, err := c.write(batch)
		if err != nil {
			c.q.done(batch[n:]) // dropped: abandoned, or the socket failed
			if !errors.Is(err, errAbandoned) {
				c.shutdown(0, "", false)
			}
		}
		clear(batch)
		batch = batch[:0]
	}
}

// errAbandoned ends a write cut short by a shutdown without flush.
var errAbandoned = errors.New("connector: write abandoned: socket closing")

// finish writes the queued frames (if asked) and the close frame, gives the
// client closeGrace to answer, and tears the socket down.
//
// Without flush the close frame must be out by closeBy (WriteTimeout after
// the shutdown). It goes out only if the socket can still take it: when a
// frame write has failed (the client stopped reading, its buffers and ours
// are full, the write timed out) the WebSocket cannot carry another frame,
// and the TCP connection is cut without one — the client sees 1006.
func (c *conn) finish() {
	c.mu.Lock()
	c.finished = true
	code, text, flush, by := c.closeCode, c.closeText, c.flush, c.closeBy
	c.mu.Unlock()
	rest := c.q.take(nil)
	if flush {
		n, _ := c.write(rest)
		rest = rest[n:]
	}
	c.q.done(rest)
	sent := false
	if code != 0 {
		if by.IsZero() {
			by = time.Now().Add(c.s.cfg.WriteTimeout)
		}
		msg := websocket.FormatCloseMessage(code, text)
		// gorilla refuses at once if an earlier write failed.
		sent = c.ws.WriteControl(websocket.CloseMessage, msg, by) == nil
	}
	c.mu.Lock()
	c.closeSent, c.closedAt = sent, time.Now()
	c.mu.Unlock()
	if sent {
		t := time.NewTimer(closeGrace)
		select {
		case <-c.readEnded:
		case <-t.C:
		}
		t.Stop()
	}
	c.teardown()
}

// teardown closes the socket (the poller forgets it first, so a reused file
// descriptor is never taken for it), waits for a reader still running (a
// blocked read ends with the close) and releases the device.
func (c *conn) teardown() {
	c.pollMu.Lock()
	c.unwatched = true
	if c.fd >= 0 {
		c.s.poll.remove(c.fd, c)
	}
	c.pollMu.Unlock()
	c.ws.Close()
	c.readMu.Lock()
	c.readClosed = true
	c.wire.r, c.wire.w = 0, 0
	c.wire.release()
	c.readMu.Unlock()
	c.s.release(c)
}

// write writes frames, each within WriteTimeout: a client that takes a
// large backlog slowly but steadily is not cut off, one that stops reading
// is. It returns how many it wrote; after a shutdown without flush it stops
// before the next frame (errAbandoned). Written frames leave the queue's
// byte count.
func (c *conn) write(frames []outFrame) (int, error) {
	for i, f := range frames {
		if c.abandon.Load() {
			return i, errAbandoned
		}
		deadline := time.Now().Add(c.s.cfg.WriteTimeout)
		if f.typ == pingFrame {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
				return i, err
			}
			continue
		}
		c.ws.SetWriteDeadline(deadline)
		if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
			return i, err
		}
		c.q.done(frames[i : i+1])
		c.s.m.framesOut.WithLabelValues(frameLabel(f.typ)).Inc()
	}
	return len(frames), nil
}

// readReady reads what arrived on a socket the poller reported readable,
// then re-arms the poller (or ends the socket). One runs at a time.
func (c *conn) readReady() {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readClosed || c.readStopped {
		return
	}
	code, text, ended := c.readFrames(false)
	if !ended {
		c.wire.release()
		if err := c.arm(); err == nil {
			return
		}
		code, text = 0, ""
	}
	c.stopReading(code, text)
}

// watch has the poller watch the socket, disarmed (arm starts reporting
// it). It reports false if the poller cannot, and gone if the socket was
// torn down already (nothing is watched then).
func (c *conn) watch() (ok, gone bool) {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.unwatched {
		return false, true
	}
	return c.s.poll.add(c.fd, c) == nil, false
}

// arm asks the poller to report the socket once when it is readable; a
// socket torn down meanwhile is left alone (nil).
func (c *conn) arm() error {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.unwatched {
		return nil
	}
	return c.s.poll.arm(c.fd, c)
}

// gone reports whether the socket was torn down.
func (c *conn) gone() bool {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	return c.unwatched
}

// readAll reads the socket until it ends: the reader of sockets the poller
// does not watch.
func (c *conn) readAll() {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readClosed {
		return
	}
	code, text, _ := c.readFrames(true)
	c.stopReading(code, text)
}

// stopReading records that the socket's input ended and closes the socket
// with code. The caller holds readMu.
func (c *conn) stopReading(code int, text string) {
	if !c.readStopped {
		c.readStopped = true
		close(c.readEnded)
	}
	c.shutdown(code, text, false)
}

var messagePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readFrames reads and handles data frames: all that are buffered or
// readable now (block false: it returns ended false when the socket is idle
// again), or until the socket ends (block true). When it ended it returns
// the close code to end the socket with.
func (c *conn) readFrames(block bool) (code int, text string, ended bool) {
	if !block {
		// The poller said there is something to read: read it once. After
		// that only what is buffered is read — a lone ping or pong must not
		// leave the reader waiting for a data frame.
		if err := c.wire.fill(1); err != nil {
			return 0, "", true // the client went away
		}
	}
	for {
		more, err := c.wire.nextData(block)
		if err != nil {
			return 0, "", true // the client went away
		}
		if !more {
			return 0, "", false
		}
		typ, r, err := c.ws.NextReader()
		var buf *bytes.Buffer
		if err == nil {
			buf = messagePool.Get().(*bytes.Buffer)
			_, err = buf.ReadFrom(r)
		}
		switch {
		case errors.Is(err, websocket.ErrReadLimit):
			// gorilla has already sent the 1009 close frame.
			putMessage(buf)
			return protocol.CloseTooBig, "frame too large", true
		case err != nil:
			// The client closed (gorilla echoed its close frame) or broke
			// the protocol (gorilla sent 1002): nothing more to say.
			putMessage(buf)
			return 0, "", true
		}
		c.seen()
		if typ != websocket.TextMessage {
			putMessage(buf)
			c.s.m.framesIn.WithLabelValues("other").Inc()
			c.sendError(&protocol.Error{Code: protocol.CodeBadFrame, Message: "frames are JSON text messages"})
			continue
		}
		code := c.s.handleFrame(c, buf.Bytes()) // keeps nothing of the bytes
		putMessage(buf)
		if code != 0 {
			return code, "rate limited", true
		}
	}
}

// putMessage returns a message buffer to the pool, unless it grew large.
func putMessage(b *bytes.Buffer) {
	if b == nil || b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	messagePool.Put(b)
}

// rateLimited answers a frame over the rate limit. It returns a close code
// once the client has ignored RateStrikes such answers within StrikeWindow.
func (c *conn) rateLimited() int {
	now := time.Now()
	if now.Sub(c.strikeStart) > c.s.cfg.StrikeWindow {
		c.strikeStart, c.strikes = now, 0
	}
	c.strikes++
	if c.strikes > c.s.cfg.RateStrikes {
		return protocol.CloseRateLimited
	}
	c.sendError(&protocol.Error{Code: protocol.CodeRateLimited, Message: "too many frames; slow down"})
	return 0
}
