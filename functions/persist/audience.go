package function

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// view is what persist knows of a conversation's directory when it
// checks a message: members, their current devices, and which members
// are agents.
type view struct {
	found   bool // the conversation exists
	members []string
	devices []directory.Device
	agents  []directory.User
	fresh   bool // read from the storage now, not from the cache
}

// readView reads a conversation's view through the cache, or afresh
// (dropping what the cache holds of the conversation and of its members'
// devices first). A warm cache answers without storage commands.
func readView(ctx context.Context, dir dirReader, conversation string, fresh bool) (view, error) {
	if fresh {
		dir.Forget(conversation)
	}
	mb, err := dir.Members(ctx, conversation)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return view{fresh: fresh}, nil
	case err != nil:
		return view{}, err
	}
	if fresh {
		dir.Forget("", mb.Members...)
	}
	v := view{found: true, members: mb.Members, fresh: fresh}
	if v.devices, err = dir.CurrentDevices(ctx, mb.Members); err != nil {
		return view{}, err
	}
	if v.agents, err = dir.Agents(ctx, mb.Members); err != nil {
		return view{}, err
	}
	return v, nil
}

func (v view) isMember(user string) bool { return v.found && slices.Contains(v.members, user) }

// refs are the current devices of the members.
func (v view) refs() []events.DeviceRef {
	refs := make([]events.DeviceRef, len(v.devices))
	for i, d := range v.devices {
		refs[i] = events.DeviceRef{User: d.User, Device: d.ID}
	}
	return refs
}

// audience is who a message stored now is for: every current device of
// the members, the agent members, and — when there is an agent, whose
// runtime seals its reply for them — every device's public key.
func (v view) audience() *events.Audience {
	a := &events.Audience{Devices: v.refs()}
	if len(v.agents) == 0 {
		return a
	}
	for _, ag := range v.agents {
		a.Agents = append(a.Agents, events.AgentMember{ID: ag.ID, Kind: ag.AgentKind})
	}
	slices.SortFunc(a.Agents, func(x, y events.AgentMember) int { return strings.Compare(x.ID, y.ID) })
	a.Keys = make(map[string]string, len(v.devices))
	for _, d := range v.devices {
		a.Keys[d.ID] = d.PublicKey
		if d.SigningKey != "" {
			if a.SigningKeys == nil {
				a.SigningKeys = make(map[string]string, len(v.devices))
			}
			a.SigningKeys[d.ID] = d.SigningKey
		}
	}
	return a
}

// isAgent reports whether user is an agent member.
func (v view) isAgent(user string) bool {
	return slices.ContainsFunc(v.agents, func(u directory.User) bool { return u.ID == user })
}
