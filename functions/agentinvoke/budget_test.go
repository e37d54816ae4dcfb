package function

import (
	"context"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/usage"
)

// Each answer's usage is recorded (the turn, the agent's and the
// conversation's totals); a conversation over its budget gets
// budget_reached and no model request, and so does an agent over its
// budget in any conversation.
func TestTurnBudgets(t *testing.T) {
	ctx := context.Background()
	month := usage.PeriodOf(usage.PeriodMonth, time.Now())

	t.Run("conversation", func(t *testing.T) {
		// scriptUsage is 15 tokens: the first answer spends the budget.
		fx := newFixture(t, func(c *config) { c.Model.ConversationTokenBudget = 15 }, chunks("first answer"))
		m := fx.w.say("alice", "hello")
		fx.handle(t, m)
		eventually(t, "the first call finished", func() bool { return fx.finished(callKey{"c-1", m.Seq, "bot"}) })
		turns, err := fx.used.Turns(ctx, "c-1", 10)
		if err != nil || len(turns) != 1 {
			t.Fatalf("turns = %+v, %v; want 1", turns, err)
		}
		if tu := turns[0]; tu.Seq != m.Seq || tu.Agent != "bot" || tu.PromptTokens != 10 || tu.CompletionTokens != 5 || !tu.Reported ||
			tu.Endpoint != "http://first/v1" || tu.Model != "m" {
			t.Errorf("turn = %+v", tu)
		}
		for _, c := range []usage.Counter{usage.AgentCounter("bot", month), usage.ConversationCounter("c-1", "bot", month)} {
			if n, _ := fx.used.Total(ctx, c); n != 15 {
				t.Errorf("%s = %d, want 15", c, n)
			}
		}

		m2 := fx.w.say("bob", "and again")
		fx.handle(t, m2)
		eventually(t, "the second call finished", func() bool { return fx.finished(callKey{"c-1", m2.Seq, "bot"}) })
		if n := fx.model.count(); n != 1 {
			t.Errorf("model requests = %d, want 1 (none over budget)", n)
		}
		errs := fx.w.posted(events.TypeAgentError)
		if len(errs) != 1 || len(fx.w.stored("bot")) != 1 {
			t.Fatalf("agent.errors %d, replies %d; want 1, 1", len(errs), len(fx.w.stored("bot")))
		}
		if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != codeBudgetReached || d.ReplyTo != m2.Seq || d.Retryable ||
			d.Message != "this conversation has used its token budget with the agent for this month" {
			t.Errorf("agent.error = %+v", d)
		}
		thinking := 0
		for _, e := range fx.w.posted(events.TypeTyping) {
			if ty, _ := events.Decode[events.Typing](e); ty.State == events.TypingThinking {
				thinking++
			}
		}
		if thinking != 1 {
			t.Errorf("thinking sent %d times, want once (not for the call over budget)", thinking)
		}
		if st, _ := fx.led.State(ctx, callKey{"c-1", m2.Seq, "bot"}); st.Sent || st.Outcome == nil || st.Outcome.Code != codeBudgetReached {
			t.Errorf("ledger = %+v, want failed as budget_reached without a request", st)
		}
	})

	t.Run("agent", func(t *testing.T) {
		fx := newFixture(t, func(c *config) { c.Model.TokenBudget = 20 }, chunks("never"))
		// What the agent spent elsewhere this month.
		if err := fx.used.Record(ctx, usage.Turn{Conversation: "c-elsewhere", Seq: 1, Agent: "bot", PromptTokens: 15, CompletionTokens: 5,
			Reported: true, At: time.Now()}, usage.AgentCounter("bot", month)); err != nil {
			t.Fatal(err)
		}
		m := fx.w.say("alice", "hello")
		fx.handle(t, m)
		eventually(t, "finished", func() bool { return fx.finished(callKey{"c-1", m.Seq, "bot"}) })
		errs := fx.w.posted(events.TypeAgentError)
		if fx.model.count() != 0 || len(errs) != 1 {
			t.Fatalf("model requests %d, agent.errors %d; want 0, 1", fx.model.count(), len(errs))
		}
		if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != codeBudgetReached || d.Message != "the agent has used its token budget for this month" {
			t.Errorf("agent.error = %+v", d)
		}
	})
}
