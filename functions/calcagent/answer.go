package function

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// facts is what the agent may look up about the conversation to answer.
type facts interface {
	// MemberNames returns the display names of the conversation's members.
	MemberNames(ctx context.Context, conversation string) ([]string, error)
}

// question is one message to answer.
type question struct {
	Conversation string
	Seq          int64 // the message's seq: also how many messages the conversation has
	Text         string
}

const help = "I'm a calculator. Send me arithmetic like 2+3*4 or (1.5+2)^2, " +
	"or ask \"how many messages?\" or \"who is here?\"."

// answer is the calculator agent's whole brain: a tool for the
// conversation's facts, a tool for arithmetic, and help for the rest.
func answer(ctx context.Context, f facts, q question) (string, error) {
	text := strings.TrimSpace(q.Text)
	lower := strings.ToLower(text)
	switch {
	case lower == "" || lower == "help" || lower == "?" || lower == "/help":
		return help, nil
	case strings.Contains(lower, "how many messages") || strings.Contains(lower, "message count"):
		return fmt.Sprintf("This conversation has %d messages; yours is #%d.", q.Seq, q.Seq), nil
	case strings.Contains(lower, "who is here") || strings.Contains(lower, "who's here") || strings.Contains(lower, "members"):
		names, err := f.MemberNames(ctx, q.Conversation)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d members: %s.", len(names), strings.Join(names, ", ")), nil
	}
	expr := arithmetic(lower)
	v, err := evaluate(expr)
	switch {
	case errors.Is(err, errNotArithmetic):
		return "I didn't understand that. " + help, nil
	case err != nil:
		return fmt.Sprintf("%s: %v.", expr, err), nil
	}
	return fmt.Sprintf("%s = %s", expr, formatNumber(v)), nil
}

// arithmetic strips the words around an expression: "what is 2+2?" is 2+2.
func arithmetic(s string) string {
	for _, prefix := range []string{"what is", "what's", "calculate", "calc", "compute"} {
		s = strings.TrimPrefix(s, prefix)
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), "?=!. "))
}
