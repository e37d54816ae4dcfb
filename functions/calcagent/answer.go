package function

import (
	"errors"
	"fmt"
	"strings"
)

// question is one message to answer.
type question struct {
	Seq     int64    // the message's seq: also how many messages the conversation has
	Text    string   // what it says
	Members []string // the conversation's members (user ids), from the invoke's audience
}

const help = "I'm a calculator. Send me arithmetic like 2+3*4 or (1.5+2)^2, " +
	"or ask \"how many messages?\" or \"who is here?\"."

// answer is the calculator agent's whole brain: the conversation's facts,
// a tool for arithmetic, and help for the rest.
func answer(q question) string {
	text := strings.TrimSpace(q.Text)
	lower := strings.ToLower(text)
	switch {
	case lower == "" || lower == "help" || lower == "?" || lower == "/help":
		return help
	case strings.Contains(lower, "how many messages") || strings.Contains(lower, "message count"):
		return fmt.Sprintf("This conversation has %d messages; yours is #%d.", q.Seq, q.Seq)
	case strings.Contains(lower, "who is here") || strings.Contains(lower, "who's here") || strings.Contains(lower, "members"):
		return fmt.Sprintf("%d members: %s.", len(q.Members), strings.Join(q.Members, ", "))
	}
	expr := arithmetic(lower)
	v, err := evaluate(expr)
	switch {
	case errors.Is(err, errNotArithmetic):
		return "I didn't understand that. " + help
	case err != nil:
		return fmt.Sprintf("%s: %v.", expr, err)
	}
	return fmt.Sprintf("%s = %s", expr, formatNumber(v))
}

// arithmetic strips the words around an expression: "what is 2+2?" is 2+2.
func arithmetic(s string) string {
	for _, prefix := range []string{"what is", "what's", "calculate", "calc", "compute"} {
		s = strings.TrimPrefix(s, prefix)
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), "?=!. "))
}
