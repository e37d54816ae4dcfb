package connector

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"math"
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
	poll     *poller // nil: every socket has a reader goroutine
	track    tracker
	ctx      context.Context // background work; cancelled by Close
	cancel   context.CancelFunc
	serial   atomic.Uint64
	dedupe   *recent
	tracer   trace.Tracer // nil: tracing is off (trace.go)
	acks     *acks        // the deliver spans of messages, for receipts; nil when off
	// lastStamp is the highest socket stamp seen here: stamps made here
	// (when the presence store cannot be asked) continue above it.
	lastStamp atomic.Uint64
	// upgraded, if set (tests only), runs between a socket's upgrade and
	// its accept: tests hold sockets there to force an interleaving.
	upgraded func(dev events.DeviceRef, stamp uint64)

	ready     atomic.Bool // subscribed to deliveries at least once
	draining  atomic.Bool
	startOnce sync.Once
	closeOnce sync.Once

	mu       sync.RWMutex // guards the fields below
	all      map[*conn]struct{}
	byDevice map[events.DeviceRef]*conn
	beats    beatWheel     // the sockets of byDevice, by heartbeat slot
	cuts     cuts          // revocations and suspensions heard recently (cuts.go)
	idle     chan struct{} // closed when draining and no socket is left

	releases releases   // presence records to release, in batches (presence.go)
	limits   userLimits // per-user limit checks, in batches (userlimit.go)
	seenQ    seenQueue  // departures waiting out their grace (lastseen.go)
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
		cuts:     make(cuts),
		idle:     make(chan struct{}),
	}
	s.seenQ.wake = make(chan struct{}, 1)
	if deps.Tracer != nil {
		s.tracer, s.acks = deps.Tracer, newAcks(ackMemory)
	}
	if p, err := newPoller(s.readable); err == nil {
		s.poll = p
	} else {
		s.log.Warn("connector: no readiness polling; one reader goroutine per socket", "err", err)
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// gorilla's own read buffer is the one buffer an idle socket keeps:
		// the smallest it allows (a control frame). The socket's reads go
		// through wireConn, which borrows a pooled buffer only while a
		// frame is read and never hands gorilla bytes beyond the frame.
		// Writes borrow a buffer from the pool only while writing.
		// (BenchmarkIdleConnections measures what is left.)
		ReadBufferSize:  128,
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
		s.track.Go(s.runPings)
		if s.deps.Seen != nil {
			s.track.Go(s.runDepartures)
		}
		if s.poll != nil {
			s.track.Go(s.poll.run)
		}
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

// admit asks the presence store, before the upgrade is answered, whether
// dev is revoked and for the socket's stamp. If the store cannot say, the
// device is let in (every function checks it again) with a stamp made here.
func (s *Server) admit(ctx context.Context, dev events.DeviceRef) Admission {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	a, err := s.deps.Presence.Admit(ctx, dev)
	if err != nil {
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: revocation check and stamp failed; stamping locally", "err", err)
		return Admission{Stamp: s.localStamp()}
	}
	s.seenStamp(a.Stamp)
	return a
}

// localStamp is a stamp made on this connector's clock: microseconds, above
// every stamp seen here, so still newer than this connector's earlier
// sockets. Across connectors it is only as good as the clocks agree.
func (s *Server) localStamp() uint64 {
	for {
		last := s.lastStamp.Load()
		next := max(uint64(time.Now().UnixMicro()), last+1)
		if s.lastStamp.CompareAndSwap(last, next) {
			return next
		}
	}
}

func (s *Server) seenStamp(v uint64) {
	for {
		last := s.lastStamp.Load()
		if v <= last || s.lastStamp.CompareAndSwap(last, v) {
			return
		}
	}
}

// accept registers an upgraded socket and starts its goroutines. Of two
// sockets of one device, the one with the higher stamp (upgraded later)
// wins, whichever accept runs first: an older socket held here is closed
// with 4009, and so is this one if the socket held here is newer, or if
// the presence store names a newer socket on another connector. A socket
// whose device was revoked or user suspended since its admission was
// asked (asked) is closed with 4003 or 4004 (cuts.go).
func (s *Server) accept(ws *websocket.Conn, wire *wireConn, id Identity, stamp uint64, asked time.Time) {
	c := newConn(s, ws, wire, id, s.serial.Add(1))
	c.stamp = stamp
	if !id.Expires.IsZero() {
		// Set before the socket is shared (release reads it), started
		// after: the callback sees c.expiry set.
		c.expiry = time.AfterFunc(time.Duration(math.MaxInt64), func() {
			c.shutdown(protocol.CloseTokenExpired, "token expired", true)
		})
		c.expiry.Reset(time.Until(id.Expires))
	}
	s.mu.Lock()
	if c.released {
		// The token expired already: the socket's writer closed it.
		s.mu.Unlock()
		return
	}
	if s.draining.Load() {
		s.mu.Unlock()
		c.stopExpiry()
		refuse(ws, protocol.CloseServiceRestart, "connector draining")
		return
	}
	if code, reason, cut := s.cuts.since(c.dev, asked); cut {
		s.mu.Unlock()
		c.stopExpiry()
		s.m.closes.WithLabelValues(fmt.Sprint(code)).Inc()
		s.log.Info("connector: refused at accept: revoked or suspended since its admission", "user", c.dev.User, "device", c.dev.Device, "code", code)
		refuse(ws, code, reason)
		return
	}
	old := s.byDevice[c.dev]
	if old != nil && old.stamp > c.stamp {
		// Upgraded before the socket that holds the device: this one is
		// the old one. It never claimed, so there is nothing to release.
		s.mu.Unlock()
		c.stopExpiry()
		s.m.closes.WithLabelValues(fmt.Sprint(protocol.CloseReplaced)).Inc()
		refuse(ws, protocol.CloseReplaced, "device connected again")
		return
	}
	s.byDevice[c.dev] = c
	if old != nil {
		s.beats.remove(old)
	}
	s.beats.add(c)
	s.all[c] = struct{}{}
	s.mu.Unlock()
	s.m.connections.Inc()
	if old != nil {
		old.shutdown(protocol.CloseReplaced, "device connected again", true)
	}

	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	if held, err := s.deps.Presence.Claim(ctx, c.dev, c.stamp); err != nil {
		// The heartbeat claims it again within one interval.
		s.m.presenceErrors.Inc()
		s.log.Warn("connector: presence claim failed", "user", c.dev.User, "device", c.dev.Device, "err", err)
	} else if !held {
		// A newer socket of the device holds it on another connector.
		c.shutdown(protocol.CloseReplaced, "device connected elsewhere", false)
	}
	cancel()
	if c.gone() {
		// Torn down during the claim (Close, Drain, a newer socket): its
		// release may have run before the claim landed. Release is a
		// compare-and-delete, so releasing again is safe.
		s.releasePresence(Held{Dev: c.dev, Stamp: c.stamp})
		return
	}

	c.send(protocol.Frame{Type: protocol.TypeHello, User: c.dev.User, Device: c.dev.Device, Connector: s.cfg.ConnectorID})
	s.watch(c)
	s.socketUp(c)
}

// stopExpiry stops the token expiry timer of a socket that is not taken.
func (c *conn) stopExpiry() {
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// watch starts reading c: through the poller if its socket has a file
// descriptor, else with a goroutine of its own.
func (s *Server) watch(c *conn) {
	if c.fd >= 0 {
		ok, gone := c.watch()
		if gone {
			return
		}
		if ok {
			// Frames the client sent behind its upgrade request are
			// already here: read them now (that re-arms the poller).
			// readMu orders this before every reader of the socket (the
			// poller's reports are invisible to the race detector).
			c.readMu.Lock()
			pending := c.wire.buffered() > 0
			var err error
			if !pending {
				err = c.arm()
			}
			c.readMu.Unlock()
			switch {
			case pending:
				s.readable(c)
			case err != nil:
				c.shutdown(0, "", false)
			}
			return
		}
	}
	if !s.track.Go(c.readAll) {
		c.shutdown(protocol.CloseGoingAway, "connector shutting down", false)
	}
}

// readable starts a reader for a socket the poller reported (or that has
// frames buffered). It never blocks.
func (s *Server) readable(c *conn) {
	s.track.Go(c.readReady)
}

// refuse closes a socket that is not taken after all.
func refuse(ws *websocket.Conn, code int, text string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	ws.Close()
}

// release forgets a closed socket and releases its presence record, if the
// record is still this socket's.
func (s *Server) release(c *conn) {
	c.stopExpiry()
	s.mu.Lock()
	c.released = true
	_, known := s.all[c]
	delete(s.all, c)
	mine := s.byDevice[c.dev] == c
	if mine {
		delete(s.byDevice, c.dev)
		s.beats.remove(c)
	}
	s.idleIfEmpty()
	s.mu.Unlock()
	if known { // else its token expired before accept registered it
		s.m.connections.Dec()
		// By the code the client saw: 1006 when no close frame went out.
		c.mu.Lock()
		code := c.closeCode
		if !c.closeSent {
			code = websocket.CloseAbnormalClosure
		}
		c.mu.Unlock()
		s.m.closes.WithLabelValues(fmt.Sprint(code)).Inc()
	}
	// Also when a newer socket replaced this one: its claim may have landed
	// after the newer one's release (Release removes only its own record).
	s.releasePresence(Held{Dev: c.dev, Stamp: c.stamp})
	if known {
		s.socketDown(c)
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

// runPings pings every socket each PingInterval, from one goroutine and one
// timer for all of them, and closes those that showed no sign of life (no
// frame, no pong) for two intervals — noticed at the sweep after that, so
// within three.
func (s *Server) runPings() {
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		silent := time.Now().Add(-2 * s.cfg.PingInterval).UnixNano()
		for _, c := range s.conns() {
			if c.lastSeen.Load() < silent {
				c.shutdown(0, "", false)
				continue
			}
			c.enqueue(outFrame{typ: pingFrame})
		}
	}
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
