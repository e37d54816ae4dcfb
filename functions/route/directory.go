package function

import (
	"context"

	"github.com/agentchat/agentchat/sdk/events"
	storedir "github.com/agentchat/agentchat/store/directory"
)

// agent is a member whose user kind is "agent".
type agent struct {
	ID   string
	Kind string // agentKind: which runtime answers it (Triggers filter on it)
}

// directory is route's read-only view of MongoDB: accounts' users,
// devices and conversations (through store/directory), persist's
// messages. Every call reads fresh; receipts, typing, agent activity and
// a sync's membership check (syncMembers) go through the cache
// (deps.audiences, a store/directory.Cached).
type directory interface {
	// Members returns a conversation's member user ids; ok is false when
	// the conversation does not exist.
	Members(ctx context.Context, conversation string) (members []string, ok bool, err error)
	// Devices returns the non-revoked devices of users.
	Devices(ctx context.Context, users []string) ([]events.DeviceRef, error)
	// DeviceCurrent reports whether device is a non-revoked device of user
	// (one lookup by _id).
	DeviceCurrent(ctx context.Context, user, device string) (bool, error)
	// Agents returns those of users that are agents.
	Agents(ctx context.Context, users []string) ([]agent, error)
	// MessagesAfter returns up to limit messages of a conversation with
	// seq > after, in seq order, as device reads them: a sender key
	// distribution with device's own wrapped key only (store/messages,
	// AllDevices), so that a sync reads ~6 KB of a distribution to 1,024
	// devices, not ~200 KB, and the connector finds nothing to strip.
	MessagesAfter(ctx context.Context, conversation string, after int64, limit int, device string) ([]events.Message, error)
	// LastSeq returns a conversation's newest seq (0 when empty). guess is
	// the caller's guess of it, missing a seq the caller knows is absent
	// (0: none); a search by _id starts from them.
	LastSeq(ctx context.Context, conversation string, guess, missing int64) (int64, error)
	// Cursors returns the receipt cursors of those of members that have
	// one (persist's cursors collection).
	Cursors(ctx context.Context, conversation string, members []string) ([]events.Cursor, error)
	// Ping checks that MongoDB answers.
	Ping(ctx context.Context) error
	// Close releases connections.
	Close(ctx context.Context) error
}

// directoryDevice is a device as store/directory has it.
type directoryDevice = storedir.Device

// refsOf is devices as the events' device references.
func refsOf(ds []storedir.Device) []events.DeviceRef {
	refs := make([]events.DeviceRef, len(ds))
	for i, d := range ds {
		refs[i] = events.DeviceRef{User: d.User, Device: d.ID}
	}
	return refs
}
