package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/gorilla/websocket"
)

const (
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 10 * time.Second
	// maxInbound bounds one frame from the connector: a sync batch carries
	// many envelopes, so this is well above protocol.MaxFrameSize.
	maxInbound = 64 << 20
	// shortLived is how long a connection must last for its loss to count
	// as a clean move rather than a failed attempt (which backs off).
	shortLived = time.Second
	outQueue   = 64
)

// errMoved is the cause of a disconnect the client makes itself, after a
// reconnect frame.
var errMoved = errors.New("client: moving to another connector on request")

// ErrUnauthorized is wrapped by a dial error when the connector refused the
// token (HTTP 401 at upgrade).
var ErrUnauthorized = errors.New("client: token refused")

// wsConn is one socket, with its reader and writer goroutines.
type wsConn struct {
	ws    *websocket.Conn
	url   string
	gen   int
	since time.Time
	out   chan protocol.Frame // to the writer; closed to stop it

	stop sync.Once
}

// close stops the writer; graceful first sends a normal close frame.
func (w *wsConn) close(graceful bool) {
	w.stop.Do(func() {
		close(w.out)
		if !graceful {
			_ = w.ws.Close()
		}
	})
}

// inbound is what a reader hands the loop: a frame, or the error that ended
// the socket (always the last thing from that reader).
type inbound struct {
	w   *wsConn
	f   protocol.Frame
	err error
}

type dialResult struct {
	ws  *websocket.Conn
	url string
	err error
}

// dialOne opens one socket, offering the protocol and the token as
// subprotocols (what a browser does too).
func dialOne(ctx context.Context, cfg *Config, url string) (*websocket.Conn, error) {
	tok, err := cfg.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: token: %w", err)
	}
	d := *cfg.Dialer
	d.Subprotocols = []string{protocol.Subprotocol, protocol.TokenSubprotocolPrefix + tok}
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = handshakeTimeout
	}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnauthorized, url, err)
		}
		if resp != nil {
			return nil, fmt.Errorf("client: dial %s: %v (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	ws.SetReadLimit(maxInbound)
	return ws, nil
}

// connected adopts a fresh socket: reader and writer start, and the session
// resumes (sync every conversation, resend the outbox, ack again).
func (c *Client) connected(ws *websocket.Conn, url string) {
	s := &c.s
	now := c.cfg.clock.Now()
	s.gen++
	w := &wsConn{ws: ws, url: url, gen: s.gen, since: now, out: make(chan protocol.Frame, outQueue)}
	s.conn, s.dialing, s.switchAt, s.resumeDone = w, false, time.Time{}, false
	s.lastWrite, s.nextIdle = now, c.idleAfter(now)
	c.wg.Add(2)
	go c.reader(w)
	go c.writer(w)
	c.log.Info("client: connected", "url", url)
	c.emit(&Connection{Up: true, URL: url})
	c.resume(now)
	c.askPresence()
	c.wake(now) // arms the keepalive and idle sync timers
}

// startDial dials the current URL in the background.
func (c *Client) startDial() {
	s := &c.s
	s.dialing = true
	url := c.cfg.URLs[s.urlIdx%len(c.cfg.URLs)]
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ws, err := dialOne(c.ctx, &c.cfg, url)
		select {
		case c.dialed <- dialResult{ws: ws, url: url, err: err}:
		case <-c.ctx.Done():
			if ws != nil {
				_ = ws.Close()
			}
		}
	}()
}

func (c *Client) dialDone(r dialResult, now time.Time) {
	s := &c.s
	s.dialing = false
	if r.err == nil {
		c.connected(r.ws, r.url)
		return
	}
	s.attempt++
	s.urlIdx++
	delay := backoff(s.attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
	c.log.Warn("client: dial failed", "url", r.url, "err", r.err, "retry_in", delay)
	s.reconnectAt = now.Add(delay)
	c.emit(&Connection{URL: r.url, Err: r.err, RetryIn: delay})
	c.wake(s.reconnectAt)
}

// disconnected handles the loss (or the deliberate end) of the current
// socket and schedules the next dial, on the next URL. How soon depends on
// why: a drain (reconnect frame, 1012, 1001) or a slow-consumer cut (4008)
// comes back at once with jitter; rate limiting (4029) waits; a socket that
// died young or by network error backs off; replaced (4009), revoked (4003)
// and suspended (4004) stop for good.
func (c *Client) disconnected(w *wsConn, cause error, now time.Time) {
	s := &c.s
	if w != s.conn {
		return // an old socket's last words
	}
	graceful := errors.Is(cause, errMoved)
	w.close(graceful)
	s.conn, s.writes = nil, nil
	s.resume.id = "" // a late answer still counts for its messages
	for _, cv := range s.convs {
		cv.syncing = false
	}
	code := 0
	var ce *websocket.CloseError
	if errors.As(cause, &ce) {
		code = ce.Code
	}
	if now.Sub(w.since) >= shortLived {
		s.attempt = 0 // it worked for a while: start backing off afresh
	}
	var delay time.Duration
	switch {
	case code == protocol.CloseReplaced:
		s.fatal = true
		c.log.Warn("client: replaced by another connection of this device; not reconnecting")
		c.emit(&Error{Code: CodeReplaced, Err: cause})
		c.emit(&Connection{URL: w.url, Err: cause})
		return
	case code == protocol.CloseRevoked:
		s.fatal = true
		c.log.Warn("client: this device was revoked; not reconnecting")
		c.emit(&Error{Code: CodeRevoked, Err: cause})
		c.emit(&Connection{URL: w.url, Err: cause})
		return
	case code == protocol.CloseSuspended:
		s.fatal = true
		c.log.Warn("client: this account was suspended; not reconnecting")
		c.emit(&Error{Code: CodeSuspended, Err: cause})
		c.emit(&Connection{URL: w.url, Err: cause})
		return
	case graceful || !s.switchAt.IsZero():
		delay = max(s.switchAt.Sub(now), 0)
	case code == protocol.CloseRateLimited:
		delay = c.cfg.MaxBackoff/2 + jitter(c.cfg.MaxBackoff/2)
	case now.Sub(w.since) < shortLived:
		s.attempt++
		delay = backoff(s.attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
	case code == protocol.CloseServiceRestart || code == protocol.CloseGoingAway ||
		code == protocol.CloseSlowConsumer || code == protocol.CloseTokenExpired || code == protocol.CloseNormal:
		delay = jitter(2 * c.cfg.MinBackoff)
	default:
		s.attempt++
		delay = backoff(s.attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
	}
	s.switchAt = time.Time{}
	s.urlIdx++
	s.reconnectAt = now.Add(delay)
	c.log.Info("client: disconnected", "url", w.url, "close_code", code, "err", cause, "retry_in", delay)
	c.emit(&Connection{URL: w.url, Err: cause, RetryIn: delay})
	c.wake(s.reconnectAt)
}

// teardown closes the current socket on Close.
func (c *Client) teardown(graceful bool) {
	if w := c.s.conn; w != nil {
		w.close(graceful)
		c.s.conn = nil
	}
}

// reader decodes frames and hands them to the loop in order, then the error
// that ended the socket.
func (c *Client) reader(w *wsConn) {
	defer c.wg.Done()
	extend := func() { _ = w.ws.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout)) }
	w.ws.SetPingHandler(func(data string) error {
		extend()
		err := w.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		extend()
		_, data, err := w.ws.ReadMessage()
		in := inbound{w: w, err: err}
		if err == nil {
			if err := json.Unmarshal(data, &in.f); err != nil {
				c.log.Warn("client: undecodable frame", "err", err, "bytes", len(data))
				continue
			}
			c.warmSigningKeys(in.f)
		}
		select {
		case c.in <- in:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// writer sends what the loop hands it; when its channel is closed it says
// goodbye with a normal close frame and closes the socket.
func (c *Client) writer(w *wsConn) {
	defer c.wg.Done()
	defer w.ws.Close()
	for f := range w.out {
		b, err := json.Marshal(f)
		if err != nil {
			c.log.Error("client: encode frame", "type", f.Type, "err", err)
			continue
		}
		_ = w.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := w.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.log.Debug("client: write failed", "err", err)
			return // the reader sees the closed socket and reports it
		}
	}
	_ = w.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}
