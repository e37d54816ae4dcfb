package function

import (
	"context"

	"github.com/agentchat/agentchat/sdk/events"
)

// messages is agent-invoke's read-only view of persist's stored messages:
// the history a model call gets as context. It reads nothing of accounts'
// collections: who the agent answers for, and their keys, come with the
// invoke (its audience).
type messages interface {
	// Message reads the stored message at seq (one lookup by _id); ok is
	// false when there is none.
	Message(ctx context.Context, conversation string, seq int64) (m events.Message, ok bool, err error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}
