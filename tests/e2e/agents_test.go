package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// agentPlatform is the platform with two agents: "helper", a model agent
// run by agent-invoke against a local OpenAI-compatible test server, and
// "calc", the example agent run by its own function (calc-agent). Each
// runtime holds only its own agent's private key.
type agentPlatform struct {
	*env
	model *modeltest.Server
	owner *person
	keys  map[string]*e2ee.PrivateKey // the agents' keys, to inspect what they sealed
}

// agentFunctions are the functions an agent conversation needs.
var agentFunctions = []string{"accounts", "persist", "route", "agent-invoke", "calc-agent", "deadletter"}

func startAgents(t *testing.T, invokeEnv map[string]string) *agentPlatform {
	t.Helper()
	return startAgentsWith(t, invokeEnv)
}

// startAgentsWith is startAgents with more functions running (media, say).
func startAgentsWith(t *testing.T, invokeEnv map[string]string, more ...string) *agentPlatform {
	t.Helper()
	return startAgentsEnv(t, invokeEnv, nil, more...)
}

// startAgentsEnv is startAgentsWith with variables of their own for the
// more functions (envFor, by function name).
func startAgentsEnv(t *testing.T, invokeEnv map[string]string, envFor map[string]map[string]string, more ...string) *agentPlatform {
	t.Helper()
	model := modeltest.New()
	t.Cleanup(model.Close)
	keys := map[string]*e2ee.PrivateKey{}
	for _, id := range []string{"helper", "calc"} {
		keys[id], _ = e2ee.GenerateKey()
	}
	b64 := func(id string) string { return id + ":" + base64.StdEncoding.EncodeToString(keys[id].Bytes()) }
	ai := map[string]string{
		"OPENAI_BASE_URL": model.URL(), "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "test-model",
		"AGENT_SYSTEM_PROMPT": "You are Helper.", "AGENT_KEYS": b64("helper"),
	}
	for k, v := range invokeEnv {
		ai[k] = v
	}
	fenv := map[string]map[string]string{
		"agent-invoke": ai,
		"calc-agent":   {"AGENT_KEYS": b64("calc")},
	}
	for f, env := range envFor {
		fenv[f] = env
	}
	e := start(t, opts{functions: append(slices.Clip(agentFunctions), more...), envFor: fenv})
	ap := &agentPlatform{env: e, model: model, owner: signup(t, e, "owner"), keys: keys}
	ctx := context.Background()
	for id, kind := range map[string]string{"helper": "model", "calc": "calc"} {
		ag, err := ap.owner.sess.RegisterAgent(ctx, strings.ToUpper(id[:1])+id[1:], kind, keys[id].PublicKey(), id)
		if err != nil {
			t.Fatalf("register agent %s: %v", id, err)
		}
		// Its runtime signs with the key derived from its AGENT_KEYS key;
		// the owner publishes it, as make dev does (docs/agents.md).
		if err := ap.owner.sess.SetSigningKey(ctx, ag.DeviceID, id, keys[id].PublicKeyBytes(), e2ee.DeriveSigningKey(keys[id])); err != nil {
			t.Fatalf("register agent %s's signing key: %v", id, err)
		}
	}
	return ap
}

// group makes a conversation of creator and members.
func (ap *agentPlatform) group(t *testing.T, creator *person, title string, members ...string) string {
	t.Helper()
	c, err := creator.sess.CreateConversation(context.Background(), "group", members, title)
	if err != nil {
		t.Fatalf("create conversation %s: %v", title, err)
	}
	return c.ID
}

// dispatch scripts the model by a tag at the start of the last user
// message, so that scenarios share one server.
func dispatch(routes map[string]func(modeltest.Request) modeltest.Reply) func(modeltest.Request) modeltest.Reply {
	return func(r modeltest.Request) modeltest.Reply {
		last := r.Last("user")
		for tag, fn := range routes {
			if strings.HasPrefix(last, tag) {
				return fn(r)
			}
		}
		return modeltest.Echo(r)
	}
}

// requestsTagged counts the model requests whose last user message
// starts with tag.
func (ap *agentPlatform) requestsTagged(tag string) int {
	n := 0
	for _, r := range ap.model.Requests() {
		if strings.HasPrefix(r.Last("user"), tag) {
			n++
		}
	}
	return n
}

// watcher keeps every event of one client.
type watcher struct {
	mu  sync.Mutex
	evs []client.Event
}

func watch(c *client.Client) *watcher {
	w := &watcher{}
	go func() {
		for ev := range c.Events() {
			w.mu.Lock()
			w.evs = append(w.evs, ev)
			w.mu.Unlock()
		}
	}()
	return w
}

// messages returns the messages of conv from sender, in arrival order.
func (w *watcher) messages(conv, sender string) []*client.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*client.Message
	for _, ev := range w.evs {
		if m, ok := ev.(*client.Message); ok && m.Conversation == conv && m.Sender == sender {
			out = append(out, m)
		}
	}
	return out
}

// activity returns the agent activity of conv of one kind, in arrival order.
func (w *watcher) activity(conv, kind string) []*client.AgentActivity {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*client.AgentActivity
	for _, ev := range w.evs {
		if a, ok := ev.(*client.AgentActivity); ok && a.Conversation == conv && a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// typing counts the typing events of user in conv with state.
func (w *watcher) typing(conv, user, state string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.evs {
		if ty, ok := ev.(*client.Typing); ok && ty.Conversation == conv && ty.User == user && ty.State == state {
			n++
		}
	}
	return n
}

// send sends text to conv and returns once it is stored, with its seq.
func send(t *testing.T, c *client.Client, w *watcher, conv, text string) int64 {
	t.Helper()
	id, err := c.Send(context.Background(), conv, e2ee.Content{Text: text})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	var seq int64
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, ev := range w.evs {
			if s, ok := ev.(*client.Status); ok && s.ID == id && s.State >= client.StateStored && s.Seq > 0 {
				seq = s.Seq
				return true
			}
		}
		return false
	}, "message %q stored", text)
	return seq
}

// envelopeDevices reads the device ids a stored message is wrapped for.
func (e *env) envelopeDevices(t *testing.T, conv string, seq int64) []string {
	t.Helper()
	var doc struct {
		Envelope struct {
			Keys []struct {
				Device string `bson:"device"`
			} `bson:"keys"`
		} `bson:"envelope"`
	}
	if err := e.mongo.Collection("messages").FindOne(context.Background(),
		bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d", conv, seq)}}).Decode(&doc); err != nil {
		t.Fatalf("read %s/%d: %v", conv, seq, err)
	}
	var ds []string
	for _, k := range doc.Envelope.Keys {
		ds = append(ds, k.Device)
	}
	sort.Strings(ds)
	return ds
}

// callState reads agent-invoke's ledger entry for (conv, seq, agent).
func (ap *agentPlatform) callState(conv string, seq int64, agent string) string {
	var doc struct {
		State string `bson:"state"`
	}
	err := ap.mongo.Collection("agent_calls").FindOne(context.Background(),
		bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d/%s", conv, seq, agent)}}).Decode(&doc)
	if err != nil {
		return ""
	}
	return doc.State
}

// secondDevice logs person in again with a new device key.
func secondDevice(t *testing.T, e *env, p *person) *person {
	t.Helper()
	key, _ := e2ee.GenerateKey()
	sess, err := client.NewAccounts(e.p.AccountsURL(), nil).Login(context.Background(), client.LoginRequest{
		Username: p.name, Password: "correct horse battery", PublicKey: key.PublicKey(), DeviceName: "e2e-2"})
	if err != nil {
		t.Fatalf("second device of %s: %v", p.name, err)
	}
	return &person{name: p.name, id: p.id, sess: sess, key: key}
}

// TestAgents runs the agent scenarios side by side on one platform: a
// streamed reply in a group, a model answer slower than 30 s, model
// errors and rate limits, and the calculator agent; then scans MongoDB,
// Redis and every process's log for the plaintext of what was said.
func TestAgents(t *testing.T) {
	// Every delta is a partial at once (no coalescing by time), and the
	// model sends the next chunk of the streamed answer only once bob has
	// shown the partial of the one before: partials are many and in order
	// on any machine.
	ap := startAgents(t, map[string]string{"AGENT_RETRIES": "2", "AGENT_PARTIAL_INTERVAL": "0s"})
	canary := fmt.Sprintf("CANARY-%d", time.Now().UnixNano())
	answer := "Streaming answer " + canary + " in several words"
	var rateOnce sync.Once
	var streamConv struct {
		sync.Mutex
		id string
		wb *watcher
	}
	partialShown := func(i int) { // bounded: a lost partial fails the test, not the server
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			streamConv.Lock()
			conv, w := streamConv.id, streamConv.wb
			streamConv.Unlock()
			if w == nil {
				continue
			}
			for _, p := range w.activity(conv, client.AgentPartial) {
				if p.Index == i {
					return
				}
			}
		}
	}
	ap.model.Script(dispatch(map[string]func(modeltest.Request) modeltest.Reply{
		"[stream]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Chunks: modeltest.Words(answer), Pace: func(i int) { partialShown(i - 1) }}
		},
		"[slow]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Delay: 35 * time.Second, Chunks: modeltest.Words("worth the wait")}
		},
		"[error]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Status: 500, Error: "the model fell over"}
		},
		"[limited]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Status: 429, RetryAfter: "1", Error: "slow down"}
		},
		"[limited-once]": func(modeltest.Request) modeltest.Reply {
			reply := modeltest.Reply{Chunks: modeltest.Words("after the wait")}
			rateOnce.Do(func() { reply = modeltest.Reply{Status: 429, RetryAfter: "1", Error: "slow down"} })
			return reply
		},
	}))
	alice, bob := signup(t, ap.env, "alice"), signup(t, ap.env, "bob")
	alice2 := secondDevice(t, ap.env, alice)
	ca, ca2, cb := alice.dial(t, ap.env), alice2.dial(t, ap.env), bob.dial(t, ap.env)
	wa, wa2, wb := watch(ca), watch(ca2), watch(cb)

	t.Run("scenarios", func(t *testing.T) {
		// A model answer slower than func-go's 30 s request timeout: the
		// invoke is answered within AGENT_HOLD, the turn goes on in the
		// background, and exactly one reply is stored.
		t.Run("slower than 30s", func(t *testing.T) {
			t.Parallel()
			conv := ap.group(t, alice, "slow", "helper")
			seq := send(t, ca, wa, conv, "[slow] take your time")
			began := time.Now()
			testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() bool {
				return len(wa.messages(conv, "helper")) > 0
			}, "the slow reply")
			took := time.Since(began)
			r := wa.messages(conv, "helper")[0]
			if r.Seq != seq+1 || r.Content.Text != "worth the wait" || r.Content.ReplyTo != seq {
				t.Errorf("reply = seq %d %q replyTo %d, want seq %d", r.Seq, r.Content.Text, r.Content.ReplyTo, seq+1)
			}
			if took < 30*time.Second {
				t.Errorf("the reply came after %s, want more than 30 s", took)
			}
			if n := ap.requestsTagged("[slow]"); n != 1 {
				t.Errorf("model requests = %d, want 1", n)
			}
			testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool { return ap.callState(conv, seq, "helper") == "replied" }, "ledger: replied")
			ap.checkStored(t, conv, 2)
			t.Logf("slow answer: reply after %s", took.Round(time.Millisecond))
		})

		// Edits, reactions and deletes are messages the agent is invoked
		// for (docs/agents.md, "Edits, deletes and reactions"): a reaction
		// and a delete cost no model call (the call ends "skipped"), alice's
		// edit of her question is answered anew with its text as a reply to
		// the edit, and bob's forged edit of it is not answered at all.
		t.Run("edits answered anew, reactions not", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conv := ap.group(t, alice, "edits", bob.id, "helper")
			q := send(t, ca, wa, conv, "[edit] what is 2+2")
			testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.messages(conv, "helper")) == 1 }, "the first answer")
			storedSeq := func(c *client.Client, w *watcher, id string, err error) int64 {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				var seq int64
				testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
					w.mu.Lock()
					defer w.mu.Unlock()
					for _, ev := range w.evs {
						if s, ok := ev.(*client.Status); ok && s.ID == id && s.State >= client.StateStored && s.Seq > 0 {
							seq = s.Seq
							return true
						}
					}
					return false
				}, "stored")
				return seq
			}
			id, err := cb.React(ctx, conv, q, "👍")
			react := storedSeq(cb, wb, id, err)
			id, err = cb.Send(ctx, conv, e2ee.Content{Edit: &e2ee.Edit{Ref: q, Text: "[edit] forged by bob"}})
			forged := storedSeq(cb, wb, id, err)
			id, err = ca.Edit(ctx, conv, q, "[edit] what is 2+3")
			edit := storedSeq(ca, wa, id, err)
			testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.messages(conv, "helper")) == 2 }, "the answer to the edit")
			if r := wa.messages(conv, "helper")[1]; r.Content.ReplyTo != edit || !strings.Contains(r.Content.Text, "what is 2+3") {
				t.Errorf("the answer to the edit = %+v, want a reply to seq %d about the new text", r.Content, edit)
			}
			for _, seq := range []int64{react, forged} {
				testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, func() bool { return ap.callState(conv, seq, "helper") == "skipped" },
					fmt.Sprintf("ledger: the call for seq %d skipped", seq))
			}
			if n := ap.requestsTagged("[edit]"); n != 2 {
				t.Errorf("model requests = %d, want 2 (the question and its edit; none for the reaction or the forged edit)", n)
			}
		})

		// Partial tokens arrive in order, then exactly one stored reply with
		// the next seq, sealed for every member device (alice's two, bob's,
		// the agent's own).
		t.Run("streams then replies", func(t *testing.T) {
			t.Parallel()
			conv := ap.group(t, alice, "stream", bob.id, "helper")
			streamConv.Lock()
			streamConv.id, streamConv.wb = conv, wb
			streamConv.Unlock()
			seq := send(t, ca, wa, conv, "[stream] tell me something "+canary)
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
				return len(wb.messages(conv, "helper")) > 0 && len(wb.activity(conv, client.AgentDone)) > 0
			}, "bob gets the reply and done")
			parts := wb.activity(conv, client.AgentPartial)
			var text strings.Builder
			for i, p := range parts {
				if p.Index != i || p.ReplyTo != seq || p.Agent != "helper" {
					t.Errorf("partial #%d: index %d replyTo %d agent %s (want index %d, in order)", i, p.Index, p.ReplyTo, p.Agent, i)
				}
				text.WriteString(p.Content.Text)
			}
			if len(parts) != len(modeltest.Words(answer)) || text.String() != answer {
				t.Errorf("partials: %d making %q, want one per chunk (%d) making %q", len(parts), text.String(), len(modeltest.Words(answer)), answer)
			}
			for name, w := range map[string]*watcher{"alice": wa, "alice's 2nd device": wa2, "bob": wb} {
				testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool { return len(w.messages(conv, "helper")) > 0 }, "%s gets the reply", name)
				rs := w.messages(conv, "helper")
				if len(rs) != 1 || rs[0].Seq != seq+1 || rs[0].Content.Text != answer || rs[0].Content.ReplyTo != seq || rs[0].ID != fmt.Sprintf("r-%d", seq) {
					t.Errorf("%s: replies %d, first = seq %d %q, want one at seq %d", name, len(rs), rs[0].Seq, rs[0].Content.Text, seq+1)
				}
			}
			devs, err := alice.sess.ConversationDeviceList(context.Background(), conv)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, d := range devs {
				want = append(want, d.DeviceID)
			}
			sort.Strings(want)
			if got := ap.envelopeDevices(t, conv, seq+1); len(want) != 4 || !slices.Equal(got, want) {
				t.Errorf("reply wrapped for %v, want every member device %v", got, want)
			}
			ap.checkStored(t, conv, 2)
			if n := ap.requestsTagged("[stream]"); n != 1 {
				t.Errorf("model requests = %d, want 1", n)
			}
			for _, r := range ap.model.Requests() {
				if strings.HasPrefix(r.Last("user"), "[stream]") &&
					(r.Last("system") != "You are Helper." || r.Model != "test-model" || r.Authorization != "Bearer sk-test" || !r.Stream) {
					t.Errorf("model request = %+v", r)
				}
			}
		})

		// Errors and rate limits reach the user as an agent error state; a
		// refused request (429) is sent again after Retry-After, and a
		// request the model answered is never sent twice.
		t.Run("errors and rate limits", func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				tag, code string
				requests  int
				reply     string
			}{
				{"[error]", "model_error", 1, ""},
				{"[limited]", "rate_limited", 3, ""}, // AGENT_RETRIES=2
				{"[limited-once]", "", 2, "after the wait"},
			} {
				conv := ap.group(t, alice, c.tag, "helper")
				seq := send(t, ca, wa, conv, c.tag+" please")
				if c.code != "" {
					testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool { return len(wa.activity(conv, client.AgentError)) > 0 }, "%s: the agent error", c.tag)
					a := wa.activity(conv, client.AgentError)[0]
					if a.Code != c.code || a.ReplyTo != seq || a.Text == "" || a.Agent != "helper" {
						t.Errorf("%s: agent error = %+v, want code %s", c.tag, a, c.code)
					}
				} else {
					testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool { return len(wa.messages(conv, "helper")) > 0 }, "%s: the reply", c.tag)
					if got := wa.messages(conv, "helper")[0].Content.Text; got != c.reply {
						t.Errorf("%s: reply %q, want %q", c.tag, got, c.reply)
					}
				}
				want := map[bool]string{true: "failed", false: "replied"}[c.code != ""]
				testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool { return ap.callState(conv, seq, "helper") == want }, "%s: ledger %s", c.tag, want)
				if n := ap.requestsTagged(c.tag + " "); n != c.requests {
					t.Errorf("%s: model requests = %d, want %d", c.tag, n, c.requests)
				}
				wantSeqs := map[bool]int{true: 1, false: 2}[c.code != ""]
				ap.checkStored(t, conv, wantSeqs)
			}
		})

		// The example agent answers through the real broker path: its own
		// Trigger (agentid calc), its own function, persist and route.
		t.Run("calculator agent", func(t *testing.T) {
			t.Parallel()
			conv := ap.group(t, alice, "calc", "calc")
			for _, c := range []struct{ ask, want string }{
				{"2+3*4", "2+3*4 = 14"},
				{"how many messages?", "This conversation has 3 messages; yours is #3."},
			} {
				seq := send(t, ca, wa, conv, c.ask)
				testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
					return slices.ContainsFunc(wa.messages(conv, "calc"), func(m *client.Message) bool { return m.Content.ReplyTo == seq })
				}, "calc answers %q", c.ask)
				ms := wa.messages(conv, "calc")
				if r := ms[len(ms)-1]; r.Content.Text != c.want || r.Seq != seq+1 {
					t.Errorf("calc: %q → seq %d %q, want seq %d %q", c.ask, r.Seq, r.Content.Text, seq+1, c.want)
				}
			}
			ap.checkStored(t, conv, 4)
		})
	})

	// What was said never shows up outside the devices: not in MongoDB
	// (messages, the agent ledger, anywhere), not in Redis, not in any log.
	if ap.requestsTagged("[stream] tell me something "+canary) != 1 {
		t.Log("the streaming scenario did not run (-run): no plaintext scan")
		return
	}
	got := scanSinks(t, ap.env, nil, canary)
	if len(got.hits) > 0 {
		t.Errorf("plaintext found on the server side:\n  %s", strings.Join(got.hits, "\n  "))
	}
	t.Logf("plaintext scan: %s", got)
}

// agent-invoke killed while calls are in progress, restarted, and every
// invoke redelivered: the test server counts exactly one model request
// per message, and each message gets exactly one outcome:
//   - C was streaming its answer (the endpoint stores answers, OPENAI_STORE):
//     the takeover reads the stored answer by its id and replies with it;
//   - A's request was in flight with nothing streamed yet (no id to read
//     back): it fails visibly as "interrupted" and is never sent again;
//   - B was waiting for a model slot (no request sent): it is taken over
//     and answered once.
func TestAgentInvokeKilledMidCall(t *testing.T) {
	ap := startAgents(t, map[string]string{
		"AGENT_MAX_CALLS": "2", "AGENT_LEASE": "3s", "AGENT_SWEEP_INTERVAL": "300ms", "AGENT_HOLD": "1s",
		"OPENAI_STORE": "true",
	})
	streamed := "a long answer that the model keeps generating after the runtime died"
	// C's answer holds after its third chunk until agent-invoke has been
	// killed: its request is in flight at the kill however slow the run.
	killed := make(chan struct{})
	var killedOnce sync.Once
	release := func() { killedOnce.Do(func() { close(killed) }) }
	t.Cleanup(release)
	ap.model.Script(dispatch(map[string]func(modeltest.Request) modeltest.Reply{
		"[inflight]": func(modeltest.Request) modeltest.Reply { return modeltest.Reply{Delay: 10 * time.Minute} },
		"[queued]":   modeltest.Answer("answered once"),
		"[streaming]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Chunks: modeltest.Words(streamed), ChunkDelay: 100 * time.Millisecond, Pace: func(i int) {
				if i == 3 {
					<-killed
				}
			}}
		},
	}))
	alice := signup(t, ap.env, "alice")
	ca := alice.dial(t, ap.env)
	wa := watch(ca)
	conv := ap.group(t, alice, "kill", "helper")

	inflight := send(t, ca, wa, conv, "[inflight] A")
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool { return ap.model.Count() == 1 }, "A's request in flight")
	streaming := send(t, ca, wa, conv, "[streaming] C")
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
		for _, p := range wa.activity(conv, client.AgentPartial) {
			if p.ReplyTo == streaming {
				return true
			}
		}
		return false
	}, "C's answer streaming")
	queued := send(t, ca, wa, conv, "[queued] B")
	// B's turn has its attempt and said "thinking": it waits for a model
	// slot (A and C hold both), and has not sent a request.
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
		n, _ := ap.mongo.Collection("agent_call_steps").CountDocuments(context.Background(),
			bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d/helper/attempt/1", conv, queued)}})
		return n == 1 && wa.typing(conv, "helper", events.TypingThinking) == 3
	}, "B claimed, waiting for a model slot")

	proc := ap.p.Function("agent-invoke")
	proc.Kill()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool { _, _, aborted := ap.model.Stats(); return aborted == 2 },
		"the model server sees A's and C's requests cut off")
	release() // the model finishes C's answer, which nobody is reading now
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := proc.Restart(ctx); err != nil {
		t.Fatalf("restart agent-invoke: %v", err)
	}
	// The broker redelivers (here: the test posts the invokes again, as a
	// broker retry would), while the new instance's sweeper finds the
	// calls once their leases run out.
	redeliver(t, ap, alice, conv, inflight, queued, streaming)

	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() bool {
		return len(wa.activity(conv, client.AgentError)) > 0 && len(wa.messages(conv, "helper")) >= 2
	}, "A's error, B's and C's replies")
	errs := wa.activity(conv, client.AgentError)
	if len(errs) != 1 || errs[0].ReplyTo != inflight || errs[0].Code != "interrupted" || !errs[0].Retryable {
		t.Errorf("agent errors = %+v, want one 'interrupted' for seq %d", errs, inflight)
	}
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool {
		return ap.callState(conv, inflight, "helper") == "failed" && ap.callState(conv, queued, "helper") == "replied" &&
			ap.callState(conv, streaming, "helper") == "replied"
	}, "the three calls finished in the ledger")
	redeliver(t, ap, alice, conv, inflight, queued, streaming) // after the end: nothing happens
	replies := map[int64][]string{}
	for _, m := range wa.messages(conv, "helper") {
		replies[m.Content.ReplyTo] = append(replies[m.Content.ReplyTo], m.Content.Text)
	}
	if len(replies) != 2 || len(replies[queued]) != 1 || replies[queued][0] != "answered once" ||
		len(replies[streaming]) != 1 || replies[streaming][0] != streamed {
		t.Errorf("replies by seq = %v, want one to B (%d) and C's whole stored answer (%d)", replies, queued, streaming)
	}
	a, b, c := ap.requestsTagged("[inflight]"), ap.requestsTagged("[queued]"), ap.requestsTagged("[streaming]")
	if a != 1 || b != 1 || c != 1 {
		t.Errorf("model requests: A %d, B %d, C %d; want exactly 1 each", a, b, c)
	}
	if ap.model.Retrievals() == 0 {
		t.Error("C's stored answer was never read back")
	}
	t.Logf("model requests %d, stored-answer reads %d", ap.model.Count(), ap.model.Retrievals())
	ap.checkStored(t, conv, 5)
}

// redeliver posts route's invoke of helper for each stored seq to the
// broker again, with the conversation's audience as a member (who) reads
// it from the key directory.
func redeliver(t *testing.T, ap *agentPlatform, who *person, conv string, seqs ...int64) {
	t.Helper()
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(ap.p.BrokerURL()))
	if err != nil {
		t.Fatal(err)
	}
	devices, err := who.sess.ConversationDeviceList(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	audience := &events.Audience{Agents: []events.AgentMember{{ID: "helper", Kind: "model"}}, Keys: map[string]string{}}
	for _, d := range devices {
		audience.Devices = append(audience.Devices, events.DeviceRef{User: d.UserID, Device: d.DeviceID})
		audience.Keys[d.DeviceID] = d.PublicKey
	}
	for _, seq := range seqs {
		var doc struct {
			Sender          string `bson:"sender"`
			SenderDevice    string `bson:"senderDevice"`
			ClientMessageID string `bson:"clientMessageId"`
			StoredAt        time.Time
			Envelope        struct {
				V     int    `bson:"v"`
				Nonce []byte `bson:"nonce"`
				CT    []byte `bson:"ct"`
				Keys  []struct {
					Device string `bson:"device"`
					EPK    []byte `bson:"epk"`
					Nonce  []byte `bson:"nonce"`
					WK     []byte `bson:"wk"`
				} `bson:"keys"`
			} `bson:"envelope"`
		}
		if err := ap.mongo.Collection("messages").FindOne(context.Background(),
			bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d", conv, seq)}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		env := &e2ee.Envelope{V: doc.Envelope.V, Nonce: doc.Envelope.Nonce, Ciphertext: doc.Envelope.CT}
		for _, k := range doc.Envelope.Keys {
			env.Keys = append(env.Keys, e2ee.WrappedKey{Device: k.Device, Ephemeral: k.EPK, Nonce: k.Nonce, Wrapped: k.WK})
		}
		inv, err := events.NewAgentInvoke("helper", "model", events.Message{ConversationID: conv, Seq: seq,
			SenderID: doc.Sender, SenderDevice: doc.SenderDevice, ClientMessageID: doc.ClientMessageID,
			Envelope: env, StoredAt: time.Now().UTC(), Audience: audience})
		if err != nil {
			t.Fatal(err)
		}
		if res := c.Send(context.Background(), inv); !cloudevents.IsACK(res) {
			t.Fatalf("redeliver seq %d: %v", seq, res)
		}
	}
}
