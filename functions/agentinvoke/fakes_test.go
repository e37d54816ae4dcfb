package function

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/messages"
)

// memLedger is the in-memory twin of mongoLedger: the same contract
// (ledger_suite_test.go runs against both), for fast tests of turns.
type memLedger struct {
	mu       sync.Mutex
	calls    map[string]*callDoc
	invokes  map[string]events.AgentInvoke
	attempts map[string]attempt // by attemptID
	sent     map[string]bool
	started  map[string][2]string // completion, endpoint
	outcomes map[string]outcome
	marks    map[string]bool       // step sent markers, by stepSentID
	tsteps   map[string]toolStep   // by stepToolsID
	results  map[string]toolResult // by toolResultID
}

var _ ledger = (*memLedger)(nil)

func newMemLedger() *memLedger {
	return &memLedger{calls: map[string]*callDoc{}, invokes: map[string]events.AgentInvoke{}, attempts: map[string]attempt{},
		sent: map[string]bool{}, started: map[string][2]string{}, outcomes: map[string]outcome{},
		marks: map[string]bool{}, tsteps: map[string]toolStep{}, results: map[string]toolResult{}}
}

func (l *memLedger) Claim(_ context.Context, k callKey, inv events.AgentInvoke, owner string, leaseUntil time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls[k.id()] != nil {
		return false, nil
	}
	l.calls[k.id()] = &callDoc{ID: k.id(), Conversation: k.Conversation, Seq: k.Seq, Agent: k.Agent, State: stateOpen, CreatedAt: time.Now()}
	l.invokes[k.id()] = inv
	l.attempts[attemptID(k, 1)] = attempt{N: 1, Owner: owner, LeaseUntil: leaseUntil}
	return true, nil
}

func (l *memLedger) Invoke(_ context.Context, k callKey) (events.AgentInvoke, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	inv, ok := l.invokes[k.id()]
	return inv, ok, nil
}

func (l *memLedger) State(_ context.Context, k callKey) (callState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var st callState
	c := l.calls[k.id()]
	if c == nil {
		return st, nil
	}
	st.Exists, st.Finished = true, c.State != stateOpen
	for n := 1; n <= maxAttempts; n++ {
		a, ok := l.attempts[attemptID(k, n)]
		if !ok {
			break
		}
		st.Latest = a
		if a.LeaseUntil.After(st.LeaseUntil) {
			st.LeaseUntil = a.LeaseUntil
		}
	}
	st.Sent = l.sent[k.id()]
	if st.Sent {
		s := l.started[k.id()]
		st.Completion, st.Endpoint = s[0], s[1]
	}
	if o, ok := l.outcomes[k.id()]; ok {
		st.Outcome = &o
	}
	if !st.Sent {
		return st, nil
	}
	for s := 0; s < maxAttempts; s++ {
		ts, ok := l.tsteps[stepToolsID(k, s)]
		if !ok {
			break
		}
		st.Steps = append(st.Steps, ts)
	}
	for s := 1; s <= len(st.Steps) && l.marks[stepSentID(k, s)]; s++ {
		st.StepSent = s
	}
	return st, nil
}

func (l *memLedger) MarkStepSent(_ context.Context, k callKey, step, _ int) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.marks[stepSentID(k, step)] {
		return false, nil
	}
	l.marks[stepSentID(k, step)] = true
	return true, nil
}

func (l *memLedger) RecordStep(_ context.Context, k callKey, s toolStep) (toolStep, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held, ok := l.tsteps[stepToolsID(k, s.Step)]; ok {
		return held, nil
	}
	l.tsteps[stepToolsID(k, s.Step)] = s
	return s, nil
}

func (l *memLedger) RecordToolResult(_ context.Context, k callKey, r toolResult) (toolResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held, ok := l.results[toolResultID(k, r.CallID)]; ok {
		return held, nil
	}
	l.results[toolResultID(k, r.CallID)] = r
	return r, nil
}

func (l *memLedger) MarkToolStarted(_ context.Context, k callKey, callID string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := toolResultID(k, callID) + "/started"
	if l.marks[id] {
		return false, nil
	}
	l.marks[id] = true
	return true, nil
}

func (l *memLedger) ToolResult(_ context.Context, k callKey, callID string) (toolResult, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.results[toolResultID(k, callID)]
	return r, ok, nil
}

func (l *memLedger) TakeOver(_ context.Context, k callKey, n int, owner string, leaseUntil time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.attempts[attemptID(k, n)]; ok {
		return false, nil
	}
	l.attempts[attemptID(k, n)] = attempt{N: n, Owner: owner, LeaseUntil: leaseUntil}
	return true, nil
}

func (l *memLedger) Renew(_ context.Context, k callKey, n int, owner string, leaseUntil time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.attempts[attemptID(k, n)]; ok {
		a.LeaseUntil = leaseUntil
		l.attempts[attemptID(k, n)] = a
	}
	return nil
}

func (l *memLedger) MarkSent(_ context.Context, k callKey, _ int) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent[k.id()] {
		return false, nil
	}
	l.sent[k.id()] = true
	return true, nil
}

func (l *memLedger) MarkStarted(_ context.Context, k callKey, _ int, completion, endpoint string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.started[k.id()]; !ok {
		l.started[k.id()] = [2]string{completion, endpoint}
	}
	return nil
}

func (l *memLedger) Decide(_ context.Context, k callKey, o outcome) (outcome, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held, ok := l.outcomes[k.id()]; ok {
		return held, false, nil
	}
	l.outcomes[k.id()] = o
	return o, true, nil
}

func (l *memLedger) Finish(_ context.Context, k callKey, state string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.calls[k.id()]; c != nil {
		c.State = state
	}
	return nil
}

func (l *memLedger) Open(_ context.Context, limit int) ([]callKey, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var docs []*callDoc
	for _, c := range l.calls {
		if c.State == stateOpen {
			docs = append(docs, c)
		}
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].CreatedAt.Before(docs[j].CreatedAt) })
	var keys []callKey
	for _, c := range docs[:min(limit, len(docs))] {
		keys = append(keys, callKey{Conversation: c.Conversation, Seq: c.Seq, Agent: c.Agent})
	}
	return keys, nil
}

// world is a conversation as persist, accounts, route and the broker
// would hold it, in memory: members and their devices (with private keys,
// to check what the agent sealed), the message log (store/messages'
// in-memory twin, which the agent reads its history from), and a broker sink
// that stores message.sent the way persist does (next seq, once per
// idempotency key, only when wrapped for exactly the current devices) and
// brings persist's answer back to the agent's runtime, as the
// agent-invoke-outcome Trigger does.
type world struct {
	t    *testing.T
	mu   sync.Mutex
	conv string
	// members and devices
	members []string
	devices map[string][]device // by user
	agents  map[string]string   // agent → its device
	log     *messages.Memory
	events  []event.Event // everything the agent posted
	// refuse makes the sink fail this many posts before accepting.
	refuse int
	// answers brings persist's answers back (set by the fixture); drop
	// makes the next answers get lost instead.
	answers func(event.Event)
	drop    int
	// tool, when set, gets each tool.called posted (on a goroutine of its
	// own), as a tool function's Trigger would.
	tool func(event.Event)
	wg   sync.WaitGroup // answers on their way
}

type device struct {
	id  string
	key *e2ee.PrivateKey
}

func newWorld(t *testing.T) *world {
	return &world{t: t, conv: "c-1", devices: map[string][]device{}, agents: map[string]string{}, log: messages.NewMemory()}
}

// addUser adds a member with one device per name.
func (w *world) addUser(user string, deviceIDs ...string) []device {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.members = append(w.members, user)
	for _, id := range deviceIDs {
		k, _ := e2ee.GenerateKey()
		w.devices[user] = append(w.devices[user], device{id: id, key: k})
	}
	return w.devices[user]
}

// addAgent adds an agent member and returns its AGENT_KEYS entry.
func (w *world) addAgent(id string) agent.Key {
	dev := w.addUser(id, "dv-"+id)[0]
	w.mu.Lock()
	w.agents[id] = dev.id
	w.mu.Unlock()
	return agent.Key{Agent: id, Private: dev.key}
}

// audienceLocked is the conversation's audience as persist puts it in
// message.stored when an agent is a member: devices, agents, keys.
func (w *world) audienceLocked() *events.Audience {
	a := &events.Audience{Keys: map[string]string{}}
	for _, u := range w.members {
		for _, d := range w.devices[u] {
			a.Devices = append(a.Devices, events.DeviceRef{User: u, Device: d.id})
			a.Keys[d.id] = base64.StdEncoding.EncodeToString(d.key.PublicKeyBytes())
		}
		if _, ok := w.agents[u]; ok {
			a.Agents = append(a.Agents, events.AgentMember{ID: u, Kind: "model"})
		}
	}
	return a
}

func (w *world) recipients() []e2ee.Recipient {
	w.mu.Lock()
	defer w.mu.Unlock()
	rs, err := w.audienceLocked().Recipients()
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

// say stores a message from user's first device and returns it.
func (w *world) say(user, text string) events.Message { return w.sayWithout(user, text, "") }

// sayWithout is say with the message sealed for every member device but
// skip, as one sent before that device joined.
func (w *world) sayWithout(user, text, skip string) events.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.devices[user][0]
	seq := w.lastLocked() + 1
	cm := fmt.Sprintf("m-%d", seq)
	ad := e2ee.AssociatedData{Conversation: w.conv, SenderDevice: d.id, ClientMessageID: cm}
	all, _ := w.audienceLocked().Recipients()
	var rs []e2ee.Recipient
	for _, r := range all {
		if r.Device != skip {
			rs = append(rs, r)
		}
	}
	b, _ := e2ee.Content{Text: text}.Marshal()
	env, err := e2ee.Seal(b, ad, rs)
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := w.storeLocked(events.Message{ConversationID: w.conv, Seq: seq, SenderID: user, SenderDevice: d.id,
		ClientMessageID: cm, Envelope: env, StoredAt: time.Now().UTC()})
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

// lastLocked is the conversation's last seq.
func (w *world) lastLocked() int64 {
	last, err := w.log.LastSeq(context.Background(), w.conv, 0, 0)
	if err != nil {
		w.t.Error(err)
	}
	return last
}

// storeLocked inserts m into the log and returns it as stored.
func (w *world) storeLocked(m events.Message) (events.Message, error) {
	ctx := context.Background()
	if err := w.log.Insert(ctx, m); err != nil {
		return events.Message{}, err
	}
	return w.log.At(ctx, m.ConversationID, m.Seq, messages.AllDevices)
}

// invoke is route's invoke of agent for m: the stored message with the
// conversation's audience of this moment.
func (w *world) invoke(t *testing.T, agentID string, m events.Message) event.Event {
	t.Helper()
	w.mu.Lock()
	m.Audience = w.audienceLocked()
	w.mu.Unlock()
	e, err := events.NewAgentInvoke(agentID, "model", m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// invokeData is the data of w.invoke, for claims made by hand.
func (w *world) invokeData(t *testing.T, agentID string, m events.Message) events.AgentInvoke {
	t.Helper()
	inv, err := events.Decode[events.AgentInvoke](w.invoke(t, agentID, m))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// sink

func (w *world) Send(_ context.Context, e event.Event) error {
	if err := events.Validate(e); err != nil {
		w.t.Errorf("the agent posted an invalid event: %v", err)
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuse > 0 {
		w.refuse--
		return errors.New("broker: 503")
	}
	w.events = append(w.events, e)
	if e.Type() == events.TypeToolCalled && w.tool != nil {
		w.wg.Go(func() { w.tool(e) })
	}
	if e.Type() != events.TypeMessageSent {
		return nil
	}
	answer := w.persistLocked(e)
	if w.drop > 0 {
		w.drop--
		return nil
	}
	if w.answers != nil {
		w.wg.Go(func() { w.answers(answer) })
	}
	return nil
}

// persistLocked stores a message.sent as persist would and returns its
// answer: the stored message (again, for a resend), or a rejection that
// carries the current audience when the sender is an agent.
func (w *world) persistLocked(e event.Event) event.Event {
	sent, _ := events.Decode[events.MessageSent](e)
	user, _ := e.Extensions()[events.ExtSenderID].(string)
	dev, _ := e.Extensions()[events.ExtDeviceID].(string)
	aud := w.audienceLocked()
	answer := func(m events.Message) event.Event {
		m.Audience = aud
		out, err := events.NewMessageStored(m)
		if err != nil {
			w.t.Error(err)
		}
		return out
	}
	if m, err := w.log.ByKey(context.Background(), messages.Key{Conversation: w.conv, Sender: user,
		SenderDevice: dev, ClientMessageID: sent.ClientMessageID}, messages.AllDevices); err == nil {
		return answer(m) // a resend: stored once
	}
	want := map[string]bool{}
	for _, d := range aud.Devices {
		want[d.Device] = true
	}
	got := map[string]bool{}
	for _, d := range sent.Envelope.Devices() {
		got[d] = true
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		rej := events.MessageRejected{ClientMessageID: sent.ClientMessageID, Code: "missing_keys", Reason: "not wrapped for every member device"}
		if _, ok := aud.Agent(user); ok {
			rej.Audience = aud
		}
		out, err := events.NewMessageRejected(w.conv, user, dev, rej)
		if err != nil {
			w.t.Error(err)
		}
		return out
	}
	m, err := w.storeLocked(events.Message{ConversationID: w.conv, Seq: w.lastLocked() + 1, SenderID: user, SenderDevice: dev,
		ClientMessageID: sent.ClientMessageID, Envelope: sent.Envelope, StoredAt: time.Now().UTC()})
	if err != nil {
		w.t.Error(err)
	}
	return answer(m)
}

// posted returns the events of type typ the agent posted, in order.
func (w *world) posted(typ string) []event.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []event.Event
	for _, e := range w.events {
		if e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}

// stored returns the messages stored from sender.
func (w *world) stored(sender string) []events.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	all, err := w.log.After(context.Background(), w.conv, 0, 1_000, messages.AllDevices)
	if err != nil {
		w.t.Error(err)
	}
	var out []events.Message
	for _, m := range all {
		if m.SenderID == sender {
			out = append(out, m)
		}
	}
	return out
}

// scriptModel answers with chunks, or fails as told; it counts requests
// and can block until released. Every answer reports scriptUsage.
type scriptModel struct {
	mu       sync.Mutex
	requests []modelRequest
	replies  []func(ctx context.Context, onDelta func(string)) (string, error)
	arrived  chan struct{} // gets a value per request, when not nil
	// quiet endpoints (by base URL) never start answering: no first chunk
	// (onStart) before the reply's content.
	quiet map[string]bool
	// toolCalls are the tool calls request i (0-based) answers with.
	toolCalls map[int][]toolCall
	// stored is what Retrieve finds, by completion id ("cmpl-<n>" for
	// request n); retrievals counts its calls and the endpoints it asked.
	stored      map[string]string
	retrievals  int
	retrievedAt []string
}

// scriptUsage is the usage every scripted answer reports.
var scriptUsage = tokenUsage{Prompt: 10, Completion: 5, Reported: true}

func (m *scriptModel) Stream(ctx context.Context, req modelRequest, onStart, onDelta func(string)) (answer, error) {
	m.mu.Lock()
	m.requests = append(m.requests, req)
	i := len(m.requests) - 1
	reply := m.replies[min(i, len(m.replies)-1)]
	arrived := m.arrived
	quiet := m.quiet[req.Endpoint.BaseURL]
	calls := m.toolCalls[i]
	m.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
	}
	if onStart != nil && !quiet {
		onStart("cmpl-" + strconv.Itoa(i+1))
	}
	text, err := reply(ctx, onDelta)
	if err != nil {
		return answer{Text: text}, err
	}
	return answer{Text: text, ToolCalls: calls, Usage: scriptUsage}, nil
}

// Retrieve answers from stored, by completion id.
func (m *scriptModel) Retrieve(_ context.Context, e endpoint, completion string) (answer, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retrievals++
	m.retrievedAt = append(m.retrievedAt, e.BaseURL)
	text, ok := m.stored[completion]
	return answer{Text: text, Usage: scriptUsage}, ok, nil
}

// endpoints lists the base URL each request went to, in order.
func (m *scriptModel) endpoints() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.requests {
		out = append(out, r.Endpoint.BaseURL)
	}
	return out
}

func (m *scriptModel) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

// chunks answers with the given deltas.
func chunks(cs ...string) func(context.Context, func(string)) (string, error) {
	return func(_ context.Context, onDelta func(string)) (string, error) {
		out := ""
		for _, c := range cs {
			onDelta(c)
			out += c
		}
		return out, nil
	}
}

// failing answers with err.
func failing(err *modelError) func(context.Context, func(string)) (string, error) {
	return func(context.Context, func(string)) (string, error) { return "", err }
}

// blocking waits until release is closed (or ctx ends), then answers.
func blocking(release <-chan struct{}, text string) func(context.Context, func(string)) (string, error) {
	return func(ctx context.Context, onDelta func(string)) (string, error) {
		select {
		case <-release:
			onDelta(text)
			return text, nil
		case <-ctx.Done():
			return "", classify(ctx, ctx.Err(), false)
		}
	}
}

// eventually polls cond (no sleeps in tests beyond a short tick).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seqOf formats a seq for messages.
func seqOf(n int64) string { return strconv.FormatInt(n, 10) }
