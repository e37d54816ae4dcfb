package function

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/usage"
)

// fixture is an agent-invoke instance over a world, an in-memory ledger
// and a scripted model.
type fixture struct {
	f     *Function
	w     *world
	led   *memLedger
	used  *usage.Memory
	model *scriptModel
	agent agent.Key
	alice []device
	bob   []device
}

func newFixture(t *testing.T, tune func(*config), replies ...func(context.Context, func(string)) (string, error)) *fixture {
	t.Helper()
	w := newWorld(t)
	fx := &fixture{w: w, led: newMemLedger(), used: usage.NewMemory(), model: &scriptModel{replies: replies}}
	fx.alice = w.addUser("alice", "alice-phone", "alice-laptop")
	fx.bob = w.addUser("bob", "bob-phone")
	fx.agent = w.addAgent("bot")
	cfg := config{
		Keys:  map[string]agent.Key{"bot": fx.agent},
		Model: modelConfig{Endpoints: []endpoint{{BaseURL: "http://first/v1", Model: "m"}}, SystemPrompt: "be brief", Context: 20},
		Lease: time.Minute, Sweep: time.Hour, Hold: 5 * time.Second, CallTimeout: 10 * time.Second,
		MaxCalls: 4, Retries: 2, PartialInterval: 0, ConfirmTimeout: 300 * time.Millisecond,
		EndpointTimeout: 5 * time.Second, BudgetPeriod: usage.PeriodMonth, ToolTimeout: 5 * time.Second, MaxToolSteps: 8,
	}
	if tune != nil {
		tune(&cfg)
	}
	fx.f = New()
	fx.f.start(cfg, fx.led, fx.used, w.log, fx.model, w, nil, nil)
	w.answers = func(e event.Event) {
		if _, err := fx.f.HandleEvent(context.Background(), e); err != nil && !errors.Is(err, errNotStarted) {
			t.Errorf("persist's answer %s: %v", e.Type(), err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fx.f.Stop(ctx)
	})
	t.Cleanup(w.wg.Wait) // runs first: answers on their way arrive before Stop
	return fx
}

// handle sends the invoke of the bot for m and fails on an error.
func (fx *fixture) handle(t *testing.T, m events.Message) {
	t.Helper()
	if _, err := fx.f.HandleEvent(context.Background(), fx.w.invoke(t, "bot", m)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

// openAs decrypts a stored message as d.
func openAs(t *testing.T, m events.Message, d device) string {
	t.Helper()
	plain, err := e2ee.Open(m.Envelope, e2ee.AssociatedData{Conversation: m.ConversationID, SenderDevice: m.SenderDevice,
		ClientMessageID: m.ClientMessageID}, d.id, d.key)
	if err != nil {
		t.Fatalf("device %s cannot open seq %d: %v", d.id, m.Seq, err)
	}
	c, err := e2ee.UnmarshalContent(plain)
	if err != nil {
		t.Fatal(err)
	}
	return c.Text
}

func (fx *fixture) finished(k callKey) bool {
	st, _ := fx.led.State(context.Background(), k)
	return st.Finished
}

// One invoke: thinking, partials in index order (each readable by every
// member device), one reply sealed for every member device with the next
// seq, done, finished; and the context the model saw.
func TestTurnReplies(t *testing.T) {
	fx := newFixture(t, nil, chunks("Hel", "lo ", "there"))
	fx.w.say("alice", "earlier question")
	hi := fx.w.say("bob", "hi bot")
	fx.handle(t, hi)

	k := callKey{Conversation: "c-1", Seq: 2, Agent: "bot"}
	eventually(t, "the call finished", func() bool { return fx.finished(k) })
	replies := fx.w.stored("bot")
	if len(replies) != 1 {
		t.Fatalf("replies stored = %d, want 1", len(replies))
	}
	r := replies[0]
	if r.Seq != 3 || r.ClientMessageID != "r-2" || r.SenderDevice != "dv-bot" {
		t.Errorf("reply = seq %d id %s device %s, want 3, r-2, dv-bot", r.Seq, r.ClientMessageID, r.SenderDevice)
	}
	for _, d := range append(append(slices.Clone(fx.alice), fx.bob...), device{id: "dv-bot", key: fx.agent.Private}) {
		if got := openAs(t, r, d); got != "Hello there" {
			t.Errorf("%s reads %q, want %q", d.id, got, "Hello there")
		}
	}
	parts := fx.w.posted(events.TypeAgentPartial)
	var text string
	for i, e := range parts {
		p, err := events.Decode[events.AgentPartial](e)
		if err != nil || p.Index != i || p.ReplyTo != 2 {
			t.Fatalf("partial %d = %+v %v", i, p, err)
		}
		plain, err := e2ee.Open(p.Envelope, e2ee.PartialAD("c-1", "dv-bot", 2, i), "bob-phone", fx.bob[0].key)
		if err != nil {
			t.Fatalf("partial %d does not open for bob: %v", i, err)
		}
		c, _ := e2ee.UnmarshalContent(plain)
		text += c.Text
	}
	if len(parts) != 3 || text != "Hello there" {
		t.Errorf("partials = %d making %q, want 3 making %q", len(parts), text, "Hello there")
	}
	if n := len(fx.w.posted(events.TypeAgentDone)); n != 1 {
		t.Errorf("done events = %d, want 1", n)
	}
	var states []string
	for _, e := range fx.w.posted(events.TypeTyping) {
		ty, _ := events.Decode[events.Typing](e)
		states = append(states, ty.State)
	}
	if strings.Join(states, ",") != "thinking,paused" {
		t.Errorf("typing = %v, want thinking then paused", states)
	}
	req := fx.model.requests[0]
	var got []string
	for _, m := range req.Messages {
		got = append(got, m.Role+":"+m.Content)
	}
	if want := "system:be brief|user:earlier question|user:hi bot"; strings.Join(got, "|") != want {
		t.Errorf("model messages = %q, want %q", strings.Join(got, "|"), want)
	}

	// A redelivery after the end calls nothing and posts nothing.
	before := len(fx.w.events)
	fx.handle(t, hi)
	if fx.model.count() != 1 || len(fx.w.events) != before {
		t.Errorf("after a redelivery: %d model requests, %d new events; want 1, 0", fx.model.count(), len(fx.w.events)-before)
	}

	// The next turn sees the agent's reply as the assistant's.
	fx.handle(t, fx.w.say("alice", "and now?"))
	eventually(t, "the second call finished", func() bool { return fx.finished(callKey{"c-1", 4, "bot"}) })
	var roles []string
	for _, m := range fx.model.requests[1].Messages {
		roles = append(roles, m.Role)
	}
	if want := "system,user,user,assistant,user"; strings.Join(roles, ",") != want {
		t.Errorf("roles = %v, want %s", roles, want)
	}
}

// The context is the AGENT_CONTEXT_MESSAGES messages before the one
// answered, oldest first, without those not sealed for the agent's device.
// Partials coalesced by AGENT_PARTIAL_INTERVAL: what is still buffered
// when the answer ends goes out before the reply (route drops partials
// that come after done).
func TestTurnLastPartialBeforeReply(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.PartialInterval = time.Hour }, chunks("Hel", "lo ", "there"))
	m := fx.w.say("bob", "hi bot")
	fx.handle(t, m)
	eventually(t, "the call finished", func() bool { return fx.finished(callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}) })
	fx.w.mu.Lock()
	lastPartial, reply := -1, -1
	for i, e := range fx.w.events {
		switch e.Type() {
		case events.TypeAgentPartial:
			lastPartial = i
		case events.TypeMessageSent:
			if reply < 0 {
				reply = i
			}
		}
	}
	fx.w.mu.Unlock()
	if lastPartial < 0 || reply < 0 || lastPartial > reply {
		t.Errorf("the last partial is event %d, the reply %d: want the partials first", lastPartial, reply)
	}
}

func TestTurnHistory(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Model.Context = 3 }, chunks("ok"))
	fx.w.say("alice", "one") // outside the window
	fx.w.say("bob", "two")
	fx.w.sayWithout("alice", "three", "dv-bot") // sent before the agent could read
	fx.w.say("bob", "four")
	m := fx.w.say("alice", "five") // the one answered
	fx.handle(t, m)
	eventually(t, "the call finished", func() bool { return fx.finished(callKey{"c-1", m.Seq, "bot"}) })
	var got []string
	for _, cm := range fx.model.requests[0].Messages {
		got = append(got, cm.Role+":"+cm.Content)
	}
	if want := "system:be brief|user:two|user:four|user:five"; strings.Join(got, "|") != want {
		t.Errorf("model messages = %q, want %q", strings.Join(got, "|"), want)
	}
}

// Redeliveries while the call runs — in this instance or another one —
// never call the model again.
func TestTurnRedeliveredWhileRunning(t *testing.T) {
	release := make(chan struct{})
	fx := newFixture(t, func(c *config) { c.Hold = 10 * time.Millisecond }, blocking(release, "done"))
	m := fx.w.say("alice", "hello")
	fx.handle(t, m)
	eventually(t, "the request reached the model", func() bool { return fx.model.count() == 1 })
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { fx.f.HandleEvent(context.Background(), fx.w.invoke(t, "bot", m)) })
	}
	wg.Wait()
	// Another instance on the same ledger: the lease is held, nothing to do.
	other := New()
	other.start(fx.f.deps.Load().cfg, fx.led, fx.used, fx.w.log, fx.model, fx.w, nil, nil)
	defer other.Stop(context.Background())
	if _, err := other.HandleEvent(context.Background(), fx.w.invoke(t, "bot", m)); err != nil {
		t.Fatal(err)
	}
	close(release)
	eventually(t, "finished", func() bool { return fx.finished(callKey{"c-1", 1, "bot"}) })
	if got := fx.model.count(); got != 1 {
		t.Errorf("model requests = %d, want 1", got)
	}
	if got := len(fx.w.stored("bot")); got != 1 {
		t.Errorf("replies = %d, want 1", got)
	}
}

// A call another instance claimed and then lost (its lease ran out):
// without the sent marker it is answered (the model was never called);
// with it, it fails visibly as interrupted and the model is not called.
func TestTurnTakeover(t *testing.T) {
	for _, c := range []struct {
		name      string
		sent      bool
		wantCalls int
		wantReply int
		wantCode  string
	}{
		{"request never sent", false, 1, 1, ""},
		{"request may have been sent", true, 0, 0, codeInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, func(c *config) { c.Sweep = 20 * time.Millisecond }, chunks("fine"))
			m := fx.w.say("alice", "hello")
			k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
			ctx := context.Background()
			fx.led.Claim(ctx, k, fx.w.invokeData(t, "bot", m), "dead-instance", time.Now().Add(-time.Second))
			if c.sent {
				fx.led.MarkSent(ctx, k, 1)
			}
			// The sweeper finds it (no redelivery needed).
			eventually(t, "the call finished", func() bool { return fx.finished(k) })
			if got := fx.model.count(); got != c.wantCalls {
				t.Errorf("model requests = %d, want %d", got, c.wantCalls)
			}
			if got := len(fx.w.stored("bot")); got != c.wantReply {
				t.Errorf("replies = %d, want %d", got, c.wantReply)
			}
			errs := fx.w.posted(events.TypeAgentError)
			if c.wantCode == "" && len(errs) != 0 {
				t.Errorf("agent.error posted: %v", errs)
			}
			if c.wantCode != "" {
				if len(errs) != 1 {
					t.Fatalf("agent.error events = %d, want 1", len(errs))
				}
				d, _ := events.Decode[events.AgentError](errs[0])
				if d.Code != c.wantCode || d.ReplyTo != m.Seq || !d.Retryable || d.Message == "" {
					t.Errorf("agent.error = %+v, want code %s", d, c.wantCode)
				}
			}
			if st, _ := fx.led.State(ctx, k); st.Latest.N != 2 || st.Latest.Owner != fx.f.owner {
				t.Errorf("attempt = %+v, want 2 by this instance", st.Latest)
			}
		})
	}
}

// A call whose previous attempt died mid-answer, with an endpoint that
// stores completions: the takeover reads the stored answer and replies
// with it, without a model request; when the endpoint has nothing under
// the id by the call timeout, the call fails visibly as interrupted.
func TestTurnResumesStoredAnswer(t *testing.T) {
	for _, c := range []struct {
		name      string
		stored    map[string]string
		wantReply string
		wantCode  string
	}{
		{"stored answer", map[string]string{"cmpl-7": "the stored answer"}, "the stored answer", ""},
		{"nothing stored", map[string]string{}, "", codeInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, func(c *config) {
				c.Sweep, c.CallTimeout, c.Model.Store = 20*time.Millisecond, 1500*time.Millisecond, true
			}, chunks("never asked"))
			fx.model.stored = c.stored
			m := fx.w.say("alice", "hello")
			k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
			ctx := context.Background()
			fx.led.Claim(ctx, k, fx.w.invokeData(t, "bot", m), "dead-instance", time.Now().Add(-time.Second))
			fx.led.MarkSent(ctx, k, 1)
			fx.led.MarkStarted(ctx, k, 1, "cmpl-7", "http://first/v1")
			eventually(t, "the call finished", func() bool { return fx.finished(k) })
			if got := fx.model.count(); got != 0 {
				t.Errorf("model requests = %d, want 0", got)
			}
			if fx.model.retrievals == 0 {
				t.Error("the stored answer was never read")
			}
			replies := fx.w.stored("bot")
			errs := fx.w.posted(events.TypeAgentError)
			if c.wantReply != "" {
				if len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != c.wantReply || len(errs) != 0 {
					t.Errorf("replies %d, agent.errors %d; want the stored answer once", len(replies), len(errs))
				}
				return
			}
			if len(replies) != 0 || len(errs) != 1 {
				t.Fatalf("replies %d, agent.errors %d; want 0 and 1", len(replies), len(errs))
			}
			if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != c.wantCode {
				t.Errorf("agent.error code %q, want %q", d.Code, c.wantCode)
			}
		})
	}
}

// A recorded reply whose delivery was cut off is delivered by the next
// attempt, without a model call: the same envelope, stored once.
func TestTurnDeliversRecordedReply(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Sweep = 20 * time.Millisecond }, chunks("never"))
	m := fx.w.say("alice", "hello")
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	ctx := context.Background()
	id := agent.Self{ID: "bot", Device: "dv-bot", Key: fx.agent.Private}
	env, _ := id.SealReply("c-1", 1, e2ee.Content{Text: "recorded"}, fx.w.recipients())
	fx.led.Claim(ctx, k, fx.w.invokeData(t, "bot", m), "dead", time.Now().Add(-time.Second))
	fx.led.MarkSent(ctx, k, 1)
	fx.led.Decide(ctx, k, outcome{State: stateReplied, Envelope: env, Attempt: 1})
	eventually(t, "finished", func() bool { return fx.finished(k) })
	replies := fx.w.stored("bot")
	if fx.model.count() != 0 || len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != "recorded" {
		t.Errorf("model requests %d, replies %d; want 0 and the recorded one", fx.model.count(), len(replies))
	}
	if n := len(fx.w.posted(events.TypeAgentDone)); n != 1 {
		t.Errorf("done events = %d, want 1", n)
	}
}

// A member's device added while the model answered: the reply, sealed for
// the invoke's audience, is refused; the rejection carries the new
// audience, the agent seals it again, and it is stored once — readable
// by the new device too — then done.
func TestTurnResealsForNewDevice(t *testing.T) {
	release := make(chan struct{})
	fx := newFixture(t, func(c *config) { c.Hold = 10 * time.Millisecond }, blocking(release, "for everyone"))
	m := fx.w.say("alice", "hello")
	fx.handle(t, m)
	eventually(t, "request", func() bool { return fx.model.count() == 1 })
	k := callKey{Conversation: "c-1", Seq: 1, Agent: "bot"}
	newDev := fx.w.addUser("carol", "carol-phone")[0]
	close(release)
	eventually(t, "finished", func() bool { return fx.finished(k) })
	replies := fx.w.stored("bot")
	if len(replies) != 1 {
		t.Fatalf("replies = %d, want 1", len(replies))
	}
	if got := openAs(t, replies[0], newDev); got != "for everyone" {
		t.Errorf("carol reads %q", got)
	}
	if sent, done := len(fx.w.posted(events.TypeMessageSent)), len(fx.w.posted(events.TypeAgentDone)); sent != 2 || done != 1 {
		t.Errorf("replies posted %d, done %d; want 2 (sealed again once) and 1", sent, done)
	}
	if st, _ := fx.led.State(context.Background(), k); fx.model.count() != 1 || st.Outcome == nil || st.Outcome.State != stateReplied {
		t.Errorf("model requests %d, outcome %+v", fx.model.count(), st.Outcome)
	}
}

// persist's answer to the reply was lost: a sweep takes the call over
// once AGENT_CONFIRM_TIMEOUT has passed, posts the same reply again, and
// persist's answer to that finishes it — one stored reply, one model call.
func TestTurnRepostsWhenTheAnswerIsLost(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.Sweep = 20 * time.Millisecond; c.ConfirmTimeout = 50 * time.Millisecond }, chunks("hi"))
	fx.w.mu.Lock()
	fx.w.drop = 1
	fx.w.mu.Unlock()
	m := fx.w.say("alice", "hello")
	fx.handle(t, m)
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	eventually(t, "finished", func() bool { return fx.finished(k) })
	if sent := len(fx.w.posted(events.TypeMessageSent)); sent != 2 || len(fx.w.stored("bot")) != 1 || fx.model.count() != 1 {
		t.Errorf("posted %d, stored %d, model requests %d; want 2, 1, 1", sent, len(fx.w.stored("bot")), fx.model.count())
	}
	if st, _ := fx.led.State(context.Background(), k); st.Latest.N != 2 {
		t.Errorf("attempts = %d, want 2 (one takeover)", st.Latest.N)
	}
}

// A reply persist refuses with nothing to seal it for (no audience in the
// rejection) ends as agent.error not_stored.
func TestTurnReplyNotStored(t *testing.T) {
	fx := newFixture(t, nil, chunks("hi"))
	m := fx.w.say("alice", "hello")
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	id := agent.Self{ID: "bot", Device: "dv-bot", Key: fx.agent.Private}
	env, _ := id.SealReply("c-1", m.Seq, e2ee.Content{Text: "hi"}, fx.w.recipients())
	ctx := context.Background()
	fx.led.Claim(ctx, k, fx.w.invokeData(t, "bot", m), "me", time.Now().Add(time.Minute))
	fx.led.Decide(ctx, k, outcome{State: stateReplied, Envelope: env, Attempt: 1})
	rej, _ := events.NewMessageRejected("c-1", "bot", "dv-bot", events.MessageRejected{ClientMessageID: "r-1",
		Code: "not_member", Reason: "you are not a member of this conversation"})
	rej.SetExtension(events.ExtAgentKind, "model")
	if _, err := fx.f.HandleEvent(ctx, rej); err != nil {
		t.Fatal(err)
	}
	errs := fx.w.posted(events.TypeAgentError)
	if len(errs) != 1 || !fx.finished(k) {
		t.Fatalf("agent.errors %d, finished %v; want 1, true", len(errs), fx.finished(k))
	}
	if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != codeNotStored || d.ReplyTo != m.Seq {
		t.Errorf("agent.error = %+v", d)
	}
	// A redelivered answer about the finished call does nothing.
	if _, err := fx.f.HandleEvent(ctx, rej); err != nil || len(fx.w.posted(events.TypeAgentError)) != 1 {
		t.Errorf("redelivery: %v, %d errors", err, len(fx.w.posted(events.TypeAgentError)))
	}
}

// Model errors and refusals end as agent.error with the right code; a
// refused request is sent again and may then succeed.
func TestTurnModelErrors(t *testing.T) {
	rateLimited := &modelError{Code: codeRateLimited, Message: "busy", Refused: true, RetryAfter: time.Millisecond, Retryable: true, Err: errors.New("429")}
	broken := &modelError{Code: codeModelError, Message: "broke off", Retryable: true, Err: errors.New("EOF")}
	for _, c := range []struct {
		name      string
		replies   []func(context.Context, func(string)) (string, error)
		wantCalls int
		wantCode  string
	}{
		{"429 then an answer", []func(context.Context, func(string)) (string, error){failing(rateLimited), chunks("ok")}, 2, ""},
		{"429 every time", []func(context.Context, func(string)) (string, error){failing(rateLimited)}, 3, codeRateLimited},
		{"error answer: not sent again", []func(context.Context, func(string)) (string, error){failing(broken), chunks("never")}, 1, codeModelError},
		{"empty answer", []func(context.Context, func(string)) (string, error){chunks("  ")}, 1, codeEmptyAnswer},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil, c.replies...)
			m := fx.w.say("alice", "hello")
			fx.handle(t, m)
			eventually(t, "finished", func() bool { return fx.finished(callKey{"c-1", 1, "bot"}) })
			if got := fx.model.count(); got != c.wantCalls {
				t.Errorf("requests = %d, want %d", got, c.wantCalls)
			}
			errs := fx.w.posted(events.TypeAgentError)
			if c.wantCode == "" {
				if len(errs) != 0 || len(fx.w.stored("bot")) != 1 {
					t.Errorf("errors %d, replies %d; want 0, 1", len(errs), len(fx.w.stored("bot")))
				}
				return
			}
			if len(errs) != 1 || len(fx.w.stored("bot")) != 0 {
				t.Fatalf("errors %d, replies %d; want 1, 0", len(errs), len(fx.w.stored("bot")))
			}
			if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != c.wantCode {
				t.Errorf("code = %s, want %s", d.Code, c.wantCode)
			}
		})
	}
}

// Stopping hands back a call still waiting for a model slot (no request
// sent: another instance answers it), and interrupts one in flight
// visibly once the grace is over.
func TestStopHandsBackAndInterrupts(t *testing.T) {
	fx := newFixture(t, func(c *config) { c.MaxCalls = 1; c.Hold = time.Millisecond }, blocking(make(chan struct{}), ""))
	a := fx.w.say("alice", "first")
	b := fx.w.say("alice", "second")
	fx.handle(t, a)
	eventually(t, "a's request", func() bool { return fx.model.count() == 1 })
	fx.handle(t, b)
	kb := callKey{"c-1", b.Seq, "bot"}
	eventually(t, "b's turn waits for a slot", func() bool { st, _ := fx.led.State(context.Background(), kb); return st.Exists })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second) // grace 1 s
	defer cancel()
	if err := fx.f.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fx.model.count(); got != 1 {
		t.Errorf("model requests = %d, want 1", got)
	}
	ka := callKey{"c-1", a.Seq, "bot"}
	sta, _ := fx.led.State(context.Background(), ka)
	stb, _ := fx.led.State(context.Background(), kb)
	if !sta.Finished || sta.Outcome == nil || sta.Outcome.Code != codeInterrupted {
		t.Errorf("a = %+v, want finished as interrupted", sta)
	}
	if stb.Finished || stb.Sent || stb.LeaseUntil.After(time.Now()) {
		t.Errorf("b = %+v, want open, not sent, lease handed back", stb)
	}
}

// An agent this runtime has no key for gets a visible not_configured.
func TestHandleWithoutKey(t *testing.T) {
	fx := newFixture(t, nil, chunks("x"))
	fx.w.addAgent("stranger")
	m := fx.w.say("alice", "hello")
	if _, err := fx.f.HandleEvent(context.Background(), fx.w.invoke(t, "stranger", m)); err != nil {
		t.Fatal(err)
	}
	errs := fx.w.posted(events.TypeAgentError)
	if len(errs) != 1 || fx.model.count() != 0 {
		t.Fatalf("errors %d, model requests %d; want 1, 0", len(errs), fx.model.count())
	}
	if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != codeNotConfigured || d.AgentID != "stranger" {
		t.Errorf("agent.error = %+v", d)
	}
}

func TestHandleRejects(t *testing.T) {
	fx := newFixture(t, nil, chunks("x"))
	m := fx.w.say("alice", "hello")
	wrongType := fx.w.invoke(t, "bot", m)
	wrongType.SetType(events.TypeAgentDone)
	otherAgent := fx.w.invoke(t, "bot", m)
	otherAgent.SetExtension(events.ExtAgentID, "someone-else")
	noData := fx.w.invoke(t, "bot", m)
	noData.SetData("application/json", map[string]any{"agentId": "bot"})
	for _, c := range []struct {
		name string
		e    event.Event
	}{{"wrong type", wrongType}, {"agentid mismatch", otherAgent}, {"bad data", noData}} {
		reply, err := fx.f.HandleEvent(context.Background(), c.e)
		var r *cehttp.Result
		if !errors.As(err, &r) || r.StatusCode != http.StatusBadRequest || reply != nil {
			t.Errorf("%s: %v, reply %v; want 400 (dead-lettered, not retried)", c.name, err, reply)
		}
	}
	if fx.model.count() != 0 || len(fx.w.events) != 0 {
		t.Errorf("a rejected invoke did something: %d requests, %d events", fx.model.count(), len(fx.w.events))
	}
}

// A key that is not the one registered for the agent's device: no model
// call, a visible not_configured, and the call is closed rather than
// swept again and again.
func TestTurnUnregisteredAgent(t *testing.T) {
	ghost, _ := e2ee.GenerateKey()
	fx := newFixture(t, func(c *config) { c.Keys["ghost"] = agent.Key{Agent: "ghost", Private: ghost} }, chunks("x"))
	fx.w.addAgent("ghost") // registered with another key than the runtime's
	m := fx.w.say("alice", "hello")
	if _, err := fx.f.HandleEvent(context.Background(), fx.w.invoke(t, "ghost", m)); err != nil {
		t.Fatal(err)
	}
	k := callKey{"c-1", m.Seq, "ghost"}
	eventually(t, "the call is closed", func() bool { return fx.finished(k) })
	if st, _ := fx.led.State(context.Background(), k); fx.model.count() != 0 || st.Outcome == nil || st.Outcome.Code != codeNotConfigured {
		t.Errorf("model requests %d, outcome %+v; want 0 and not_configured", fx.model.count(), st.Outcome)
	}
}
