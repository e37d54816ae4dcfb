package function

import (
	"context"
	"errors"
	"slices"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
)

// The directory reads (accounts' users, devices and conversations) go to
// store/directory, read afresh: sync requests (the device check, and the
// membership check before a refusal) and resumes use them. Receipts,
// typing, agent activity and a sync's membership check go through the
// cache first (deps.audiences), which accounts' change events keep
// current.

// Members reads the conversation and any membership change logged past
// it (store/directory.Mongo.Members). Round trips: 2.
func (d *mongoDirectory) Members(ctx context.Context, conversation string) ([]string, bool, error) {
	m, err := d.people.Members(ctx, conversation)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return m.Members, true, nil
}

// Devices reads the current devices of users. Round trips: 1.
func (d *mongoDirectory) Devices(ctx context.Context, users []string) ([]events.DeviceRef, error) {
	if len(users) == 0 {
		return nil, nil
	}
	ds, err := d.people.CurrentDevices(ctx, users)
	if err != nil {
		return nil, err
	}
	return refsOf(ds), nil
}

// DeviceCurrent reads the user's current devices. Round trips: 1.
func (d *mongoDirectory) DeviceCurrent(ctx context.Context, user, device string) (bool, error) {
	ds, err := d.people.CurrentDevices(ctx, []string{user})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ds, func(x directoryDevice) bool { return x.ID == device }), nil
}

// Agents reads which of users are agents. Round trips: 1.
func (d *mongoDirectory) Agents(ctx context.Context, users []string) ([]agent, error) {
	if len(users) == 0 {
		return nil, nil
	}
	us, err := d.people.Agents(ctx, users)
	if err != nil {
		return nil, err
	}
	agents := make([]agent, len(us))
	for i, u := range us {
		agents[i] = agent{ID: u.ID, Kind: u.AgentKind}
	}
	return agents, nil
}
