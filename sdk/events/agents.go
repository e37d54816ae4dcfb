package events

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// What an agent's runtime needs from the events it gets: an invoke carries
// the stored message with its Audience (every member device and its public
// key, exactly the set persist wants a reply sealed for), and persist's
// answer to the agent's own reply (message.stored or message.rejected)
// carries the agentid and agentkind extensions of the agent that sent it,
// so that a Trigger brings it back to that agent's runtime
// (docs/agents.md, "Hearing the outcome").

// Recipients returns the audience's devices with their public keys, in
// the audience's order, for e2ee.Seal. It fails when a device has no key
// or a malformed one: an audience without keys (a conversation without an
// agent member) cannot be sealed for.
func (a *Audience) Recipients() ([]e2ee.Recipient, error) {
	if a == nil || len(a.Devices) == 0 {
		return nil, fmt.Errorf("%w: audience: no devices", ErrInvalid)
	}
	rs := make([]e2ee.Recipient, 0, len(a.Devices))
	for _, d := range a.Devices {
		pub, err := a.PublicKey(d.Device)
		if err != nil {
			return nil, err
		}
		rs = append(rs, e2ee.Recipient{Device: d.Device, PublicKey: pub})
	}
	return rs, nil
}

// PublicKey parses the audience's key of device.
func (a *Audience) PublicKey(device string) (*ecdh.PublicKey, error) {
	enc, ok := a.Keys[device]
	if !ok {
		return nil, fmt.Errorf("%w: audience: no public key for device %s", ErrInvalid, device)
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: audience: public key of device %s is not standard base64", ErrInvalid, device)
	}
	pub, err := e2ee.ParsePublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: audience: device %s: %v", ErrInvalid, device, err)
	}
	return pub, nil
}

// Members returns the users the audience's devices belong to, each once,
// in the order they first appear.
func (a *Audience) Members() []string {
	if a == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range a.Devices {
		if !seen[d.User] {
			seen[d.User] = true
			out = append(out, d.User)
		}
	}
	return out
}

// DevicesOf returns user's devices in the audience.
func (a *Audience) DevicesOf(user string) []string {
	if a == nil {
		return nil
	}
	var out []string
	for _, d := range a.Devices {
		if d.User == user {
			out = append(out, d.Device)
		}
	}
	return out
}

// Agent returns the audience's agent member id, if there is one.
func (a *Audience) Agent(id string) (AgentMember, bool) {
	if a == nil {
		return AgentMember{}, false
	}
	for _, ag := range a.Agents {
		if ag.ID == id {
			return ag, true
		}
	}
	return AgentMember{}, false
}

// checkSealable is what an invoke's audience must be: devices, each with
// a well-formed public key, the agent's own device among them.
func (a *Audience) checkSealable(agent string) error {
	if a == nil || len(a.Devices) == 0 {
		return fmt.Errorf("message.audience is required: the member devices (and keys) a reply is sealed for")
	}
	if _, err := a.Recipients(); err != nil {
		return err
	}
	if len(a.DevicesOf(agent)) == 0 {
		return fmt.Errorf("message.audience has no device of the agent %s", agent)
	}
	return nil
}

// StampAgent marks e as being from (or about) agent: the agentid and, when
// known, agentkind extensions, which Triggers filter on. The catalog's
// constructors stamp message.stored and message.rejected of an agent's
// message with it; an agent's runtime stamps the events it sends.
func StampAgent(e *event.Event, agent, kind string) {
	e.SetExtension(ExtAgentID, agent)
	if kind != "" {
		e.SetExtension(ExtAgentKind, kind)
	}
}

// stampSender stamps e with its sender when the sender is an agent member
// of audience, so that the agent's runtime hears persist's answer.
func stampSender(e *event.Event, sender string, audience *Audience) {
	if ag, ok := audience.Agent(sender); ok {
		StampAgent(e, ag.ID, ag.Kind)
	}
}
