package connector

import (
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

// conn is one authenticated socket: one reader goroutine (readLoop), one
// writer goroutine (writeLoop), and the queue between everything else and
// the writer. It ends through one path: shutdown records why and wakes the
// writer, which flushes (if asked), writes the close frame, waits briefly for
// the reader and closes the socket; the reader then releases the device.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	dev    events.DeviceRef
	serial uint64 // distinguishes sockets of the same device in dedupe keys
	stamp  uint64 // orders sockets of the same device: fixed before the upgrade (Presence)
	q      outQueue

	// Reader-only state.
	limiter     *rate.Limiter
	strikes     int
	strikeStart time.Time

	expiry *time.Timer // token expiry → 4001

	mu        sync.Mutex // guards the close fields
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

	stop       chan struct{} // closed by shutdown
	readerDone chan struct{}
	writerDone chan struct{}
}

func newConn(s *Server, ws *websocket.Conn, id Identity, serial uint64) *conn {
	return &conn{
		s: s, ws: ws, serial: serial,
		dev:        events.DeviceRef{User: id.User, Device: id.Device},
		q:          newOutQueue(s.cfg.OutboundQueue, s.cfg.OutboundQueueBytes),
		limiter:    rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst),
		stop:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
}

// shutdown starts closing the socket with code (0: without a close frame);
// flush asks for queued frames to be written first. Only the first call
// counts. It never blocks.
func (c *conn) shutdown(code int, text string, flush bool) {
	c.mu.Lock()
	if c.closing {
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
	close(c.stop)
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

// enqueue queues an encoded frame without blocking. A full queue (in frames
// or bytes) means the client cannot keep up: the socket is closed with 4008
// (without flushing — the backlog is what it could not take) and the client
// will sync.
func (c *conn) enqueue(f outFrame) bool {
	queued, full := c.q.push(f)
	if full {
		c.s.m.slowConsumers.Inc()
		c.s.m.deliveryDrops.WithLabelValues("slow_consumer").Inc()
		c.shutdown(protocol.CloseSlowConsumer, "slow consumer", false)
	}
	return queued
}

// sendError queues an error frame.
func (c *conn) sendError(e *protocol.Error) { c.send(e.Frame()) }

// writeLoop is the socket's only writer of data frames.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.s.cfg.PingInterval)
	defer ping.Stop()
	var batch []outFrame
	for {
		select {
		case <-c.q.ready:
			if c.stopping() {
				c.finish()
				return
			}
			batch = c.q.take(batch)
			n, err := c.write(batch)
			if err != nil {
				c.q.done(batch[n:]) // dropped: abandoned, or the socket failed
				if !errors.Is(err, errAbandoned) {
					c.shutdown(0, "", false)
				}
			}
			batch = recycle(batch)
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
				c.shutdown(0, "", false)
			}
		case <-c.stop:
			c.finish()
			return
		}
	}
}

// stopping reports whether shutdown was called, so a writer woken for data
// and for the stop at once does not keep writing to a socket being closed.
func (c *conn) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// errAbandoned ends a write cut short by a shutdown without flush.
var errAbandoned = errors.New("connector: write abandoned: socket closing")

// finish writes the queued frames (if asked) and the close frame, gives the
// client closeGrace to answer, and closes the socket, which ends the reader.
//
// Without flush the close frame must be out by closeBy (WriteTimeout after
// the shutdown). It goes out only if the socket can still take it: when a
// frame write has failed (the client stopped reading, its buffers and ours
// are full, the write timed out) the WebSocket cannot carry another frame,
// and the TCP connection is cut without one — the client sees 1006.
func (c *conn) finish() {
	c.mu.Lock()
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
		case <-c.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	c.ws.Close()
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
		c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
			return i, err
		}
		c.q.done(frames[i : i+1])
		c.s.m.framesOut.WithLabelValues(frameLabel(f.typ)).Inc()
	}
	return len(frames), nil
}

// recycle empties batch for reuse, dropping a large backing array so an
// idle socket does not keep the memory of its busiest moment.
func recycle(batch []outFrame) []outFrame {
	if cap(batch) > 32 {
		return nil
	}
	clear(batch)
	return batch[:0]
}

// readLoop reads frames until the socket fails or closes, then ends the
// connection: it is the goroutine that releases the device.
func (c *conn) readLoop() {
	code, text := c.readFrames()
	close(c.readerDone)
	c.shutdown(code, text, false)
	<-c.writerDone
	c.s.release(c)
}

// readFrames returns the close code to end the socket with.
func (c *conn) readFrames() (int, string) {
	alive := 2 * c.s.cfg.PingInterval
	c.ws.SetReadLimit(protocol.MaxFrameSize)
	c.ws.SetReadDeadline(time.Now().Add(alive))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(alive)) })
	for {
		typ, data, err := c.ws.ReadMessage()
		switch {
		case errors.Is(err, websocket.ErrReadLimit):
			// gorilla has already sent the 1009 close frame.
			return protocol.CloseTooBig, "frame too large"
		case err != nil:
			// The client closed (gorilla echoed its close frame), went away,
			// or stopped answering pings: nothing more to say.
			return 0, ""
		}
		c.ws.SetReadDeadline(time.Now().Add(alive))
		if typ != websocket.TextMessage {
			c.s.m.framesIn.WithLabelValues("other").Inc()
			c.sendError(&protocol.Error{Code: protocol.CodeBadFrame, Message: "frames are JSON text messages"})
			continue
		}
		if code := c.s.handleFrame(c, data); code != 0 {
			return code, "rate limited"
		}
	}
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
