package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/gorilla/websocket"
)

// Config is what a Client needs. URLs, Token, Device and Key are required;
// Directory is required to Send. Zero durations take the defaults below.
type Config struct {
	// URLs of connectors (ws:// or wss://, path included). Each reconnect
	// tries the next one.
	URLs []string
	// Token returns the access token for each (re)connect, so a refreshed
	// token is used after a long outage (Session.Token fits).
	Token func(ctx context.Context) (string, error)
	// User and Device are who the token is for. User may be left empty: the
	// connector's hello frame fills it in.
	User   string
	Device string
	// Key is this device's private key.
	Key *e2ee.PrivateKey
	// SigningKey is this device's Ed25519 key (registered with
	// LoginRequest.SigningKey or Session.SetSigningKey): every message
	// sent is signed with it. Without one, messages go unsigned and
	// recipients show them as unverified.
	SigningKey *e2ee.SigningKey
	// Directory gives the devices to encrypt for (Session fits).
	Directory Directory
	// SenderKeys keeps the device's sender keys for groups across
	// restarts (FileSenderKeys fits); nil keeps them in memory only
	// (senderkeys.go says what a restart then costs).
	SenderKeys SenderKeyStore
	// PairwiseGroups seals group messages pairwise (v1, a key per
	// device) instead of with sender keys: for platforms whose other
	// clients do not read v2 yet.
	PairwiseGroups bool
	Logger         *slog.Logger
	// AutoDeliveredAck sends a cumulative "delivered" ack (debounced by
	// AckDelay) once messages have been handed to Events. Without it the
	// application calls MarkDelivered.
	AutoDeliveredAck bool
	// Tracked are conversations the application already has up to a seq
	// (its local store): they are followed from there from the first
	// resume on, as Track would, but before the client first connects —
	// so that not even the first answer brings what the store holds.
	Tracked map[string]int64
	// Presence asks, at every connect, for the presence of everyone this
	// user may watch (a PresenceSnapshot event); changes then come as
	// Presence events. Without it only changes come.
	Presence bool

	ResendInterval time.Duration // outbox resend while not stored; default 3s
	AckDelay       time.Duration // debounce of delivered/read acks; default 200ms
	IdleSync       time.Duration // sync every conversation this often (give or take a quarter, at random); default 15s, negative: never
	GapRetry       time.Duration // least time between two syncs for one gap; default 1s
	GapGrace       time.Duration // how long a gap may stay open before a sync; default 2s, negative: none
	SyncTimeout    time.Duration // a sync without answer is sent again after; default 10s
	SyncLimit      int           // messages per batch asked for; 0: the connector's default
	KeepAlive      time.Duration // ping when nothing was written for; default 25s
	ReadTimeout    time.Duration // reconnect when nothing was read for; default 2*KeepAlive+10s
	MinBackoff     time.Duration // first reconnect/retry delay; default 250ms
	MaxBackoff     time.Duration // longest; default 10s
	DirectoryTTL   time.Duration // key directory cache lifetime; default 5m
	EventBuffer    int           // capacity of the Events channel; default 256
	FrameRate      float64       // frames per second written at most; default 40, negative: no limit
	FrameBurst     int           // frames written at once before FrameRate applies; default 80
	// HTTPClient carries media uploads and downloads to and from the media
	// store's presigned URLs; default a client without a timeout (each
	// call's context bounds it).
	HTTPClient *http.Client
	// Dialer for the WebSocket (e.g. with a NetDialContext bound to a source
	// address, as a load generator needs); default websocket.DefaultDialer's
	// settings.
	Dialer *websocket.Dialer

	// clock gives the loop its time and its timer; default the real one.
	// Tests set a fake one to move time themselves (fake_test.go).
	clock clock
}

func (c *Config) defaults() error {
	switch {
	case len(c.URLs) == 0:
		return errors.New("client: config: no connector URLs")
	case c.Token == nil:
		return errors.New("client: config: no Token func")
	case c.Device == "":
		return errors.New("client: config: no Device")
	case c.Key == nil:
		return errors.New("client: config: no Key")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ResendInterval, 3*time.Second)
	def(&c.AckDelay, 200*time.Millisecond)
	def(&c.IdleSync, 15*time.Second)
	def(&c.GapRetry, time.Second)
	def(&c.GapGrace, 2*time.Second)
	if c.GapGrace < 0 {
		c.GapGrace = 0
	}
	def(&c.SyncTimeout, 10*time.Second)
	def(&c.KeepAlive, 25*time.Second)
	def(&c.ReadTimeout, 2*c.KeepAlive+10*time.Second)
	def(&c.MinBackoff, 250*time.Millisecond)
	def(&c.MaxBackoff, 10*time.Second)
	def(&c.DirectoryTTL, 5*time.Minute)
	if c.FrameRate == 0 {
		c.FrameRate = 40
	}
	if c.FrameBurst <= 0 {
		c.FrameBurst = 80
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Dialer == nil {
		d := *websocket.DefaultDialer
		c.Dialer = &d
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	return nil
}

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("client: closed")

// Client is one device's connection to agentchat. It is safe for concurrent
// use. All its state belongs to one goroutine (the loop in loop.go); each
// socket has one reader and one writer goroutine beside it.
type Client struct {
	cfg  Config
	log  *slog.Logger
	keys *keyCache
	gk   *groupKeys // sender keys (senderkeys.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // readers, writers, dialers, rekeyers
	done   chan struct{}  // closed when the loop has returned

	cmds   chan func()     // run on the loop
	in     chan inbound    // frames and read errors from readers
	dialed chan dialResult // from dialers
	events chan Event      // to the application

	s state // owned by the loop goroutine
}

// Dial connects to the first connector of cfg.URLs that accepts (trying each
// once) and starts the client. It returns an error only if none does; after
// that the client reconnects on its own until Close.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var (
		ws   *websocket.Conn
		idx  int
		errs []error
	)
	for i, u := range cfg.URLs {
		var err error
		if ws, err = dialOne(ctx, &cfg, u); err == nil {
			idx = i
			break
		}
		errs = append(errs, err)
	}
	if ws == nil {
		return nil, fmt.Errorf("client: dial: %w", errors.Join(errs...))
	}
	gk, err := newGroupKeys(cfg.SenderKeys)
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	c := &Client{
		gk:     gk,
		cfg:    cfg,
		log:    cfg.Logger.With("device", cfg.Device),
		done:   make(chan struct{}),
		cmds:   make(chan func()),
		in:     make(chan inbound, 16),
		dialed: make(chan dialResult),
		events: make(chan Event, cfg.EventBuffer),
	}
	if cfg.Directory != nil {
		c.keys = newKeyCache(cfg.Directory, cfg.DirectoryTTL, cfg.clock.Now)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.s.init(cfg.User, newPacer(cfg.FrameRate, cfg.FrameBurst), cfg.clock.NewTimer())
	c.s.urlIdx = idx
	for id, last := range cfg.Tracked {
		if validID(id) && last >= 0 {
			cv := c.conv(id)
			cv.order, cv.receipts = newOrder[pendingMsg](last), true
			cv.note(last)
		}
	}
	c.connected(ws, cfg.URLs[idx])
	go c.loop()
	return c, nil
}

// Events delivers what happens, in order. It must be drained: the client
// buffers without bound rather than block or drop. It is closed by Close.
func (c *Client) Events() <-chan Event { return c.events }

// Close stops every goroutine of the client, closing the socket normally.
// Messages still in the outbox are not sent.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	c.wg.Wait()
	return nil
}

// do runs fn on the loop and waits until it has been taken.
func (c *Client) do(fn func()) error {
	select {
	case c.cmds <- fn:
		return nil
	case <-c.done:
		return ErrClosed
	}
}

// query runs fn on the loop and returns its result.
func query[T any](c *Client, fn func() T) (T, error) {
	ch := make(chan T, 1)
	if err := c.do(func() { ch <- fn() }); err != nil {
		var zero T
		return zero, err
	}
	return <-ch, nil
}

// Track makes the client follow a conversation from lastSeq on (the last
// seq the application already has, 0 for everything): it syncs what comes
// after, now and after every reconnect. Conversations the client sends to or
// receives from are tracked from 0 without this call. Tracking again with a
// higher lastSeq moves the start forward; a lower one is ignored.
func (c *Client) Track(conversation string, lastSeq int64) error {
	if !validID(conversation) {
		return fmt.Errorf("client: track: bad conversation id %q", conversation)
	}
	return c.do(func() { c.track(conversation, lastSeq) })
}

// LastSeq is the highest seq of conversation handed to Events, all before
// it included.
func (c *Client) LastSeq(conversation string) (int64, error) {
	return query(c, func() int64 {
		if cv := c.s.convs[conversation]; cv != nil {
			return cv.order.last
		}
		return 0
	})
}

// Unread is how many messages of other users in conversation came after
// this user's own read cursor — the member's, which a read on any of its
// devices moves (MarkRead here, read receipts of its other devices, the
// cursors a sync or resume brings) — among the messages handed to Events.
// Every device of the user that has the messages counts the same.
func (c *Client) Unread(conversation string) (int, error) {
	return query(c, func() int {
		if cv := c.s.convs[conversation]; cv != nil {
			return len(cv.unread)
		}
		return 0
	})
}

// CaughtUp reports whether the client is connected and has everything it
// knows to exist: this connection's resume has answered (every page), no
// sync is out and no conversation has a gap. A list of conversations with
// unread counts (Unread) is true from then on, and stays so as messages
// arrive.
func (c *Client) CaughtUp() (bool, error) {
	return query(c, func() bool {
		if c.s.conn == nil || !c.s.resumeDone || c.s.resume.id != "" {
			return false
		}
		for _, cv := range c.s.convs {
			if cv.syncing || cv.order.gap(cv.seen) {
				return false
			}
		}
		return true
	})
}

// Pending is the number of messages in the outbox (sent, not yet stored).
func (c *Client) Pending() (int, error) {
	return query(c, func() int { return len(c.s.outbox) })
}

// Sync asks for conversation's messages after the last one received, and
// the members' receipt cursors, as reconnects and the idle timer do.
func (c *Client) Sync(conversation string) error {
	return c.do(func() {
		cv := c.conv(conversation)
		cv.receipts = true
		c.sync(cv, c.cfg.clock.Now())
	})
}

// MarkDelivered acks everything up to seq as delivered (only needed without
// AutoDeliveredAck).
func (c *Client) MarkDelivered(conversation string, seq int64) error {
	return c.do(func() { c.ack(c.conv(conversation), seq, false) })
}

// MarkRead acks everything up to seq as read (shown to the user); it
// implies delivered.
func (c *Client) MarkRead(conversation string, seq int64) error {
	return c.do(func() { c.ack(c.conv(conversation), seq, true) })
}

// Typing sends a typing indicator: protocol state "typing" or "paused". It
// is ephemeral: not resent, dropped while disconnected.
func (c *Client) Typing(conversation, state string) error {
	if state != "typing" && state != "paused" {
		return fmt.Errorf("client: typing: state %q, want typing or paused", state)
	}
	return c.do(func() {
		if c.s.conn != nil {
			c.write(protocol.Frame{Type: protocol.TypeTyping, Conversation: conversation, State: state})
		}
	})
}
