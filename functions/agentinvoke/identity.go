package function

import (
	"bytes"
	"context"
)

// configError says why this runtime cannot act as an agent: no key, no
// registered agent, or a key that is not its device's. Asking again does
// not help until an operator fixes it.
type configError struct{ reason string }

func (e *configError) Error() string { return "agent-invoke: agent not set up: " + e.reason }

// identity returns the agent as this runtime acts for it, checking once
// that the key in AGENT_KEYS is the one registered for the agent's device
// (a mismatched key would seal replies nobody checks and open nothing).
// On a configError the identity still names the device when it is known,
// so that the failure can be reported to the conversation.
func (f *Function) identity(ctx context.Context, d *deps, agent string) (identity, error) {
	if v, ok := f.ids.Load(agent); ok {
		return v.(identity), nil
	}
	key, ok := d.cfg.Keys[agent]
	if !ok {
		return identity{Agent: agent}, &configError{"no key in AGENT_KEYS"}
	}
	device, pub, ok, err := d.dir.AgentDevice(ctx, agent)
	switch {
	case err != nil:
		return identity{}, err
	case !ok:
		return identity{Agent: agent, Device: key.Device}, &configError{"not a registered agent with a current device"}
	case key.Device != "" && key.Device != device:
		return identity{Agent: agent, Device: device}, &configError{"AGENT_KEYS names another device than the agent's"}
	case !bytes.Equal(pub, key.Key.PublicKeyBytes()):
		return identity{Agent: agent, Device: device}, &configError{"the key is not the one registered for the agent's device"}
	}
	id := identity{Agent: agent, Device: device, Key: key.Key}
	f.ids.Store(agent, id)
	return id, nil
}
