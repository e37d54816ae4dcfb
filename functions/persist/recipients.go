package function

import (
	"fmt"
	"slices"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// checkRecipients enforces end-to-end encryption's membership on the
// server side without opening anything: the sending device must be one of
// the sender's current devices, and the envelope's wrapped keys must name
// exactly the current devices of all members (the sender's own included,
// so its other devices can read it). A key for any other device (a
// removed member's, a revoked one) would hand the message to someone
// outside the conversation, so it is refused as bad_envelope; a missing
// device is reported as missing_keys with the list, so the client can
// refresh its key directory and send again. nil means the envelope fits.
//
// A person's sender-key envelope (v2) is sealed once for the whole group:
// its wrapped keys are for the agent members' devices only (agents keep
// no chain state, docs/e2ee.md "Sender keys"), so the same rule applies
// to them alone; people's devices got the chain key in the sender's
// distribution, which is a v1 message checked in full. An agent's v2
// envelope (e2ee.SealOnce: no chain) wraps its key for every device, and
// is checked in full.
func checkRecipients(a fn.Actor, sent events.MessageSent, current []events.DeviceRef, isAgent func(user string) bool) *events.MessageRejected {
	rej := func(code, reason string) *events.MessageRejected {
		return &events.MessageRejected{ClientMessageID: sent.ClientMessageID, Code: code, Reason: reason}
	}
	if !slices.Contains(current, a.DeviceRef()) {
		return rej(protocol.CodeUnauthorized, "this device is not a current device of yours")
	}
	if sent.Envelope.V == e2ee.Version2 && !isAgent(a.User) {
		current = slices.DeleteFunc(slices.Clone(current), func(d events.DeviceRef) bool { return !isAgent(d.User) })
	}
	want := make(map[string]bool, len(current))
	for _, d := range current {
		want[d.Device] = true
	}
	wrapped := make(map[string]bool, len(sent.Envelope.Keys))
	for _, k := range sent.Envelope.Keys {
		if !want[k.Device] {
			return rej(protocol.CodeBadEnvelope, fmt.Sprintf("wrapped for a device outside the conversation: %s", k.Device))
		}
		wrapped[k.Device] = true
	}
	var missing []string
	for _, d := range current {
		if !wrapped[d.Device] {
			missing = append(missing, d.Device)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		r := rej(protocol.CodeMissingKeys, fmt.Sprintf("the message is not wrapped for %d member device(s)", len(missing)))
		r.MissingDevices = missing
		return r
	}
	return nil
}
