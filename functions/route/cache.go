package function

import (
	"context"
	"errors"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	storedir "github.com/agentchat/agentchat/store/directory"
)

// Receipts, typing and agent activity are routed by
// store/directory's Cached (deps.audiences): each conversation's members
// and each user's current devices stay in memory, kept current by the
// change events accounts emits (io.agentchat.conversation.changed,
// io.agentchat.device.changed, brought by triggers/route-directory.yaml).
// Without it each of those events would read the conversation, its change
// log and the devices again (3 round trips, and on FerretDB a scan of all
// devices). A sync's membership check uses it too (a member found there is
// served; anyone else is looked up afresh before the refusal: syncMembers).
// Stored messages bring their audience and never use it. The
// TTL of an entry (MEMBERSHIP_CACHE_TTL, config.go) is only a backstop.

// audience is who an event in a conversation is for.
type audience struct {
	found   bool // the conversation exists
	members []string
	devices []events.DeviceRef // current devices of the members
}

// cachedAudience reads a conversation's audience through the cache.
func cachedAudience(ctx context.Context, c *storedir.Cached, conv string) (audience, error) {
	m, err := c.Members(ctx, conv)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return audience{}, nil
	case err != nil:
		return audience{}, err
	}
	ds, err := c.CurrentDevices(ctx, m.Members)
	if err != nil {
		return audience{}, err
	}
	return audience{found: true, members: m.Members, devices: refsOf(ds)}, nil
}
