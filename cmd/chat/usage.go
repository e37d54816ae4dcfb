package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agentchat/agentchat/sdk/client"
)

// usageCommand is /usage: the tokens the conversation's agents used, per
// agent, for its admins (accounts refuses the others).
func usageCommand(ctx context.Context, sess *client.Session, conv string) string {
	u, err := sess.ConversationUsage(ctx, conv)
	if err != nil {
		return "   ✗ " + err.Error()
	}
	return formatUsage(u)
}

func formatUsage(u client.Usage) string {
	if len(u.Turns) == 0 {
		return "   no agent has answered here yet"
	}
	answers := map[string]map[int64]bool{}
	unreported := 0
	for _, t := range u.Turns {
		if answers[t.Agent] == nil {
			answers[t.Agent] = map[int64]bool{}
		}
		answers[t.Agent][t.Seq] = true
		if !t.Reported {
			unreported++
		}
	}
	agents := make([]string, 0, len(u.Tokens))
	for a := range u.Tokens {
		agents = append(agents, a)
	}
	slices.Sort(agents)
	var b strings.Builder
	b.WriteString("   agents' usage here:")
	for _, a := range agents {
		fmt.Fprintf(&b, "\n     %s: %d tokens over %d answers", a, u.Tokens[a], len(answers[a]))
	}
	if unreported > 0 {
		fmt.Fprintf(&b, "\n     (%d requests reported no usage)", unreported)
	}
	if u.More {
		b.WriteString("\n     (the first 1,000 requests only)")
	}
	return b.String()
}
