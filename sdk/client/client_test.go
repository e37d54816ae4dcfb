package client

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

const convID = "c1"

func TestOutboxResendsUntilStored(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, dir, fc.URL)
	clk := newFakeClock(t)
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()

	id, err := c.Send(context.Background(), convID, e2ee.Content{Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	first := sc.expect(protocol.TypeSend)
	elapse(t, c, clk, cfg.ResendInterval)
	second := sc.expect(protocol.TypeSend) // no answer: sent again
	for _, f := range []protocol.Frame{first, second} {
		if f.ID != id || f.Conversation != convID {
			t.Fatalf("send frame id %q convID %q, want %q %q", f.ID, f.Conversation, id, convID)
		}
	}
	// Bob can read it, under the id and sender device it was sent with.
	plain, err := e2ee.Open(second.Envelope, e2ee.AssociatedData{Conversation: convID, SenderDevice: alice.id, ClientMessageID: id}, bob.id, bob.key)
	if err != nil {
		t.Fatalf("bob cannot open: %v", err)
	}
	if got, _ := e2ee.UnmarshalContent(plain); got.Text != "hello" {
		t.Fatalf("bob reads %q", got.Text)
	}

	if st := next[*Status](t, c); st.State != StateSent || st.ID != id {
		t.Fatalf("first status %+v, want sent", st)
	}
	sc.send(protocol.Frame{Type: protocol.TypeStored, ID: id, Conversation: convID, Seq: 1})
	if st := next[*Status](t, c); st.State != StateStored || st.Seq != 1 {
		t.Fatalf("status %+v, want stored seq 1", st)
	}
	if m := next[*Message](t, c); !m.Own || m.Seq != 1 || m.Content.Text != "hello" {
		t.Fatalf("own message %+v", m)
	}
	elapse(t, c, clk, 20*cfg.ResendInterval) // past the longest resend backoff
	noneOf(t, written(t, c, sc), protocol.TypeSend, "resent after stored")
	if n, _ := c.Pending(); n != 0 {
		t.Fatalf("outbox holds %d, want 0", n)
	}
}

func TestBusyErrorsBackOffAndResendSameID(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()

	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "x"})
	for _, code := range []string{protocol.CodeUnavailable, protocol.CodeRateLimited} {
		f := sc.expect(protocol.TypeSend)
		sc.send(protocol.Frame{Type: protocol.TypeError, ID: f.ID, Code: code, Message: "busy"})
	}
	if f := sc.expect(protocol.TypeSend); f.ID != id {
		t.Fatalf("resent id %q, want %q", f.ID, id)
	}
}

func TestDuplicatesDropped(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()

	m1 := message(t, convID, 1, bob, "one", alice)
	m2 := message(t, convID, 2, bob, "two", alice)
	for _, f := range []protocol.Frame{m1, m1, m2, m1, m2} {
		sc.send(f)
	}
	m3 := message(t, convID, 3, bob, "three", alice)
	sc.send(m3)
	var got []*Message
	for _, ev := range handled(t, c, sc) { // every frame above handled
		if m, ok := ev.(*Message); ok {
			got = append(got, m)
		}
	}
	if s := seqs(got); !slices.Equal(s, []int64{1, 2, 3}) {
		t.Fatalf("seqs %v, want [1 2 3]", s)
	}
	if got[1].Content.Text != "two" || got[1].Sender != "bob" || got[1].Own {
		t.Fatalf("message 2 = %+v", got[1])
	}
	noneOf(t, written(t, c, sc), protocol.TypeSync, "no gap")
}

func TestGapTriggersSyncAndBatchesLoop(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.GapGrace = 2 * time.Second
	clk := newFakeClock(t) // no sync times out unless the test says so
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()

	ms := make([]protocol.Frame, 7)
	for i := range ms {
		ms[i] = message(t, convID, int64(i+1), bob, "m", alice)
	}
	sc.send(ms[0])
	sc.send(ms[3]) // 2 and 3 are missing
	var got []*Message
	for _, ev := range handled(t, c, sc) {
		if m, ok := ev.(*Message); ok {
			got = append(got, m)
		}
	}
	// A gap may close by itself: it costs a sync once open for GapGrace.
	elapse(t, c, clk, cfg.GapGrace-time.Millisecond)
	noneOf(t, written(t, c, sc), protocol.TypeSync, "gap open for less than GapGrace")
	clk.Advance(time.Millisecond)
	s := sc.expect(protocol.TypeSync)
	if s.Conversation != convID || s.After != 1 || s.Limit != 2 {
		t.Fatalf("sync %+v, want after 1, limit 2 (just the hole)", s)
	}
	// The first batch says there is more; the client asks again after 3.
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: convID, Messages: ms[1:3], More: true, LastSeq: 7})
	s = sc.expect(protocol.TypeSync)
	if s.After != 4 || s.Limit != 3 {
		t.Fatalf("second sync after %d limit %d, want 4 (1..3 from the batch, 4 buffered) and 3 (up to lastSeq 7)", s.After, s.Limit)
	}
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: convID, Messages: ms[4:7], LastSeq: 7})
	got = append(got, messages(t, c, 7-len(got))...)
	if got := seqs(got); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("seqs %v", got)
	}
	if last, _ := c.LastSeq(convID); last != 7 {
		t.Fatalf("LastSeq %d, want 7", last)
	}
}

func TestStoredBeyondLastSeqSyncs(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, dir, fc.URL)
	cfg.GapGrace = 2 * time.Second
	clk := newFakeClock(t)
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()

	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "mine"})
	sc.expect(protocol.TypeSend)
	sc.send(protocol.Frame{Type: protocol.TypeStored, ID: id, Conversation: convID, Seq: 2}) // bob's 1 was lost
	handled(t, c, sc)
	elapse(t, c, clk, cfg.GapGrace)
	if s := sc.expect(protocol.TypeSync); s.After != 0 {
		t.Fatalf("sync after %d, want 0", s.After)
	}
	// The batch echoes the own message too; it must not come twice.
	echo := message(t, convID, 2, alice, "mine", alice, bob)
	echo.ID = id
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: convID,
		Messages: []protocol.Frame{message(t, convID, 1, bob, "lost", alice), echo}, LastSeq: 2})
	got := messages(t, c, 2)
	if got[0].Content.Text != "lost" || !got[1].Own || got[1].Content.Text != "mine" {
		t.Fatalf("got %+v, %+v", got[0], got[1])
	}
}

func TestTamperedEnvelopeIsAnErrorEventAndOrderGoesOn(t *testing.T) {
	alice, bob, carol := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1"), newDevice(t, "carol", "c1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()

	tampered := message(t, convID, 1, bob, "secret", alice)
	tampered.Envelope.Ciphertext[0] ^= 1
	replayed := message(t, convID, 2, bob, "for another sender", alice)
	replayed.SenderDevice = carol.id // the associated data no longer matches
	notMine := message(t, convID, 3, bob, "only carol", carol)
	sc.send(tampered)
	sc.send(replayed)
	sc.send(notMine)
	sc.send(message(t, convID, 4, bob, "fine", alice))

	wantCodes := []string{CodeUndecryptable, CodeUndecryptable, CodeNotRecipient}
	for i, want := range wantCodes {
		e := next[*Error](t, c)
		if e.Code != want || e.Seq != int64(i+1) {
			t.Fatalf("error event %d: code %q seq %d, want %q seq %d", i, e.Code, e.Seq, want, i+1)
		}
		if e.Code == CodeUndecryptable && !errors.Is(e.Err, e2ee.ErrDecrypt) {
			t.Fatalf("err %v, want ErrDecrypt", e.Err)
		}
	}
	if m := next[*Message](t, c); m.Seq != 4 || m.Content.Text != "fine" {
		t.Fatalf("message after errors: %+v", m)
	}
}

func TestReconnectAfterServiceRestartResumes(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc1, fc2 := newFakeConnector(t, "tok"), newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc1.URL, fc2.URL))
	sc := fc1.accept()

	sc.send(message(t, convID, 1, bob, "one", alice))
	sc.send(message(t, convID, 2, bob, "two", alice))
	messages(t, c, 2)
	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "while draining"})
	sc.expect(protocol.TypeSend) // never stored here
	sc.closeWith(protocol.CloseServiceRestart)

	sc2 := fc2.accept() // the next URL
	r := sc2.expect(protocol.TypeResume)
	if len(r.Positions) != 1 || r.Positions[0] != (protocol.Position{Conversation: convID, Seq: 2}) || !r.Receipts {
		t.Fatalf("resume %+v, want %s at 2 with receipts", r, convID)
	}
	if f := sc2.expect(protocol.TypeSend); f.ID != id {
		t.Fatalf("resent id %q, want %q", f.ID, id)
	}
	sc2.send(protocol.Frame{Type: protocol.TypeResumed, ID: r.ID, Batches: []protocol.Frame{{Type: protocol.TypeBatch, Conversation: convID,
		Messages: []protocol.Frame{message(t, convID, 3, bob, "missed", alice)}, LastSeq: 3}}})
	sc2.send(protocol.Frame{Type: protocol.TypeStored, ID: id, Conversation: convID, Seq: 4})
	if got := seqs(messages(t, c, 2)); !slices.Equal(got, []int64{3, 4}) {
		t.Fatalf("after resume got %v, want [3 4]", got)
	}
}

func TestReconnectFrameMovesToNextConnector(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc1, fc2 := newFakeConnector(t, "tok"), newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc1.URL, fc2.URL)
	c := dial(t, cfg)
	sc := fc1.accept()
	c.Track(convID, 5)
	if s := sc.expect(protocol.TypeSync); s.After != 5 {
		t.Fatalf("track sync after %d, want 5", s.After)
	}
	sc.send(protocol.Frame{Type: protocol.TypeReconnect, AfterMs: 50})
	sc2 := fc2.accept()
	if r := sc2.expect(protocol.TypeResume); len(r.Positions) != 1 || r.Positions[0].Seq != 5 {
		t.Fatalf("resume %+v, want %s at 5", r, convID)
	}
	if _, ok := <-sc.frames; ok {
		// drain: the old socket must end (the client closed it)
		for range sc.frames {
		}
	}
}

func TestReplacedStopsReconnecting(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	sc.closeWith(protocol.CloseReplaced)
	if e := next[*Error](t, c); e.Code != CodeReplaced {
		t.Fatalf("error code %q, want %q", e.Code, CodeReplaced)
	}
	// The decision is in the event that reports the loss: down for good,
	// no retry scheduled (whatever the machine's speed).
	if ev := next[*Connection](t, c); ev.Up || ev.Err == nil || ev.RetryIn != 0 {
		t.Fatalf("connection event %+v, want down with the cause and no retry", ev)
	}
	// And no dial comes meanwhile (a window that can only miss a bug, not
	// invent one).
	select {
	case <-fc.conns:
		t.Fatal("reconnected after being replaced")
	case <-time.After(300 * time.Millisecond):
	}
}

func TestMissingKeysSealsAgainUnderTheSameID(t *testing.T) {
	alice, bob, bob2 := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1"), newDevice(t, "bob", "b2")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()

	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "hi both"})
	f := sc.expect(protocol.TypeSend)
	if got := f.Envelope.Devices(); slices.Contains(got, bob2.id) {
		t.Fatalf("first envelope already for %v", got)
	}
	dir.set(convID, alice.recipient(), bob.recipient(), bob2.recipient()) // bob added a device
	sc.send(protocol.Frame{Type: protocol.TypeError, ID: id, Code: protocol.CodeMissingKeys,
		Message: "missing", MissingDevices: []string{bob2.id}})
	for {
		f = sc.expect(protocol.TypeSend)
		if slices.Contains(f.Envelope.Devices(), bob2.id) {
			break
		}
	}
	if f.ID != id {
		t.Fatalf("resealed under %q, want %q", f.ID, id)
	}
	ad := e2ee.AssociatedData{Conversation: convID, SenderDevice: alice.id, ClientMessageID: id}
	if _, err := e2ee.Open(f.Envelope, ad, bob2.id, bob2.key); err != nil {
		t.Fatalf("new device cannot open: %v", err)
	}
}

func TestNotMemberFails(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient())
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, dir, fc.URL)
	clk := newFakeClock(t)
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()
	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "x"})
	sc.expect(protocol.TypeSend)
	sc.send(protocol.Frame{Type: protocol.TypeError, ID: id, Code: protocol.CodeNotMember, Message: "no"})
	for {
		st := next[*Status](t, c)
		if st.State == StateFailed {
			var pe *protocol.Error
			if !errors.As(st.Err, &pe) || pe.Code != protocol.CodeNotMember {
				t.Fatalf("failed with %v", st.Err)
			}
			break
		}
	}
	elapse(t, c, clk, 20*cfg.ResendInterval) // past the longest resend backoff
	noneOf(t, written(t, c, sc), protocol.TypeSend, "resent after failing")
}

func TestReceiptsMoveTicksAndAcksAreCumulative(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, dir, fc.URL)
	cfg.AutoDeliveredAck = true
	cfg.AckDelay = 300 * time.Millisecond
	clk := newFakeClock(t) // the three messages fall in one window: time moves only below
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()

	for i := int64(1); i <= 3; i++ {
		sc.send(message(t, convID, i, bob, "m", alice))
	}
	messages(t, c, 3) // handed over: the ack is scheduled
	noneOf(t, written(t, c, sc), protocol.TypeDelivered, "acked before AckDelay")
	elapse(t, c, clk, cfg.AckDelay-time.Millisecond)
	noneOf(t, written(t, c, sc), protocol.TypeDelivered, "acked before AckDelay")
	clk.Advance(time.Millisecond)
	if a := sc.expect(protocol.TypeDelivered); a.Seq != 3 || a.Conversation != convID {
		t.Fatalf("delivered ack %+v, want seq 3", a)
	}
	elapse(t, c, clk, 10*cfg.AckDelay)
	noneOf(t, written(t, c, sc), protocol.TypeDelivered, "debounced: one ack for three")
	c.MarkRead(convID, 3)
	elapse(t, c, clk, cfg.AckDelay)
	if a := sc.expect(protocol.TypeRead); a.Seq != 3 {
		t.Fatalf("read ack %+v", a)
	}

	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "tick tock"})
	sc.expect(protocol.TypeSend)
	sc.send(protocol.Frame{Type: protocol.TypeStored, ID: id, Conversation: convID, Seq: 4})
	// Alice's own other device acking changes nothing; bob's does.
	sc.send(protocol.Frame{Type: protocol.TypeReceipt, Conversation: convID, Kind: ReceiptRead, Sender: "alice", SenderDevice: "a2", Seq: 4})
	sc.send(protocol.Frame{Type: protocol.TypeReceipt, Conversation: convID, Kind: ReceiptDelivered, Sender: "bob", SenderDevice: bob.id, Seq: 4})
	sc.send(protocol.Frame{Type: protocol.TypeReceipt, Conversation: convID, Kind: ReceiptRead, Sender: "bob", SenderDevice: bob.id, Seq: 4})
	var got []State
	for len(got) < 4 {
		st := next[*Status](t, c)
		got = append(got, st.State)
	}
	if want := []State{StateSent, StateStored, StateDelivered, StateRead}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
}

func TestReceiptBeforeStoredStillTicks(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()
	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "fast reader"})
	sc.expect(protocol.TypeSend)
	sc.send(protocol.Frame{Type: protocol.TypeReceipt, Conversation: convID, Kind: ReceiptDelivered, Sender: "bob", SenderDevice: bob.id, Seq: 1})
	sc.send(protocol.Frame{Type: protocol.TypeStored, ID: id, Conversation: convID, Seq: 1})
	var got []State
	for len(got) < 3 {
		got = append(got, next[*Status](t, c).State)
	}
	if want := []State{StateSent, StateStored, StateDelivered}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
}

func TestTypingAndAgentFrames(t *testing.T) {
	alice, agent := newDevice(t, "alice", "a1"), newDevice(t, "bot", "bot-d")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()

	c.Typing(convID, "typing")
	if f := sc.expect(protocol.TypeTyping); f.State != "typing" || f.Conversation != convID {
		t.Fatalf("typing frame %+v", f)
	}
	sc.send(protocol.Frame{Type: protocol.TypeTyping, Conversation: convID, Sender: "alice", State: "typing"}) // own echo: dropped
	sc.send(protocol.Frame{Type: protocol.TypeTyping, Conversation: convID, Sender: "bot", State: "thinking"})
	if ty := next[*Typing](t, c); ty.State != "thinking" || ty.User != "bot" {
		t.Fatalf("typing event %+v", ty)
	}

	plain, _ := e2ee.Content{Text: "Hel"}.Marshal()
	env, err := e2ee.Seal(plain, e2ee.PartialAD(convID, agent.id, 7, 0), []e2ee.Recipient{alice.recipient()})
	if err != nil {
		t.Fatal(err)
	}
	// The connector may not name the agent's device on agent frames: the
	// client knows it from the agent's messages.
	sc.send(message(t, convID, 1, agent, "earlier", alice))
	next[*Message](t, c)
	sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentPartial, Conversation: convID, Agent: "bot",
		ReplyTo: 7, Index: 0, Envelope: env})
	sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentDone, Conversation: convID, Agent: "bot", SenderDevice: agent.id, ReplyTo: 7, ID: "r1"})
	sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentError, Conversation: convID, Agent: "bot", SenderDevice: agent.id, ReplyTo: 8, Code: "model_error", Message: "down", Retryable: true})
	p := next[*AgentActivity](t, c)
	if p.Kind != AgentPartial || p.Content.Text != "Hel" || p.ReplyTo != 7 {
		t.Fatalf("partial %+v", p)
	}
	if d := next[*AgentActivity](t, c); d.Kind != AgentDone || d.ID != "r1" {
		t.Fatalf("done %+v", d)
	}
	if e := next[*AgentActivity](t, c); e.Kind != AgentError || e.Code != "model_error" || !e.Retryable {
		t.Fatalf("error %+v", e)
	}
}

func TestResyncHintResumesEveryConversation(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	sc.expect(protocol.TypeResume) // on connect
	c.Track("x", 3)
	c.Track("y", 9)
	for range 2 {
		sc.expect(protocol.TypeSync)
	}
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: "x", LastSeq: 3})
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: "y", LastSeq: 9})
	sc.send(protocol.Frame{Type: protocol.TypeResync})
	r := sc.expect(protocol.TypeResume)
	if want := []protocol.Position{{Conversation: "x", Seq: 3}, {Conversation: "y", Seq: 9}}; !slices.Equal(r.Positions, want) {
		t.Fatalf("resync resumes %+v, want %+v", r.Positions, want)
	}
}

func TestIdleSync(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.IdleSync = 100 * time.Millisecond
	c := dial(t, cfg)
	sc := fc.accept()
	c.Track(convID, 0)
	sc.expect(protocol.TypeSync)
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: convID})
	if f := sc.expect(protocol.TypeSync); f.Conversation != convID {
		t.Fatalf("idle sync %+v", f)
	}
}

func TestUnauthorizedDial(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "other")
	_, err := Dial(context.Background(), testConfig(alice, nil, fc.URL))
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err %v, want ErrUnauthorized", err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	before := runtime.NumGoroutine() // the fake connector's listener included
	c, err := Dial(context.Background(), testConfig(alice, &mapDirectory{}, fc.URL))
	if err != nil {
		t.Fatal(err)
	}
	sc := fc.accept()
	c.Track(convID, 0)
	sc.expect(protocol.TypeSync)
	c.Close()
	if _, ok := <-c.Events(); ok {
		for range c.Events() {
		}
	}
	if err := c.Track(convID, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	sc.ws.Close()
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling, not waiting for an outcome
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestKeepAlivePingsAQuietSocket(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.KeepAlive = 50 * time.Millisecond
	dial(t, cfg)
	sc := fc.accept()
	for range 2 {
		sc.expect(protocol.TypePing)
	}
}

func TestSilentConnectorIsLeft(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc1, fc2 := newFakeConnector(t, "tok"), newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc1.URL, fc2.URL)
	cfg.ReadTimeout = 200 * time.Millisecond // fc1 never answers anything
	c := dial(t, cfg)
	fc1.accept()
	fc2.accept()
	for {
		if ev := next[*Connection](t, c); ev.Up && ev.URL == fc2.URL {
			return
		}
	}
}

func TestNotMemberOfASyncedConversationStopsTrackingIt(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	clk := newFakeClock(t) // the sync of "other" stays out: no timeout resends it
	cfg.clock = clk
	c := dial(t, cfg)
	sc := fc.accept()
	c.Track("gone", 0)
	sc.expect(protocol.TypeSync)
	sc.send(protocol.Frame{Type: protocol.TypeError, Conversation: "gone", Code: protocol.CodeNotMember, Message: "not a member"})
	if e := next[*Error](t, c); e.Code != protocol.CodeNotMember || e.Conversation != "gone" {
		t.Fatalf("error %+v", e)
	}
	c.Sync("other")
	sc.expect(protocol.TypeSync)
	sc.send(protocol.Frame{Type: protocol.TypeResync})
	if r := sc.expect(protocol.TypeResume); len(r.Positions) != 1 || r.Positions[0].Conversation != "other" {
		t.Fatalf("resync resumed %+v, want only \"other\"", r.Positions)
	}
}

// Receipt events lost on the way (a Redis restart): the next sync asks
// for the members' cursors, and the batch's cursors move the ticks.
func TestSyncedCursorsRecoverLostReceipts(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()
	id, _ := c.Send(context.Background(), convID, e2ee.Content{Text: "did you get it?"})
	sc.expect(protocol.TypeSend)
	sc.send(protocol.Frame{Type: protocol.TypeStored, ID: id, Conversation: convID, Seq: 1})
	if st := next[*Status](t, c); st.State != StateSent {
		t.Fatalf("state %v", st.State)
	}
	if st := next[*Status](t, c); st.State != StateStored {
		t.Fatalf("state %v", st.State)
	}
	if err := c.Sync(convID); err != nil {
		t.Fatal(err)
	}
	s := sc.expect(protocol.TypeSync)
	if !s.Receipts {
		t.Fatalf("sync %+v does not ask for receipts", s)
	}
	own := message(t, convID, 1, alice, "did you get it?", alice, bob)
	own.ID = id
	sc.send(protocol.Frame{Type: protocol.TypeBatch, Conversation: convID, Messages: []protocol.Frame{own}, LastSeq: 1,
		Cursors: []protocol.Cursor{{User: "alice", Delivered: 1, Read: 1}, {User: "bob", Delivered: 1, Read: 1}}})
	var got []State
	for len(got) < 2 {
		got = append(got, next[*Status](t, c).State)
	}
	if want := []State{StateDelivered, StateRead}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v (bob's cursor; alice's own is no tick)", got, want)
	}
}
