package function

import (
	"context"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// directory is agent-invoke's read-only view of collections others own:
// accounts' users, devices and conversations (with their change log) and
// persist's messages. It reads MongoDB directly rather than accounts' HTTP
// key directory, which needs a user's token that an agent runtime does
// not have. Nothing is cached but an agent's own device.
type directory interface {
	// Recipients returns the current devices of every member of the
	// conversation with their public keys: exactly the set persist wants a
	// message wrapped for. members is nil when the conversation does not
	// exist.
	Recipients(ctx context.Context, conversation string) (rs []e2ee.Recipient, members []string, err error)
	// AgentDevice returns the agent's device and that device's public
	// key; ok is false when the agent or its device does not exist or the
	// device is revoked.
	AgentDevice(ctx context.Context, agent string) (device string, publicKey []byte, ok bool, err error)
	// Message reads the stored message at seq (one lookup by _id); ok is
	// false when there is none.
	Message(ctx context.Context, conversation string, seq int64) (m events.Message, ok bool, err error)
	// Ping checks that MongoDB answers.
	Ping(ctx context.Context) error
}
