package connector

import (
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Deliveries carry one ciphertext and at most the recipient's own key
// (docs/e2ee.md, "Sender keys"). Two kinds of envelope are wrapped for
// every device of a group: a sender key distribution (a v1 message,
// ~200 KB of keys in a group of 1,024) and what an agent sends (v2 sealed
// once, e2ee.SealOnce). Each device can use only its own wrapped key, so
// each gets them with that key alone — live, in a sync batch, in a resume
// answer, as an agent's partial. Route reads a sync batch's and a resume
// answer's distributions for the requesting device already
// (store/messages), so there this finds nothing to strip but an agent's
// messages; a live delivery is shared by a connector's devices and is cut
// here. A v2 signature covers no key list, so the message verifies as
// sent; a distribution's (v1) covers every device's id, so a recipient
// cannot check it on what it gets, and needs not: a distribution only
// hands over a key, and every message sealed with that key is signed by
// the sender device itself. Other v1 messages (direct conversations) are
// delivered whole, as signed.

// forDevice returns f as device receives it, and true, when f carries a
// distribution; false when it carries none (the frame is shared as is).
func forDevice(f protocol.Frame, device string) (protocol.Frame, bool) {
	switch f.Type {
	case protocol.TypeMessage, protocol.TypeAgent:
		if !isDistribution(f) {
			return f, false
		}
		f.Envelope = ownKeyOnly(f.Envelope, device)
		return f, true
	case protocol.TypeBatch:
		ms, changed := messagesFor(f.Messages, device)
		f.Messages = ms
		return f, changed
	case protocol.TypeResumed:
		var bs []protocol.Frame
		for i, b := range f.Batches {
			ms, changed := messagesFor(b.Messages, device)
			if !changed {
				continue
			}
			if bs == nil {
				bs = append([]protocol.Frame(nil), f.Batches...)
			}
			bs[i].Messages = ms
		}
		if bs == nil {
			return f, false
		}
		f.Batches = bs
		return f, true
	}
	return f, false
}

// isDistribution: m's envelope is one a device gets with its own key only.
func isDistribution(m protocol.Frame) bool {
	switch {
	case m.Envelope == nil:
		return false
	case m.Envelope.V == e2ee.Version:
		return m.Type == protocol.TypeMessage && e2ee.IsDistributionID(m.ID)
	default:
		return len(m.Envelope.Keys) > 0
	}
}

// messagesFor strips the distributions among ms (copied only if any).
func messagesFor(ms []protocol.Frame, device string) ([]protocol.Frame, bool) {
	var out []protocol.Frame
	for i, m := range ms {
		if !isDistribution(m) {
			continue
		}
		if out == nil {
			out = append([]protocol.Frame(nil), ms...)
		}
		out[i].Envelope = ownKeyOnly(m.Envelope, device)
	}
	if out == nil {
		return ms, false
	}
	return out, true
}

// ownKeyOnly is env with device's wrapped key alone (none if it has none).
func ownKeyOnly(env *e2ee.Envelope, device string) *e2ee.Envelope {
	c := *env
	c.Keys = nil
	for _, k := range env.Keys {
		if k.Device == device {
			c.Keys = []e2ee.WrappedKey{k}
			break
		}
	}
	return &c
}
