package function

import (
	"net/http"
	"strconv"
	"time"
)

// Agents' token usage, for the people who run a conversation: what each
// model request of its agents' answers used, as agent-invoke recorded it
// (store/usage, its one owner; accounts only reads). A group's admins see
// it, and both members of a direct conversation; to anyone else the
// conversation does not exist.

// maxUsageTurns bounds one answer of GET /v1/conversations/{id}/usage.
const maxUsageTurns = 1000

type usageTurn struct {
	Seq              int64     `json:"seq"` // the message answered
	Agent            string    `json:"agent"`
	Step             int       `json:"step,omitempty"` // the request within a call that used tools
	Model            string    `json:"model"`
	PromptTokens     int64     `json:"promptTokens"`
	CompletionTokens int64     `json:"completionTokens"`
	Reported         bool      `json:"reported"` // false: the endpoint reported no usage (0 is unknown)
	At               time.Time `json:"at"`
}

// conversationUsage answers GET /v1/conversations/{id}/usage?limit=N: the
// conversation's turns in the order of the messages they answered (the
// oldest limit, default and at most 1,000; more says there are others),
// and the tokens of those turns per agent. The endpoint each turn went to
// is left out: it names the platform's infrastructure, not the
// conversation's.
func (s *service) conversationUsage(w http.ResponseWriter, r *http.Request, p principal) error {
	c, err := s.memberConversation(r, p)
	if err != nil {
		return err
	}
	if !c.IsAdmin(p.User) {
		return problem(http.StatusForbidden, "only the group's admins can see its usage")
	}
	limit := maxUsageTurns
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxUsageTurns {
			return problem(http.StatusBadRequest, "limit must be 1 to 1000")
		}
		limit = n
	}
	ts, err := s.usage.Turns(r.Context(), c.ID, limit+1)
	if err != nil {
		return err
	}
	more := len(ts) > limit
	ts = ts[:min(len(ts), limit)]
	turns := make([]usageTurn, 0, len(ts))
	totals := map[string]int64{}
	for _, t := range ts {
		turns = append(turns, usageTurn{Seq: t.Seq, Agent: t.Agent, Step: t.Step, Model: t.Model,
			PromptTokens: t.PromptTokens, CompletionTokens: t.CompletionTokens, Reported: t.Reported, At: t.At})
		totals[t.Agent] += t.Tokens()
	}
	writeJSON(w, http.StatusOK, map[string]any{"turns": turns, "tokens": totals, "more": more})
	return nil
}
