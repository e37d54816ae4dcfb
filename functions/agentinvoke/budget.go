package function

import (
	"context"
	"time"

	"github.com/agentchat/agentchat/store/usage"
)

// withinBudget checks the agent's token budgets before its call: what it
// spent in this conversation, and in all, during the budget period
// (AGENT_BUDGET_PERIOD), against AGENT_CONVERSATION_TOKEN_BUDGET and
// AGENT_TOKEN_BUDGET (or the agent's own). Over either, the call fails
// visibly as budget_reached and no request is sent. The check is before
// the call, so calls running at once may each pass it: a budget is
// overrun by at most what those calls spend. false also when the totals
// cannot be read (the call stays open; a sweep tries it again).
func (t *turn) withinBudget(ctx context.Context, cfg modelConfig) bool {
	if cfg.TokenBudget <= 0 && cfg.ConversationTokenBudget <= 0 {
		return true
	}
	kind := t.d.cfg.BudgetPeriod
	period := usage.PeriodOf(kind, time.Now())
	when := map[string]string{usage.PeriodMonth: " for this month", usage.PeriodDay: " for today"}[kind]
	for _, b := range []struct {
		limit   int64
		counter usage.Counter
		message string
	}{
		{cfg.ConversationTokenBudget, usage.ConversationCounter(t.k.Conversation, t.k.Agent, period),
			"this conversation has used its token budget with the agent" + when},
		{cfg.TokenBudget, usage.AgentCounter(t.k.Agent, period), "the agent has used its token budget" + when},
	} {
		if b.limit <= 0 {
			continue
		}
		spent, err := t.d.usage.Total(ctx, b.counter)
		if err != nil {
			t.log.Warn("agent-invoke: read the token totals (a sweep tries the call again)", "err", err)
			return false
		}
		if spent >= b.limit {
			t.log.Info("agent-invoke: over budget: no model request", "counter", string(b.counter), "spent", spent, "budget", b.limit)
			t.fail(ctx, codeBudgetReached, b.message, false)
			return false
		}
	}
	return true
}

// recordUsage records what the call's request of step cost, as endpoint
// ep reported it, under the turn's step and in the totals of the agent and
// of the agent in this conversation for the current budget period. It runs
// as soon as the model answered — before the tools run, before the reply
// is decided — so that the next message's budget check sees it, and so
// that a call handed over to another attempt mid-way is counted whole
// (each step under its own key, once); it retries for a while, then gives
// up with a log line (the answer matters more than its bill).
func (t *turn) recordUsage(ctx context.Context, ep endpoint, step int, u tokenUsage) {
	now := time.Now()
	period := usage.PeriodOf(t.d.cfg.BudgetPeriod, now)
	tu := usage.Turn{Conversation: t.k.Conversation, Seq: t.k.Seq, Agent: t.k.Agent, Step: step, Endpoint: ep.BaseURL, Model: ep.Model,
		PromptTokens: u.Prompt, CompletionTokens: u.Completion, Reported: u.Reported, At: now}
	if !u.Reported {
		t.log.Warn("agent-invoke: the endpoint reported no usage: the turn counts no tokens", "endpoint", ep.BaseURL)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		err := t.d.usage.Record(ctx, tu, usage.AgentCounter(t.k.Agent, period), usage.ConversationCounter(t.k.Conversation, t.k.Agent, period))
		if err == nil {
			t.log.Debug("agent-invoke: usage recorded", "step", step, "prompt", u.Prompt, "completion", u.Completion, "endpoint", ep.BaseURL)
			return
		}
		if sleep(ctx, wait) != nil {
			t.log.Error("agent-invoke: usage not recorded", "prompt", u.Prompt, "completion", u.Completion, "err", err)
			return
		}
	}
}
