package function

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// agentEvent is one of an agent's events about its reply to seq 1 of conv.
func agentEvent(t *testing.T, typ, conv, agent string, data any) event.Event {
	t.Helper()
	return must(events.New(typ, events.RandomID(), events.Meta{Source: events.SourceAgentPrefix + agent,
		Conversation: conv, Sender: agent, Device: agent + "-d", AgentID: agent}, data))
}

func partialEvent(t *testing.T, conv, agent string, replyTo int64, index int) event.Event {
	return agentEvent(t, events.TypeAgentPartial, conv, agent,
		events.AgentPartial{AgentID: agent, ReplyTo: replyTo, Index: index, Envelope: message(conv, 1, "x", "a1", 16).Envelope})
}

// toAlice is summary's rendering of n deliveries to alice's two devices.
func toAlice(n int) string {
	return strings.TrimSuffix(strings.Repeat("A: alice/a1\n", n)+strings.Repeat("B: alice/a2\n", n), "\n")
}

// replayed renders what reached user/device after a resume or sync: the
// answer's type, then "partial <agent>/<replyTo>/<index>" for each replayed
// partial, in order; anything for another device fails the test.
func replayed(t *testing.T, got []published, user, device string) string {
	t.Helper()
	var out []string
	for _, p := range got {
		if len(p.targets) != 1 || p.targets[0] != dev(user, device) {
			t.Fatalf("a delivery to %v, want only %s/%s", p.targets, user, device)
		}
		if p.inner.Type() != events.TypeAgentPartial {
			out = append(out, p.inner.Type())
			continue
		}
		d, err := events.Decode[events.AgentPartial](p.inner)
		if err != nil {
			t.Fatal(err)
		}
		if p.inner.Source() != events.SourceAgentPrefix+d.AgentID || p.inner.Subject() != "c2" {
			t.Errorf("replayed partial: source %s subject %s, want the agent's, c2", p.inner.Source(), p.inner.Subject())
		}
		out = append(out, fmt.Sprintf("partial %s/%d/%d", d.AgentID, d.ReplyTo, d.Index))
	}
	return strings.Join(out, "\n")
}

// TestPartialsAreReplayedUntilTheAnswerEnds: route keeps the partials it
// routes (store/partials, real Redis) and replays them, in index order,
// after the answer to a resume of a member's device — not after a sync's;
// done or error drops them, and a partial that comes after the end
// is delivered live but not kept. A non-member agent's partials are
// neither delivered nor kept.
func TestPartialsAreReplayedUntilTheAnswerEnds(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.agent("bot", "model", "bot-d")
	fx.agent("echo", "model", "echo-d")
	fx.agent("stranger", "model", "stranger-d")
	fx.conversation("c2", "alice", "bot", "echo")
	fx.messages("c2", 2, 16)
	w := fx.watch()
	f := fx.start(nil)

	// Out of order, as a broker delivering concurrently may bring them;
	// one twice (a redelivery).
	for _, e := range []event.Event{
		partialEvent(t, "c2", "bot", 1, 1), partialEvent(t, "c2", "bot", 1, 0), partialEvent(t, "c2", "bot", 1, 1),
		partialEvent(t, "c2", "echo", 2, 0), partialEvent(t, "c2", "stranger", 2, 0),
	} {
		handle(t, f, e)
	}
	if got, want := summary(w.drain()), toAlice(4); got != want {
		t.Errorf("live deliveries:\n%s\nwant (the stranger's dropped):\n%s", got, want)
	}

	resume := func() string {
		t.Helper()
		handle(t, f, must(events.NewResumeRequested(events.SourceConnectorPrefix+"A", "alice", "a1",
			events.ResumeRequested{Positions: positions("c2", 2)})))
		return replayed(t, w.drain(), "alice", "a1")
	}
	want := strings.Join([]string{events.TypeResumeBatch, "partial bot/1/0", "partial bot/1/1", "partial echo/2/0"}, "\n")
	if got := resume(); got != want {
		t.Errorf("after a resume:\n%s\nwant:\n%s", got, want)
	}

	// A sync (a gap's, an idle one with receipts) brings its batch alone.
	for _, receipts := range []bool{false, true} {
		handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c2", "alice", "a1",
			events.SyncRequested{After: 2, Receipts: receipts})))
		if got := replayed(t, w.drain(), "alice", "a1"); got != events.TypeSyncBatch {
			t.Errorf("after a sync (receipts %v):\n%s\nwant the batch alone", receipts, got)
		}
	}

	// done ends bot's answer, error echo's: both are still delivered.
	handle(t, f, agentEvent(t, events.TypeAgentDone, "c2", "bot", events.AgentDone{AgentID: "bot", ReplyTo: 1, ClientMessageID: "r-1"}))
	handle(t, f, agentEvent(t, events.TypeAgentError, "c2", "echo", events.AgentError{AgentID: "echo", ReplyTo: 2, Code: "timeout"}))
	handle(t, f, partialEvent(t, "c2", "bot", 1, 2)) // late
	if got, want := summary(w.drain()), toAlice(3); got != want {
		t.Errorf("done, error, a late partial:\n%s\nwant each delivered:\n%s", got, want)
	}
	if got := resume(); got != events.TypeResumeBatch {
		t.Errorf("after the answers ended, a resume brings:\n%s\nwant the answer alone", got)
	}
}

// TestStatusIsReplayedWithTheAnswer: route keeps an answer's latest
// lifecycle status (an older one arriving later is delivered, not kept)
// and replays it after a resume, before the answer's partials — also for
// an answer that has no partial yet (queued); done drops it.
func TestStatusIsReplayedWithTheAnswer(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.agent("bot", "model", "bot-d")
	fx.conversation("c2", "alice", "bot")
	fx.messages("c2", 2, 16)
	w := fx.watch()
	f := fx.start(nil)
	status := func(replyTo int64, index int, state string) event.Event {
		return agentEvent(t, events.TypeAgentStatus, "c2", "bot", events.AgentStatus{AgentID: "bot", ReplyTo: replyTo, Index: index, State: state})
	}
	for _, e := range []event.Event{
		status(1, 2, events.StatusStreaming), status(1, 1, events.StatusThinking), // out of order: thinking comes late
		partialEvent(t, "c2", "bot", 1, 0),
		status(2, 0, events.StatusQueued),
	} {
		handle(t, f, e)
	}
	if got, want := summary(w.drain()), toAlice(4); got != want {
		t.Errorf("live deliveries:\n%s\nwant every status and the partial:\n%s", got, want)
	}
	resume := func() []string {
		t.Helper()
		handle(t, f, must(events.NewResumeRequested(events.SourceConnectorPrefix+"A", "alice", "a1",
			events.ResumeRequested{Positions: positions("c2", 2)})))
		var out []string
		for _, p := range w.drain() {
			switch p.inner.Type() {
			case events.TypeAgentStatus:
				d, err := events.Decode[events.AgentStatus](p.inner)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("status %d/%d %s", d.ReplyTo, d.Index, d.State))
			case events.TypeAgentPartial:
				d, _ := events.Decode[events.AgentPartial](p.inner)
				out = append(out, fmt.Sprintf("partial %d/%d", d.ReplyTo, d.Index))
			default:
				out = append(out, p.inner.Type())
			}
		}
		return out
	}
	want := []string{events.TypeResumeBatch, "status 1/2 streaming", "partial 1/0", "status 2/0 queued"}
	if got := resume(); !slices.Equal(got, want) {
		t.Errorf("after a resume: %q, want %q", got, want)
	}
	handle(t, f, agentEvent(t, events.TypeAgentDone, "c2", "bot", events.AgentDone{AgentID: "bot", ReplyTo: 1, ClientMessageID: "r-1"}))
	handle(t, f, status(1, 3, events.StatusStreaming)) // late: delivered, not kept
	w.drain()
	if got, want := resume(), []string{events.TypeResumeBatch, "status 2/0 queued"}; !slices.Equal(got, want) {
		t.Errorf("after bot's answer 1 is done: %q, want %q", got, want)
	}
}

// TestReplayIsBounded: one replay is at most replayBudget's frames, so that
// a socket's outbound queue holds it.
func TestReplayIsBounded(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.agent("bot", "model", "bot-d")
	fx.conversation("c2", "alice", "bot")
	w := fx.watch()
	f := fx.start(nil)
	saved := replayBudget
	t.Cleanup(func() { replayBudget = saved })
	replayBudget.frames = 3
	for i := range 5 {
		handle(t, f, partialEvent(t, "c2", "bot", 1, i))
	}
	w.drain()
	handle(t, f, must(events.NewResumeRequested(events.SourceConnectorPrefix+"A", "alice", "a1", events.ResumeRequested{})))
	got := strings.Split(replayed(t, w.drain(), "alice", "a1"), "\n")
	if want := []string{events.TypeResumeBatch, "partial bot/1/0", "partial bot/1/1", "partial bot/1/2"}; !slices.Equal(got, want) {
		t.Errorf("replay %q, want %q", got, want)
	}
}
