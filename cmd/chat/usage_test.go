package main

import (
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/client"
)

// TestFormatUsage: /usage counts answers (not requests) and tokens per
// agent, and says when requests reported nothing or the list was cut.
func TestFormatUsage(t *testing.T) {
	if got := formatUsage(client.Usage{}); !strings.Contains(got, "no agent has answered") {
		t.Errorf("empty usage: %q", got)
	}
	got := formatUsage(client.Usage{
		Turns: []client.UsageTurn{
			{Seq: 2, Agent: "a-helper", PromptTokens: 100, CompletionTokens: 20, Reported: true},
			{Seq: 2, Agent: "a-helper", Step: 1, PromptTokens: 150, CompletionTokens: 30, Reported: true},
			{Seq: 4, Agent: "a-calc"},
		},
		Tokens: map[string]int64{"a-helper": 300, "a-calc": 0},
		More:   true,
	})
	for _, want := range []string{"a-calc: 0 tokens over 1 answers", "a-helper: 300 tokens over 1 answers", "1 requests reported no usage", "first 1,000"} {
		if !strings.Contains(got, want) {
			t.Errorf("usage %q lacks %q", got, want)
		}
	}
	if strings.Index(got, "a-calc") > strings.Index(got, "a-helper") {
		t.Errorf("agents not in order: %q", got)
	}
}
