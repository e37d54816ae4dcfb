package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Server is one connector process's WebSocket server.
type Server struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	m      *metrics
	reg    *prometheus.Registry
	source string // CloudEvents source of the events it emits

	upgrader websocket.Upgrader
	http     *http.Server
	track    tracker
	ctx      context.Context // background work; cancelled by Close
	cancel   context.CancelFunc
	serial   atomic.Uint64
	dedupe   *recent

	ready     atomic.Bool // subscribed to deliveries at least once
	draining  atomic.Bool
	startOnce sync.Once
	closeOnce sync.Once

	mu       sync.RWMutex // guards the fields below
	all      map[*conn]struct{}
	byDevice map[events.DeviceRef]*conn
	idle     chan struct{} // closed when draining and no socket is left
}

// New checks cfg and deps and returns a server that is not yet running:
// call Serve (or Start and mount Handler yourself).
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if deps.Sink == nil || deps.Presence == nil || deps.Deliveries == nil || deps.Tokens == nil {
		return nil, errors.New("connector: Sink, Presence, Deliveries and Tokens are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, deps: deps, reg: deps.Registry, ctx: ctx, cancel: cancel,
		log:      deps.Logger.With("connector", cfg.ConnectorID),
		m:        newMetrics(deps.Registry),
		source:   events.SourceConnectorPrefix + cfg.ConnectorID,
		dedupe:   newRecent(1 << 14),
		all:      make(map[*conn]struct{}),
		byDevice: make(map[events.DeviceRef]*conn),
		idle:     make(chan struct{}),
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A 1 KiB read buffer (instead of reusing net/http's 4 KiB one) saves
		// 3 KiB per idle socket; large frames bypass it. Writes borrow a
		// buffer from the pool only while writing, so an idle socket holds
		// no write buffer. (BenchmarkIdleConnections measures both.)
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{protocol.Subprotocol},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked before, in serveWS
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			problem(w, status, "bad_handshake", reason.Error())
		},
	}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	return s, nil
}

// ID is this connector's id (its presence value and delivery channel).
func (s *Server) ID() string { return s.cfg.ConnectorID }

// Start starts the background work: the delivery subscription and the
// presence heartbeat. Serve calls it; call it yourself when you mount
// Handler on your own server. It is idempotent.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.track.Go(s.runDeliveries)
		s.track.Go(s.runHeartbeat)
	})
}

// Serve starts the background work and serves HTTP on ln until Drain or
// Close; it returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	s.Start()
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("connector: serve: %w", err)
	}
	return nil
}

// Ready reports whether the connector should receive new connections: it
// has subscribed to its delivery channel and is not draining.
func (s *Server) Ready() bool { return s.ready.Load() && !s.draining.Load() }

// Connections is the number of open sockets.
func (s *Server) Connections() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.all)
}

// accept registers an upgraded socket and starts its goroutines. The same
// device connected here already: that older socket is closed with 4009.
func (s *Server) accept(ws *websocket.Conn, id Identity) {
	c := newConn(s, ws, id, s.serial.Add(1))
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseServiceRestart, "connector draining"), time.Now().Add(time.Second))
		ws.Close()
		return
	}
	old := s.byDevice[c.dev]
	s.byDevice[c.dev] = c
	s.all[c] = struct{}{}
	s.mu.Unlock()
	s.m.connections.Inc()
	if old != nil {
		old.shutdown(protocol.CloseReplaced, "device connected again", true)
	}

	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	if err := s.deps.Presence.Claim(ctx, c.dev); err != nil {
		// The heartbeat claims it again within one interval.
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: presence claim failed", "user", c.dev.User, "device", c.dev.Device, "err", err)
	}
	cancel()

	c.send(protocol.Frame{Type: protocol.TypeHello, User: c.dev.User, Device: c.dev.Device, Connector: s.cfg.ConnectorID})
	if !id.Expires.IsZero() {
		c.expiry = time.AfterFunc(time.Until(id.Expires), func() {
			c.shutdown(protocol.CloseTokenExpired, "token expired", true)
		})
	}
	if !s.track.Go(c.writeLoop) {
		ws.Close()
		close(c.writerDone)
		s.release(c)
		return
	}
	if !s.track.Go(c.readLoop) {
		c.shutdown(protocol.CloseGoingAway, "connector shutting down", false)
		<-c.writerDone
		s.release(c)
	}
}

// release forgets a closed socket and, if it was the device's current one,
// releases the device's presence.
func (s *Server) release(c *conn) {
	if c.expiry != nil {
		c.expiry.Stop()
	}
	s.mu.Lock()
	delete(s.all, c)
	mine := s.byDevice[c.dev] == c
	if mine {
		delete(s.byDevice, c.dev)
	}
	if s.draining.Load() && len(s.all) == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
	s.mu.Unlock()
	s.m.connections.Dec()
	c.mu.Lock()
	code := c.closeCode
	c.mu.Unlock()
	if code == 0 {
		code = websocket.CloseAbnormalClosure
	}
	s.m.closes.WithLabelValues(fmt.Sprint(code)).Inc()
	if !mine {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.deps.Presence.Release(ctx, c.dev); err != nil {
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: presence release failed", "user", c.dev.User, "device", c.dev.Device, "err", err)
	}
	// A new socket of the same device may have claimed between the
	// registry update and the release: claim again for it.
	if s.lookup(c.dev) != nil {
		if err := s.deps.Presence.Claim(ctx, c.dev); err != nil {
			s.m.presenceErrors.Inc()
		}
	}
}

// lookup returns the socket that holds dev here, or nil.
func (s *Server) lookup(dev events.DeviceRef) *conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byDevice[dev]
}

// conns returns a snapshot of the open sockets.
func (s *Server) conns() []*conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*conn, 0, len(s.all))
	for c := range s.all {
		out = append(out, c)
	}
	return out
}

// runHeartbeat refreshes presence for every held device every
// PresenceTTLSeconds/3 and closes sockets whose device is now held by
// another connector (4009).
func (s *Server) runHeartbeat() {
	t := time.NewTicker(s.heartbeatEvery())
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.RLock()
		devs := make([]events.DeviceRef, 0, len(s.byDevice))
		for d := range s.byDevice {
			devs = append(devs, d)
		}
		s.mu.RUnlock()
		if len(devs) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.heartbeatEvery())
		lost, err := s.deps.Presence.Refresh(ctx, devs)
		cancel()
		if err != nil {
			s.m.presenceErrors.Inc()
			s.log.Warn("connector: presence heartbeat failed", "devices", len(devs), "err", err)
		}
		for _, d := range lost {
			if c := s.lookup(d); c != nil {
				c.shutdown(protocol.CloseReplaced, "device connected elsewhere", true)
			}
		}
	}
}

func (s *Server) heartbeatEvery() time.Duration {
	if s.cfg.PresenceHeartbeat > 0 {
		return s.cfg.PresenceHeartbeat
	}
	return events.PresenceTTLSeconds * time.Second / 3
}

// runDeliveries runs the delivery subscription until Close, restarting it
// if it ever returns early.
func (s *Server) runDeliveries() {
	for s.ctx.Err() == nil {
		err := s.deps.Deliveries.Run(s.ctx, s.deliver, s.subscribed)
		if err != nil && s.ctx.Err() == nil {
			s.log.Error("connector: delivery subscription ended", "err", err)
			t := time.NewTimer(time.Second)
			select {
			case <-s.ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// subscribed is called each time the delivery subscription is established.
// After a re-subscription, deliveries published meanwhile are lost: every
// client is told to resync (sync each conversation after its last seq).
func (s *Server) subscribed(first bool) {
	s.ready.Store(true)
	if first {
		s.log.Info("connector: subscribed to deliveries")
	} else {
		s.m.resubscribes.Inc()
		s.log.Warn("connector: delivery subscription re-established; asking clients to resync")
	}
	// On the first subscription this reaches only sockets accepted before it.
	for _, c := range s.conns() {
		c.send(protocol.Frame{Type: protocol.TypeResync})
	}
}
