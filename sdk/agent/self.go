package agent

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// ConfigError says why a runtime cannot act as an agent: the agent has no
// device in the conversation's audience, or the key it holds is not the
// one registered for that device. Asking again does not help until an
// operator fixes it (the user sees agent.error not_configured).
type ConfigError struct{ Reason string }

func (e *ConfigError) Error() string { return "agent not set up: " + e.Reason }

// Self is an agent as its runtime acts for it: its id, kind, its one
// device, and that device's private key.
type Self struct {
	ID     string
	Kind   string // agentKind, stamped on what it sends (agentkind)
	Device string
	Key    *e2ee.PrivateKey
}

// Identify finds the agent's device in audience (an invoke's, or persist's
// answer's) and checks that k is the key registered for it: a mismatched
// key would seal replies with a key nobody checks and open nothing. On a
// *ConfigError the returned Self still names the device when one was
// found, so that the failure can be reported to the conversation.
func Identify(k Key, kind string, audience *events.Audience) (Self, error) {
	s := Self{ID: k.Agent, Kind: kind, Key: k.Private}
	devices := audience.DevicesOf(k.Agent)
	if len(devices) == 0 {
		return s, &ConfigError{"the agent has no current device in this conversation"}
	}
	s.Device = devices[0]
	want := k.Private.PublicKeyBytes()
	for _, d := range devices {
		pub, err := audience.PublicKey(d)
		if err != nil {
			continue
		}
		if bytes.Equal(pub.Bytes(), want) {
			if k.Device != "" && k.Device != d {
				return Self{ID: k.Agent, Kind: kind, Device: d}, &ConfigError{"AGENT_KEYS names another device than the agent's"}
			}
			s.Device = d
			return s, nil
		}
	}
	s.Key = nil
	return s, &ConfigError{"the key is not the one registered for the agent's device"}
}

// ReplyID is the client message id of the agent's reply to the message at
// seq: fixed, so that every attempt's reply is the same message to
// persist, which stores it once (conversation, sender, device, this id).
func ReplyID(seq int64) string { return "r-" + strconv.FormatInt(seq, 10) }

// ReplyTo is the seq a reply's client message id answers; ok is false for
// any other id.
func ReplyTo(clientMessageID string) (seq int64, ok bool) {
	s, found := strings.CutPrefix(clientMessageID, "r-")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// Open decrypts a stored message with the agent's key, as any member
// device would (the sealing is bound to conversation, sender device and
// client message id).
func (s Self) Open(m events.Message) (e2ee.Content, error) {
	plain, err := e2ee.Open(m.Envelope, e2ee.AssociatedData{Conversation: m.ConversationID,
		SenderDevice: m.SenderDevice, ClientMessageID: m.ClientMessageID}, s.Device, s.Key)
	if err != nil {
		return e2ee.Content{}, err
	}
	return e2ee.UnmarshalContent(plain)
}

// ReplyAD is what the reply to seq is bound to.
func (s Self) ReplyAD(conversation string, seq int64) e2ee.AssociatedData {
	return e2ee.AssociatedData{Conversation: conversation, SenderDevice: s.Device, ClientMessageID: ReplyID(seq)}
}

// SealReply seals c as the reply to seq for recipients — persist stores
// it only when they are exactly the conversation's current member devices
// (an invoke's audience, or the audience of a rejection). It is sealed
// once (e2ee.SealOnce, a v2 envelope with the message key wrapped for
// each device): an agent keeps no sender key chain, and each device is
// delivered its own wrapped key only, so a reply into a group of 1,024
// costs each delivery what a person's group message does.
func (s Self) SealReply(conversation string, seq int64, c e2ee.Content, recipients []e2ee.Recipient) (*e2ee.Envelope, error) {
	c.ReplyTo = seq
	b, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return e2ee.SealOnce(b, s.ReplyAD(conversation, seq), recipients)
}

// OpenReply opens the agent's own sealed reply to seq (its device is
// always among the recipients), to seal it again for other devices.
func (s Self) OpenReply(conversation string, seq int64, env *e2ee.Envelope) ([]byte, error) {
	return e2ee.Open(env, s.ReplyAD(conversation, seq), s.Device, s.Key)
}

// meta is the attributes of every event the agent sends: sender and
// device are the agent's, agentid names it (route checks it against the
// members before fanning anything out).
func (s Self) meta(conversation string) events.Meta {
	return events.Meta{Source: events.SourceAgentPrefix + s.ID, Conversation: conversation,
		Sender: s.ID, Device: s.Device, AgentID: s.ID}
}

func (s Self) stamped(e event.Event, err error) (event.Event, error) {
	if err == nil {
		events.StampAgent(&e, s.ID, s.Kind)
	}
	return e, err
}

// callID names the agent's call for the message at seq in event ids.
func (s Self) callID(conversation string, seq int64) string {
	return conversation + "/" + strconv.FormatInt(seq, 10) + "/" + s.ID
}

// Reply is the reply to seq as an ordinary message.sent (persist stores
// it, route delivers it). Its event id is fixed by the reply id, so a
// resend is the same event.
//
// The reply is signed with the agent's signing key,
// e2ee.DeriveSigningKey of its X25519 key (the one key AGENT_KEYS holds;
// whoever registers the agent publishes the same derived key, see
// docs/agents.md), so that members' clients show it as verified.
func (s Self) Reply(conversation string, seq int64, env *e2ee.Envelope) (event.Event, error) {
	if s.Key != nil && env != nil {
		signed := *env // the caller's envelope (a ledger's record) stays as it was
		e2ee.SignEnvelope(&signed, conversation, s.Device, e2ee.DeriveSigningKey(s.Key))
		env = &signed
	}
	return s.stamped(events.NewMessageSent(events.SourceAgentPrefix+s.ID, conversation, s.ID, s.Device,
		events.MessageSent{ClientMessageID: ReplyID(seq), Envelope: env}))
}

// Typing is "thinking" while the agent works, "paused" when it is done.
func (s Self) Typing(conversation, state string) (event.Event, error) {
	return s.stamped(events.NewTyping(events.SourceAgentPrefix+s.ID, conversation, s.ID, s.Device, state))
}

// Partial is the index-th chunk of the reply to seq being streamed,
// sealed with e2ee.PartialAD (ephemeral, never stored).
func (s Self) Partial(conversation string, seq int64, index int, env *e2ee.Envelope) (event.Event, error) {
	return s.stamped(events.New(events.TypeAgentPartial, events.DeriveID("agent-partial", s.callID(conversation, seq), strconv.Itoa(index)),
		s.meta(conversation), events.AgentPartial{AgentID: s.ID, ReplyTo: seq, Index: index, Envelope: env}))
}

// Done says the reply to seq is stored. Send it once persist answered
// message.stored for the reply (OutcomeOf), so that it never overtakes
// the reply.
func (s Self) Done(conversation string, seq int64) (event.Event, error) {
	return s.stamped(events.New(events.TypeAgentDone, events.DeriveID("agent-done", s.callID(conversation, seq)),
		s.meta(conversation), events.AgentDone{AgentID: s.ID, ReplyTo: seq, ClientMessageID: ReplyID(seq)}))
}

// Error tells the conversation the agent could not answer seq; message is
// shown to the user.
func (s Self) Error(conversation string, seq int64, code, message string, retryable bool) (event.Event, error) {
	return s.stamped(events.New(events.TypeAgentError, events.DeriveID("agent-error", s.callID(conversation, seq)),
		s.meta(conversation), events.AgentError{AgentID: s.ID, ReplyTo: seq, Code: code, Message: message, Retryable: retryable}))
}

// Error codes an agent reports (agent.error), shared by the runtimes.
const (
	CodeUnreadable    = "unreadable"     // the message was not sealed for the agent, or does not open
	CodeNotConfigured = "not_configured" // no key here, or not the agent's registered device key
	CodeNotStored     = "not_stored"     // persist would not store the reply
)

// String is for logs: the agent and its device, never the key.
func (s Self) String() string { return fmt.Sprintf("%s/%s", s.ID, s.Device) }
