package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
)

// TestAgentFailoverAndBudgets: helper lists two endpoints (AGENT_CONFIG
// "endpoints") and has a per-conversation token budget
// (AGENT_CONVERSATION_TOKEN_BUDGET, the operator's default for every
// agent).
//   - failover: the first endpoint answers 429 (asking for 30 s), the
//     call moves to the second at once, and exactly one reply is stored;
//     each test server counts one request;
//   - usage: the second endpoint's reported usage (its usage chunk, asked
//     for with stream_options.include_usage) is recorded for the turn and
//     in the conversation's total, in MongoDB;
//   - budget: the conversation has spent its 100 tokens, so the next
//     message ends with agent.error budget_reached and no model request
//     (neither server's count moves); another conversation is answered.
func TestAgentFailoverAndBudgets(t *testing.T) {
	first, second := modeltest.New(), modeltest.New()
	t.Cleanup(first.Close)
	t.Cleanup(second.Close)
	first.Script(func(modeltest.Request) modeltest.Reply {
		return modeltest.Reply{Status: 429, RetryAfter: "30", Error: "slow down"}
	})
	second.Script(func(modeltest.Request) modeltest.Reply {
		return modeltest.Reply{Chunks: modeltest.Words("answered by the second endpoint"),
			Usage: &modeltest.Usage{PromptTokens: 60, CompletionTokens: 50}}
	})
	ap := startAgents(t, map[string]string{
		"AGENT_CONFIG":                    fmt.Sprintf(`{"helper": {"endpoints": [{"baseURL": %q}, {"baseURL": %q}]}}`, first.URL(), second.URL()),
		"AGENT_CONVERSATION_TOKEN_BUDGET": "100",
	})
	alice := signup(t, ap.env, "alice")
	ca := alice.dial(t, ap.env)
	wa := watch(ca)
	ctx := context.Background()

	conv := ap.group(t, alice, "failover", "helper")
	seq := send(t, ca, wa, conv, "first question")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return ap.callState(conv, seq, "helper") == "replied" },
		"the call replied")
	// The ledger says replied once persist stored the reply; its delivery
	// to alice may still be on its way.
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.messages(conv, "helper")) > 0 },
		"the reply reached alice")
	rs := wa.messages(conv, "helper")
	if len(rs) != 1 || rs[0].Content.Text != "answered by the second endpoint" || rs[0].Content.ReplyTo != seq {
		t.Fatalf("replies = %d (%+v), want one from the second endpoint", len(rs), rs)
	}
	if f, s := first.Count(), second.Count(); f != 1 || s != 1 {
		t.Errorf("requests: first endpoint %d, second %d; want 1 each", f, s)
	}
	if r := second.Requests()[0]; !r.IncludeUsage || !r.Stream || r.Last("user") != "first question" {
		t.Errorf("request to the second endpoint = %+v, want streamed with include_usage", r)
	}

	var turn struct {
		Endpoint         string `bson:"endpoint"`
		Model            string `bson:"model"`
		PromptTokens     int64  `bson:"promptTokens"`
		CompletionTokens int64  `bson:"completionTokens"`
		Reported         bool   `bson:"reported"`
	}
	if err := ap.mongo.Collection("agent_usage").FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d/helper", conv, seq)}}).Decode(&turn); err != nil {
		t.Fatalf("the turn's usage: %v", err)
	}
	if turn.Endpoint != second.URL() || turn.PromptTokens != 60 || turn.CompletionTokens != 50 || !turn.Reported {
		t.Errorf("usage recorded = %+v, want 60+50 at the second endpoint", turn)
	}
	var total struct {
		Total int64 `bson:"total"`
	}
	counter := fmt.Sprintf("conversation/%s/helper/%s/1", conv, time.Now().UTC().Format("2006-01"))
	if err := ap.mongo.Collection("agent_usage_totals").FindOne(ctx, bson.D{{Key: "_id", Value: counter}}).Decode(&total); err != nil || total.Total != 110 {
		t.Errorf("conversation total %s = %d, %v; want 110", counter, total.Total, err)
	}

	// Over budget: the error state, and no request to either endpoint.
	over := send(t, ca, wa, conv, "second question")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.activity(conv, client.AgentError)) > 0 },
		"the budget error")
	e := wa.activity(conv, client.AgentError)[0]
	if e.Code != "budget_reached" || e.ReplyTo != over || e.Retryable || e.Agent != "helper" || e.Text == "" {
		t.Errorf("agent error = %+v, want budget_reached for seq %d", e, over)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool { return ap.callState(conv, over, "helper") == "failed" },
		"the call failed in the ledger")
	if f, s := first.Count(), second.Count(); f != 1 || s != 1 {
		t.Errorf("requests after the budget was reached: first %d, second %d; want still 1 each", f, s)
	}
	if n := len(wa.messages(conv, "helper")); n != 1 {
		t.Errorf("replies = %d, want still 1", n)
	}
	ap.checkStored(t, conv, 3)

	// The budget is the conversation's: another one is answered (through
	// the same failover).
	other := ap.group(t, alice, "other", "helper")
	send(t, ca, wa, other, "elsewhere")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.messages(other, "helper")) == 1 },
		"the other conversation's reply")
	if f, s := first.Count(), second.Count(); f != 2 || s != 2 {
		t.Errorf("requests: first %d, second %d; want 2 each", f, s)
	}
}
