package function

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// sink is a broker stand-in: it records the CloudEvents headers of every
// POST and answers 202, as broker ingress does.
type sink struct {
	mu   sync.Mutex
	reqs []http.Header
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Header.Clone())
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *sink) take() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.reqs
	s.reqs = nil
	return got
}

func TestStoredMessageInvokesEachAgentMemberOnce(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.agent("bot", "model", "bot-d")
	fx.agent("helper", "echo", "helper-d")
	fx.conversation("c2", "alice", "bob", "bot", "helper")
	fx.online("A", dev("bot", "bot-d"))
	brokers := &sink{}
	srv := httptest.NewServer(brokers)
	defer srv.Close()
	w := fx.watch()
	f := fx.start(map[string]string{"K_SINK": srv.URL})

	m := message("c2", 7, "alice", "a1", 32)
	m.Audience = withAgents(audienceFor(dev("alice", "a1"), dev("alice", "a2"), dev("bob", "b1"), dev("bob", "b2"),
		dev("bot", "bot-d"), dev("helper", "helper-d")),
		events.AgentMember{ID: "bot", Kind: "model"}, events.AgentMember{ID: "helper", Kind: "echo"})
	st := must(events.NewMessageStored(m))
	handle(t, f, st)
	got := brokers.take()
	if len(got) != 2 {
		t.Fatalf("%d posts to K_SINK, want 2 (one per agent)", len(got))
	}
	kinds := map[string]string{}
	for _, h := range got {
		if h.Get("Ce-Type") != events.TypeAgentInvoke { // binary mode: attributes as headers
			t.Errorf("ce-type %q, want %s", h.Get("Ce-Type"), events.TypeAgentInvoke)
		}
		agentID := h.Get("Ce-Agentid")
		kinds[agentID] = h.Get("Ce-Agentkind")
		want := must(events.NewAgentInvoke(agentID, kinds[agentID], m))
		if h.Get("Ce-Id") != want.ID() {
			t.Errorf("invoke id %q for %s, want the deterministic %q", h.Get("Ce-Id"), agentID, want.ID())
		}
	}
	if kinds["bot"] != "model" || kinds["helper"] != "echo" {
		t.Errorf("invoked %v, want bot (model) and helper (echo)", kinds)
	}
	// The agent's own device is a member device like any other.
	if s := summary(w.drain()); s != "A: alice/a1,bob/b1,bot/bot-d\nB: alice/a2,bob/b2" {
		t.Errorf("deliveries:\n%s", s)
	}

	// A redelivery posts the same ids again; the agent's runtime dedupes.
	handle(t, f, st)
	if n := len(brokers.take()); n != 2 {
		t.Errorf("redelivery: %d posts, want 2", n)
	}
	// An agent's own reply invokes no agent (no agent-to-agent loops).
	reply := message("c2", 8, "bot", "bot-d", 32)
	reply.Audience = m.Audience
	handle(t, f, must(events.NewMessageStored(reply)))
	if n := len(brokers.take()); n != 0 {
		t.Errorf("an agent's message made %d invokes, want 0", n)
	}
	// A conversation without agents posts nothing.
	handle(t, f, must(events.NewMessageStored(message("c1", 1, "alice", "a1", 32))))
	if n := len(brokers.take()); n != 0 {
		t.Errorf("%d invokes for a conversation without agents", n)
	}
	// A membership entry is delivered like a message and asks no agent
	// anything.
	entry := events.Message{ConversationID: "c2", Seq: 9, SenderID: "alice", SenderDevice: "system",
		ClientMessageID: protocol.SystemID(3), StoredAt: m.StoredAt, Audience: m.Audience,
		System: &protocol.MemberChange{Op: protocol.MemberAdd, User: "helper", By: "alice", Rev: 3}}
	w.drain()
	handle(t, f, must(events.NewMessageStored(entry)))
	if n := len(brokers.take()); n != 0 {
		t.Errorf("a membership entry made %d invokes, want 0", n)
	}
	if s := summary(w.drain()); s != "A: alice/a1,bob/b1,bot/bot-d\nB: alice/a2,bob/b2" {
		t.Errorf("the entry's deliveries:\n%s", s)
	}
}

func TestInvokeFailureIsRetried(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1")
	fx.agent("bot", "model", "bot-d")
	fx.conversation("c2", "alice", "bot")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	f := fx.start(map[string]string{"K_SINK": srv.URL})
	_, err := f.HandleEvent(context.Background(), stored(message("c2", 1, "alice", "a1", 32),
		withAgents(audienceFor(dev("alice", "a1"), dev("bot", "bot-d")), events.AgentMember{ID: "bot", Kind: "model"})))
	if err == nil {
		t.Fatal("a refused invoke was not reported: the broker would not retry it")
	}
}

func TestWithoutSinkAgentsAreSkipped(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1")
	fx.agent("bot", "model", "bot-d")
	fx.conversation("c2", "alice", "bot")
	f := fx.start(nil)
	handle(t, f, stored(message("c2", 1, "alice", "a1", 32),
		withAgents(audienceFor(dev("alice", "a1"), dev("bot", "bot-d")), events.AgentMember{ID: "bot", Kind: "model"})))
	if n := f.stats.invokes.Load(); n != 0 {
		t.Errorf("%d invokes without K_SINK", n)
	}
}
