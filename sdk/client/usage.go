package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// UsageTurn is what one model request of an agent's answer used.
type UsageTurn struct {
	Seq              int64     `json:"seq"` // the message the agent answered
	Agent            string    `json:"agent"`
	Step             int       `json:"step,omitempty"` // the request within an answer that used tools
	Model            string    `json:"model"`
	PromptTokens     int64     `json:"promptTokens"`
	CompletionTokens int64     `json:"completionTokens"`
	Reported         bool      `json:"reported"` // false: the endpoint reported no usage
	At               time.Time `json:"at"`
}

// Usage is a conversation's agent usage: its turns, oldest first, and
// their tokens per agent; More when there are turns after these.
type Usage struct {
	Turns  []UsageTurn      `json:"turns"`
	Tokens map[string]int64 `json:"tokens"`
	More   bool             `json:"more"`
}

// ConversationUsage reads the tokens the conversation's agents used — for
// a group's admins and the members of a direct conversation (403 for
// other members).
func (s *Session) ConversationUsage(ctx context.Context, conversation string) (Usage, error) {
	var u Usage
	err := s.call(ctx, http.MethodGet, "/v1/conversations/"+url.PathEscape(conversation)+"/usage", nil, &u)
	return u, err
}
