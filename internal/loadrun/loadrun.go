// Package loadrun drives many real clients (sdk/client) through a running
// agentchat and checks what the users saw: every message stored once, every
// member device shown every message once and in seq order, and the ticks
// (stored, delivered, read) the senders got. The end-to-end tests run it
// with assertions; cmd/loadgen and cmd/benchpipeline run it to measure
// throughput and latency.
//
// A load is sent in closed loop (each client keeps at most Window messages
// sent but not stored: the platform's speed sets the pace, which measures
// saturation) or in open loop (Rate: messages go out at evenly spaced
// intended times whatever the platform does, and latency counts from the
// intended time, so that queueing — in the clients as in the platform — is
// never hidden). Run sets up users and conversations and sends one load;
// Setup and Session.Run send several loads over the same users and warm
// caches (a benchmark's phases).
package loadrun

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Options shape one run: the users and conversations (set up once per
// Session) and the load sent (Load's fields, per Session.Run).
type Options struct {
	AccountsURL   string
	ConnectorURLs []string
	// Clients is how many users are connected (one device each); client i
	// starts on connector i mod len(ConnectorURLs).
	Clients int
	// Offline users are members of the big group with a registered device
	// that never connects (they catch up later, or never).
	Offline int
	// GroupSize is the size of the one big group (connected users first,
	// then offline ones); 0 means no group. Every connected client also has
	// a direct conversation with the next client, unless GroupOnly.
	GroupSize int
	// GroupOnly: no direct conversations; every message goes to the group.
	GroupOnly bool
	// Listeners of the connected clients (the last ones) never send; they
	// only receive, and their sockets count the bytes they read
	// (Result.ListenerBytes): what a delivery costs on the wire.
	Listeners int
	// Messages is the total to send, spread evenly over the clients (but
	// listeners) and, per client, round-robin over its conversations.
	Messages int
	// TextSize pads each message's text to this many bytes (0: as is,
	// about 25).
	TextSize int
	// Window bounds one client's messages sent but not yet stored (closed
	// loop; default 4).
	Window int
	// Rate, when above 0, sends in open loop: Rate messages per second in
	// total, message i at start + i/Rate, by client i mod Clients; Window
	// does not apply and Steps must be empty.
	Rate float64
	// Read makes every client mark everything read at the end, and the run
	// wait for read ticks.
	Read bool
	// Ticks (without Read) makes the run wait for every ✓✓. Receipts are
	// live-only (not synced after a lost delivery), so chaos runs leave it
	// off and judge messages only.
	Ticks bool
	// Timeout bounds the whole run after setup.
	Timeout time.Duration
	// SourceAddrs spread client sockets over loopback source addresses
	// (127.0.0.2, ...) to avoid ephemeral port exhaustion in big runs.
	SourceAddrs []string
	// Steps are done to the platform during the run, each at a message
	// count (see Step for the schedule): the chaos tests' blows.
	Steps []Step
	// Progress, if set, is told how far the run is every few seconds, and
	// when each step fires and ends.
	Progress func(line string)
	Logger   *slog.Logger
}

// Result is what a run observed.
type Result struct {
	Conversations   int
	ConversationIDs []string
	Sent            int           // messages handed to Send
	Stored          int           // of those, with a stored tick
	Expected        int           // (device, message) deliveries that should happen
	Received        int           // deliveries the devices' applications got
	Duplicates      int           // deliveries of a (conversation, seq) a device already had
	OutOfOrder      int           // deliveries below a seq the device had already shown
	Lost            int           // Expected - (unique deliveries)
	Undecryptable   int           // error events for messages that could not be opened
	DeliveredTick   int           // own messages that reached ✓✓
	ReadTick        int           // own messages that reached read
	TickEligible    int           // own messages in conversations with another connected member
	SendDuration    time.Duration // first Send to last stored
	Duration        time.Duration // first Send to last delivery
	// Latencies are send→deliver, one per delivery to another member's
	// device: from the call to Send in closed loop, from the intended send
	// time in open loop.
	Latencies []time.Duration
	// LastDeliveries are send→the last connected member's delivery, one
	// per message every connected member got (same clock as Latencies).
	LastDeliveries []time.Duration
	// ListenerBytes is what the listeners' sockets read during the load,
	// and ListenerReceived the deliveries they were shown.
	ListenerBytes    int64
	ListenerReceived int
	// Slowest are the 5 messages with the longest LastDeliveries, where
	// their time went.
	Slowest []Trace
	Steps   []StepReport // one per Options.Steps, in order
	Errors  []string
}

// Throughput is stored messages per second over the sending phase.
func (r Result) Throughput() float64 {
	if r.SendDuration <= 0 {
		return 0
	}
	return float64(r.Stored) / r.SendDuration.Seconds()
}

// Percentile of send→deliver latency (p in 0..100).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	i := int(float64(len(l)-1) * p / 100)
	return l[i]
}

func (r Result) String() string {
	return fmt.Sprintf("conversations=%d sent=%d stored=%d expected=%d received=%d duplicates=%d out_of_order=%d lost=%d undecryptable=%d "+
		"delivered_ticks=%d/%d read_ticks=%d/%d send=%s total=%s throughput=%.0f msg/s p50=%s p99=%s",
		r.Conversations, r.Sent, r.Stored, r.Expected, r.Received, r.Duplicates, r.OutOfOrder, r.Lost, r.Undecryptable,
		r.DeliveredTick, r.TickEligible, r.ReadTick, r.TickEligible, r.SendDuration.Round(time.Millisecond),
		r.Duration.Round(time.Millisecond), r.Throughput(), r.Percentile(50).Round(time.Microsecond), r.Percentile(99).Round(time.Microsecond))
}

// OK reports whether nothing was lost, duplicated, reordered or left unstored.
func (r Result) OK() bool {
	return r.Sent == r.Stored && r.Lost == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && r.Undecryptable == 0 && len(r.Errors) == 0
}

type user struct {
	name     string
	id       string
	sess     *client.Session
	key      *e2ee.PrivateKey
	c        *client.Client
	convs    []string
	online   bool
	listener bool         // never sends (Options.Listeners)
	read     atomic.Int64 // bytes its socket read, when a listener

	mu       sync.Mutex
	shown    map[string]int64          // conversation → highest seq shown
	seen     map[string]map[int64]bool // conversation → seqs shown
	states   map[string]client.State   // own client message id → state, this load's
	past     map[string]bool           // own client message ids of earlier loads
	inflight int
	cond     *sync.Cond
}

// Run sets up users and conversations, sends, waits and reports.
func Run(ctx context.Context, o Options) (Result, error) {
	s, err := Setup(ctx, o)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	return s.Run(ctx, o)
}

// Session is a run's users (signed up, one device each), conversations
// and connected clients, for several loads in a row.
type Session struct{ r *runner }

// Setup signs the users up, creates the conversations and connects the
// clients, as o's AccountsURL, ConnectorURLs, Clients, Offline, GroupSize,
// SourceAddrs and Logger say. Close ends it.
func Setup(ctx context.Context, o Options) (*Session, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &runner{o: o, convMembers: map[string][]*user{}, dists: map[string]map[int64]bool{}}
	if err := r.setup(ctx); err != nil {
		r.close()
		return nil, err
	}
	return &Session{r: r}, nil
}

// Run sends one load over the session — o's Messages, Window, Rate, Read,
// Ticks, Timeout, Steps and Progress; its other fields are the session's
// and ignored — waits for it and reports it. The Result counts this load
// (Lost: since the session began), so every load must have ended before
// the next starts: Run is not safe for concurrent use.
func (s *Session) Run(ctx context.Context, o Options) (Result, error) {
	if o.Window == 0 {
		o.Window = 4
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Rate > 0 && len(o.Steps) > 0 {
		return Result{}, errors.New("loadrun: steps need a closed loop (Rate 0)")
	}
	if err := validateSteps(o.Steps, o.Messages); err != nil {
		return Result{}, err
	}
	s.r.begin(o)
	return s.r.run(ctx)
}

// Close disconnects every client.
func (s *Session) Close() { s.r.close() }

type runner struct {
	o           Options // the session's: users and conversations
	l           Options // this load's: Messages, Window, Rate, ...
	users       []*user // connected first, then offline
	convMembers map[string][]*user
	dists       map[string]map[int64]bool // conversation → seqs of sender key distributions (under mu)
	gate        *gate                     // admits sends as the steps allow; counts settled messages

	mu          sync.Mutex
	sentAt      map[string]time.Time // client message id → when it was (meant to be) sent
	sentConv    map[string]string    // client message id → its conversation
	lastAt      map[string]time.Time // client message id → its latest delivery to another device
	returnedAt  map[string]time.Time // client message id → when Send returned
	storedAt    map[string]time.Time // client message id → its stored tick
	sender      map[string]string    // client message id → its sender's name
	delivered   map[string]int       // client message id → deliveries to other devices
	readBefore  int64                // listeners' bytes read before this load
	res         Result
	lastStore   time.Time
	lastDeliv   time.Time
	sentBefore  int // messages sent by earlier loads
	expectedBef int // deliveries expected from earlier loads
}

// begin resets what one load reports. Statuses of earlier loads' messages
// that arrive later are ignored (user.past).
func (r *runner) begin(l Options) {
	first := l.Messages // sends allowed before the first step fires
	if len(l.Steps) > 0 {
		first = l.Steps[0].AfterStored
	}
	r.mu.Lock()
	r.l = l
	r.gate = newGate(first)
	r.sentBefore += r.res.Sent
	r.expectedBef += r.res.Expected
	r.res = Result{Conversations: len(r.convMembers), ConversationIDs: r.res.ConversationIDs}
	r.sentAt = map[string]time.Time{}
	r.sentConv, r.lastAt, r.delivered = map[string]string{}, map[string]time.Time{}, map[string]int{}
	r.returnedAt, r.storedAt, r.sender = map[string]time.Time{}, map[string]time.Time{}, map[string]string{}
	r.readBefore = r.listenerBytes()
	r.lastStore, r.lastDeliv = time.Time{}, time.Time{}
	r.mu.Unlock()
	for _, u := range r.users {
		u.mu.Lock()
		for id := range u.states {
			u.past[id] = true
		}
		u.states = map[string]client.State{}
		u.inflight = 0
		u.mu.Unlock()
	}
}

func runID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *runner) setup(ctx context.Context) error {
	acc := client.NewAccounts(r.o.AccountsURL, nil)
	id := runID()
	n := r.o.Clients + r.o.Offline
	r.users = make([]*user, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u, err := newUser(ctx, acc, fmt.Sprintf("load%s-%d", id, i), i < r.o.Clients)
			r.users[i] = u
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	// Conversations: one big group, and a ring of direct conversations.
	owner := r.users[0]
	if r.o.GroupSize > 0 {
		size := min(r.o.GroupSize, n)
		var members []string
		for _, u := range r.users[:size] {
			members = append(members, u.id)
		}
		conv, err := owner.sess.CreateConversation(ctx, "group", members, "load group")
		if err != nil {
			return fmt.Errorf("loadrun: create group: %w", err)
		}
		r.addConv(conv.ID, r.users[:size])
	}
	if r.o.Clients > 1 && !r.o.GroupOnly {
		for i := range r.o.Clients {
			a, b := r.users[i], r.users[(i+1)%r.o.Clients]
			if r.o.Clients == 2 && i == 1 {
				break
			}
			conv, err := a.sess.CreateConversation(ctx, "direct", []string{a.id, b.id}, "")
			if err != nil {
				return fmt.Errorf("loadrun: create direct: %w", err)
			}
			r.addConv(conv.ID, []*user{a, b})
		}
	}
	for id := range r.convMembers {
		r.res.ConversationIDs = append(r.res.ConversationIDs, id)
	}
	sort.Strings(r.res.ConversationIDs)
	for i, u := range r.users[:r.o.Clients] {
		u.listener = i >= r.o.Clients-r.o.Listeners
		if err := r.connect(ctx, i, u); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) addConv(id string, members []*user) {
	r.convMembers[id] = members
	for _, u := range members {
		u.convs = append(u.convs, id)
	}
}

func newUser(ctx context.Context, acc *client.Accounts, name string, online bool) (*user, error) {
	const pw = "load-password-1"
	id, err := acc.Signup(ctx, name, pw, name)
	if err != nil {
		return nil, fmt.Errorf("loadrun: signup %s: %w", name, err)
	}
	key, err := e2ee.GenerateKey()
	if err != nil {
		return nil, err
	}
	sess, err := acc.Login(ctx, client.LoginRequest{Username: name, Password: pw, DeviceName: "load", PublicKey: key.PublicKey()})
	if err != nil {
		return nil, fmt.Errorf("loadrun: login %s: %w", name, err)
	}
	u := &user{name: name, id: id, sess: sess, key: key, online: online,
		shown: map[string]int64{}, seen: map[string]map[int64]bool{}, states: map[string]client.State{}, past: map[string]bool{}}
	u.cond = sync.NewCond(&u.mu)
	return u, nil
}

func (r *runner) connect(ctx context.Context, i int, u *user) error {
	urls := slices.Clone(r.o.ConnectorURLs)
	k := i % len(urls)
	urls = append(urls[k:], urls[:k]...)
	cfg := client.Config{URLs: urls, Token: u.sess.Token, User: u.id, Device: u.sess.DeviceID(), Key: u.key,
		Directory: u.sess, AutoDeliveredAck: true, AckDelay: time.Second, IdleSync: 20 * time.Second, EventBuffer: 4096,
		Logger: r.o.Logger.With("user", u.name)}
	dial := &net.Dialer{Timeout: 10 * time.Second}
	if len(r.o.SourceAddrs) > 0 {
		dial.LocalAddr = &net.TCPAddr{IP: net.ParseIP(r.o.SourceAddrs[i%len(r.o.SourceAddrs)])}
	}
	cfg.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: dial.DialContext}
	if u.listener {
		cfg.Dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: &u.read}, nil
		}
	}
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		return fmt.Errorf("loadrun: dial %s: %w", u.name, err)
	}
	u.c = c
	for _, conv := range u.convs {
		c.Track(conv, 0)
	}
	go r.consume(u)
	return nil
}

// consume is the application of one device: it records what it is shown.
func (r *runner) consume(u *user) {
	for ev := range u.c.Events() {
		switch e := ev.(type) {
		case *client.Message:
			r.onMessage(u, e)
		case *client.KeyDistribution:
			r.onDistribution(u, e)
		case *client.Status:
			r.onStatus(u, e)
		case *client.Error:
			if e.Seq > 0 {
				r.mu.Lock()
				r.res.Undecryptable++
				r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s: %s seq %d: %s: %v", u.name, e.Conversation, e.Seq, e.Code, e.Err))
				r.mu.Unlock()
			}
		}
	}
}

func (r *runner) onMessage(u *user, m *client.Message) {
	now := time.Now()
	u.mu.Lock()
	seen := u.seen[m.Conversation]
	if seen == nil {
		seen = map[int64]bool{}
		u.seen[m.Conversation] = seen
	}
	dup, ooo := seen[m.Seq], m.Seq < u.shown[m.Conversation]
	seen[m.Seq] = true
	u.shown[m.Conversation] = max(u.shown[m.Conversation], m.Seq)
	u.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case dup:
		r.res.Duplicates++
	case ooo:
		r.res.OutOfOrder++
	}
	if m.Own {
		return
	}
	r.res.Received++
	if u.listener {
		r.res.ListenerReceived++
	}
	r.lastDeliv = now
	if t, ok := r.sentAt[m.ID]; ok {
		r.res.Latencies = append(r.res.Latencies, now.Sub(t))
		r.lastAt[m.ID] = now
		r.delivered[m.ID]++
	}
}

// onDistribution takes a group's sender key distribution (a stored
// entry that is no message, docs/e2ee.md "Sender keys") into the
// device's seqs, so that it counts as neither lost nor expected.
func (r *runner) onDistribution(u *user, d *client.KeyDistribution) {
	u.mu.Lock()
	seen := u.seen[d.Conversation]
	if seen == nil {
		seen = map[int64]bool{}
		u.seen[d.Conversation] = seen
	}
	seen[d.Seq] = true
	u.shown[d.Conversation] = max(u.shown[d.Conversation], d.Seq)
	u.mu.Unlock()
	r.mu.Lock()
	if r.dists[d.Conversation] == nil {
		r.dists[d.Conversation] = map[int64]bool{}
	}
	r.dists[d.Conversation][d.Seq] = true
	r.mu.Unlock()
}

// Trace is where one message's time went, each from its intended send
// time: Send returned (sealing, and in a group the wait for a sender key's
// distribution), its stored tick, its last delivery to a connected member.
type Trace struct {
	Sender                 string
	Returned, Stored, Last time.Duration
}

func (t Trace) String() string {
	return fmt.Sprintf("%s: send returned %s, stored %s, last delivery %s", t.Sender,
		t.Returned.Round(time.Millisecond), t.Stored.Round(time.Millisecond), t.Last.Round(time.Millisecond))
}

// countingConn counts the bytes a listener's socket reads.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (r *runner) listenerBytes() int64 {
	var n int64
	for _, u := range r.users {
		if u != nil && u.listener {
			n += u.read.Load()
		}
	}
	return n
}

func (r *runner) onStatus(u *user, s *client.Status) {
	u.mu.Lock()
	if u.past[s.ID] {
		u.mu.Unlock()
		return
	}
	prev := u.states[s.ID]
	if s.State > prev || s.State == client.StateFailed {
		u.states[s.ID] = s.State
	}
	settled := false
	if s.State == client.StateStored || s.State == client.StateFailed {
		if prev < client.StateStored {
			u.inflight--
			u.cond.Broadcast()
			settled = true
		}
	}
	u.mu.Unlock()
	if settled {
		r.gate.settle()
	}
	if s.State == client.StateStored {
		r.mu.Lock()
		r.lastStore = time.Now()
		if _, ok := r.storedAt[s.ID]; !ok {
			r.storedAt[s.ID] = r.lastStore
		}
		r.mu.Unlock()
	}
	if s.State == client.StateFailed {
		r.mu.Lock()
		r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s: message %s failed: %v", u.name, s.ID, s.Err))
		r.mu.Unlock()
	}
}

func (r *runner) run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.l.Timeout)
	defer cancel()
	online := r.users[:r.o.Clients]
	senders := online[:max(1, r.o.Clients-r.o.Listeners)]
	per := r.l.Messages / len(senders)
	extra := r.l.Messages - per*len(senders)
	// When the run's time is up, every sender waiting (for the gate or for
	// its window) wakes up and returns: a platform that went away must not
	// hold the run forever.
	stop := context.AfterFunc(ctx, func() {
		r.gate.close()
		for _, u := range online {
			u.mu.Lock()
			u.cond.Broadcast()
			u.mu.Unlock()
		}
	})
	defer stop()
	stepsDone := make(chan []StepReport, 1)
	go func() { stepsDone <- runSteps(ctx, r.gate, r.l.Steps, r.l.Messages, r.l.Progress) }()
	start := time.Now()
	var wg sync.WaitGroup
	var due []chan time.Time // open loop: each client's intended send times
	for i, u := range senders {
		n := per
		if i < extra {
			n++
		}
		var times chan time.Time
		if r.l.Rate > 0 {
			times = make(chan time.Time, n)
			due = append(due, times)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sendAll(ctx, u, n, times)
		}()
	}
	if r.l.Rate > 0 {
		wg.Go(func() { schedule(ctx, start, r.l.Rate, r.l.Messages, due) })
	}
	r.progressWhile(ctx, wg.Wait)
	// Every send is through only once the last step has returned (or ctx
	// has ended, which ends the steps too).
	steps := <-stepsDone
	// Wait for every message stored and every delivery shown.
	err := r.waitFor(ctx, func() bool { return r.allStored() && r.allDelivered() })
	r.mu.Lock()
	r.res.SendDuration = r.lastStore.Sub(start)
	r.res.Duration = r.lastDeliv.Sub(start)
	r.mu.Unlock()
	if err == nil && r.l.Read {
		for _, u := range online {
			u.mu.Lock()
			shown := maps2slice(u.shown)
			u.mu.Unlock()
			for _, cs := range shown {
				u.c.MarkRead(cs.conv, cs.seq)
			}
		}
		err = r.waitFor(ctx, func() bool { return r.ticks(client.StateRead) == r.eligible() })
	} else if err == nil && r.l.Ticks {
		err = r.waitFor(ctx, func() bool { return r.ticks(client.StateDelivered) == r.eligible() })
	}
	r.tally()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Steps = steps
	if err := stepErrors(steps); err != nil {
		r.res.Errors = append(r.res.Errors, strings.Split(err.Error(), "\n")...)
	}
	if err != nil {
		r.res.Errors = append(r.res.Errors, "wait: "+err.Error())
	}
	return r.res, nil
}

type convSeq struct {
	conv string
	seq  int64
}

func maps2slice(m map[string]int64) []convSeq {
	var out []convSeq
	for c, s := range m {
		out = append(out, convSeq{c, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].conv < out[j].conv })
	return out
}

// schedule hands out the intended send times of an open loop: message i
// is due at start + i/rate, sent by client i mod len(due). It never waits
// for the clients (each channel holds all of its client's times), so a
// client that falls behind sends late and its latencies show it.
func schedule(ctx context.Context, start time.Time, rate float64, messages int, due []chan time.Time) {
	defer func() {
		for _, c := range due {
			close(c)
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range messages {
		t := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if d := time.Until(t); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		due[i%len(due)] <- t
	}
}

// sendAll sends u's n messages, round-robin over its conversations: in
// closed loop (due nil) each as soon as u's window allows, in open loop
// each at its time from due.
func (r *runner) sendAll(ctx context.Context, u *user, n int, due <-chan time.Time) {
	for i := range n {
		conv := u.convs[i%len(u.convs)]
		var t time.Time
		if due != nil {
			var ok bool
			select {
			case t, ok = <-due:
			case <-ctx.Done():
			}
			if !ok {
				return
			}
			u.mu.Lock()
		} else {
			u.mu.Lock()
			for u.inflight >= r.l.Window && ctx.Err() == nil {
				u.cond.Wait()
			}
		}
		u.inflight++
		u.mu.Unlock()
		if ctx.Err() != nil || !r.gate.admit() {
			return
		}
		if due == nil {
			t = time.Now()
		}
		text := "load " + strconv.Itoa(i) + " from " + u.name
		if len(text) < r.l.TextSize {
			text += strings.Repeat(".", r.l.TextSize-len(text))
		}
		id, err := u.c.Send(ctx, conv, e2ee.Content{Text: text})
		r.mu.Lock()
		if err != nil {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s: send: %v", u.name, err))
			r.mu.Unlock()
			u.mu.Lock()
			u.inflight--
			u.mu.Unlock()
			r.gate.settle() // it will never be stored: a step waiting for it must not wait forever
			continue
		}
		r.sentAt[id] = t
		r.sentConv[id] = conv
		r.returnedAt[id], r.sender[id] = time.Now(), u.name
		r.res.Sent++
		r.mu.Unlock()
		u.mu.Lock()
		if _, ok := u.states[id]; !ok {
			u.states[id] = client.StateSent
		}
		u.mu.Unlock()
	}
}

// progressWhile runs wait, reporting progress every few seconds meanwhile.
func (r *runner) progressWhile(ctx context.Context, wait func()) {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if r.l.Progress != nil && ctx.Err() == nil {
				r.l.Progress(r.progress())
			}
		}
	}
}

// waitFor polls cond until it holds or ctx ends. A broadcast on every
// user's cond would be finer; polling every 50 ms costs nothing here.
func (r *runner) waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up: %w", ctx.Err())
		case <-t.C:
		}
		if r.l.Progress != nil && time.Since(last) > 5*time.Second {
			last = time.Now()
			r.l.Progress(r.progress())
		}
	}
	return nil
}

func (r *runner) allStored() bool {
	for _, u := range r.users[:r.o.Clients] {
		u.mu.Lock()
		for _, s := range u.states {
			if s < client.StateStored {
				u.mu.Unlock()
				return false
			}
		}
		u.mu.Unlock()
	}
	return true
}

// total is how many messages a conversation holds now: the highest stored seq
// any member has shown.
func (r *runner) total(conv string) int64 {
	var n int64
	for _, u := range r.convMembers[conv] {
		u.mu.Lock()
		n = max(n, u.shown[conv])
		u.mu.Unlock()
	}
	return n
}

func (r *runner) allDelivered() bool {
	r.mu.Lock()
	sent := r.sentBefore + r.res.Sent
	r.mu.Unlock()
	var stored int64
	for conv := range r.convMembers {
		stored += r.total(conv)
	}
	if stored < int64(sent) {
		return false
	}
	for conv, members := range r.convMembers {
		n := r.total(conv)
		for _, u := range members {
			if !u.online {
				continue
			}
			u.mu.Lock()
			got := int64(len(u.seen[conv]))
			u.mu.Unlock()
			if got < n {
				return false
			}
		}
	}
	return true
}

func (r *runner) eligible() int {
	n := 0
	for _, u := range r.users[:r.o.Clients] {
		u.mu.Lock()
		n += len(u.states)
		u.mu.Unlock()
	}
	return n
}

func (r *runner) ticks(at client.State) int {
	n := 0
	for _, u := range r.users[:r.o.Clients] {
		u.mu.Lock()
		for _, s := range u.states {
			if s >= at && s != client.StateFailed {
				n++
			}
		}
		u.mu.Unlock()
	}
	return n
}

// progress is a one-line account of where the run is.
func (r *runner) progress() string {
	r.mu.Lock()
	sent, received := r.res.Sent, r.res.Received
	r.mu.Unlock()
	var pending int
	var behind []string
	for conv, members := range r.convMembers {
		n := r.total(conv)
		for _, u := range members {
			if !u.online {
				continue
			}
			u.mu.Lock()
			if got := int64(len(u.seen[conv])); got < n {
				behind = append(behind, fmt.Sprintf("%s@%s:%d/%d", u.name, conv, got, n))
			}
			u.mu.Unlock()
		}
	}
	for _, u := range r.users[:r.o.Clients] {
		u.mu.Lock()
		for _, s := range u.states {
			if s < client.StateStored {
				pending++
			}
		}
		u.mu.Unlock()
	}
	sort.Strings(behind)
	if len(behind) > 5 {
		behind = append(behind[:5], fmt.Sprintf("+%d more", len(behind)-5))
	}
	admitted, settled := r.gate.counts()
	return fmt.Sprintf("sent=%d admitted=%d settled=%d unstored=%d received=%d stored ticks: delivered=%d read=%d behind=%v",
		sent, admitted, settled, pending, received, r.ticks(client.StateDelivered), r.ticks(client.StateRead), behind)
}

// tally computes Expected, Lost, Stored and the tick counts at the end.
func (r *runner) tally() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Stored, r.res.Expected, r.res.Lost = 0, 0, 0
	for conv, members := range r.convMembers {
		n := r.total(conv)
		for _, u := range members {
			if !u.online {
				continue
			}
			u.mu.Lock()
			for seq := int64(1); seq <= n; seq++ {
				if !u.seen[conv][seq] {
					r.res.Lost++
				}
			}
			u.mu.Unlock()
		}
	}
	for _, u := range r.users[:r.o.Clients] {
		u.mu.Lock()
		for _, s := range u.states {
			if s >= client.StateStored && s != client.StateFailed {
				r.res.Stored++
			}
			if s >= client.StateDelivered && s != client.StateFailed {
				r.res.DeliveredTick++
			}
			if s >= client.StateRead && s != client.StateFailed {
				r.res.ReadTick++
			}
		}
		r.res.TickEligible += len(u.states)
		u.mu.Unlock()
	}
	// Expected deliveries to others' devices: each message × connected
	// members other than its sender.
	for conv, members := range r.convMembers {
		n := r.total(conv)
		online := 0
		for _, u := range members {
			if u.online {
				online++
			}
		}
		r.res.Expected += (int(n) - len(r.dists[conv])) * max(0, online-1)
	}
	r.res.Expected -= r.expectedBef
	r.res.ListenerBytes = r.listenerBytes() - r.readBefore
	r.res.LastDeliveries = r.res.LastDeliveries[:0]
	for id, t := range r.sentAt {
		others := -1 // the sender is connected
		for _, u := range r.convMembers[r.sentConv[id]] {
			if u.online {
				others++
			}
		}
		if last, ok := r.lastAt[id]; ok && r.delivered[id] >= others {
			r.res.LastDeliveries = append(r.res.LastDeliveries, last.Sub(t))
			r.res.Slowest = append(r.res.Slowest, Trace{Sender: r.sender[id], Returned: r.returnedAt[id].Sub(t),
				Stored: r.storedAt[id].Sub(t), Last: last.Sub(t)})
		}
	}
	slices.SortFunc(r.res.Slowest, func(a, b Trace) int { return cmp.Compare(b.Last, a.Last) })
	r.res.Slowest = r.res.Slowest[:min(5, len(r.res.Slowest))]
}

// LastPercentile is a percentile of LastDeliveries (p in 0..100).
func (r Result) LastPercentile(p float64) time.Duration {
	if len(r.LastDeliveries) == 0 {
		return 0
	}
	l := slices.Clone(r.LastDeliveries)
	slices.Sort(l)
	return l[int(float64(len(l)-1)*p/100)]
}

func (r *runner) close() {
	var errs []error
	for _, u := range r.users {
		if u != nil && u.c != nil {
			errs = append(errs, u.c.Close())
		}
	}
	_ = errors.Join(errs...)
}

// Describe is a one-line summary of the options, for logs.
func (o Options) Describe() string {
	return strings.Join([]string{
		fmt.Sprintf("clients=%d", o.Clients), fmt.Sprintf("offline=%d", o.Offline),
		fmt.Sprintf("group=%d", o.GroupSize), fmt.Sprintf("messages=%d", o.Messages),
		fmt.Sprintf("connectors=%d", len(o.ConnectorURLs)), o.loop(),
	}, " ")
}

func (o Options) loop() string {
	if o.Rate > 0 {
		return fmt.Sprintf("rate=%g/s", o.Rate)
	}
	return fmt.Sprintf("window=%d", o.Window)
}
