package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// ErrInvalid is wrapped by every error Validate and Decode return.
var ErrInvalid = errors.New("invalid event")

// MaxDataSize caps an event's data. It is above the largest envelope
// (e2ee.MaxCiphertext plus recipients) and below broker limits.
const MaxDataSize = 512 << 10

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// ValidID reports whether s can be a user, device, conversation, agent,
// media or client message id: 1–64 of letters, digits and _ . : - .
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Meta is what an event is about and who caused it. Sender and Device are
// the authenticated user and device, never a client's claim. Conversation
// is empty only for an event about a device (a resume) or a delivery of one.
type Meta struct {
	Source       string
	Conversation string
	Sender       string
	Device       string
	AgentID      string
	TraceParent  string
}

// New builds an event of a catalog type with id, the attributes from m and
// data as JSON, and validates it. Most callers use the typed constructors.
func New(typ, id string, m Meta, data any) (event.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource(m.Source)
	e.SetTime(time.Now().UTC())
	if m.Conversation != "" {
		e.SetSubject(m.Conversation)
		e.SetExtension(ExtConversationID, m.Conversation)
		e.SetExtension(ExtPartitionKey, m.Conversation)
	} else if m.Sender != "" {
		// About a device (a resume): its user's events stay in order.
		e.SetExtension(ExtPartitionKey, m.Sender)
	}
	for name, v := range map[string]string{
		ExtSenderID: m.Sender, ExtDeviceID: m.Device, ExtAgentID: m.AgentID, ExtTraceParent: m.TraceParent,
	} {
		if v != "" {
			e.SetExtension(name, v)
		}
	}
	if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return e, fmt.Errorf("%w: %s: data: %v", ErrInvalid, typ, err)
	}
	_, err := validate(e, nil, builtFrom(data)) // the data is checked as built, not decoded again
	return e, err
}

// builtFrom is data as a dataer (a pointer to a copy of it), or nil.
func builtFrom(data any) dataer {
	if data == nil {
		return nil
	}
	if d, ok := data.(dataer); ok {
		return d
	}
	v := reflect.New(reflect.TypeOf(data))
	v.Elem().Set(reflect.ValueOf(data))
	d, _ := v.Interface().(dataer)
	return d
}

// MessageID is the event id of a sent message: the same (user, device,
// client message id) always gives the same id, so a resend is the same
// event and every hop can dedupe on it.
func MessageID(user, device, clientMessageID string) string {
	return DeriveID("msg", user, device, clientMessageID)
}

// DeriveID hashes parts into a stable event id.
func DeriveID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// RandomID is for events that are never retried by their emitter (typing).
func RandomID() string { return uuid.NewString() }

// NewMessageSent is what a connector emits for a client's send frame.
func NewMessageSent(source, conversation, user, device string, d MessageSent) (event.Event, error) {
	return New(TypeMessageSent, MessageID(user, device, d.ClientMessageID),
		Meta{Source: source, Conversation: conversation, Sender: user, Device: device}, d)
}

// NewMessageStored is persist's reply once m has its seq. When the sender
// is an agent member of m.Audience, the reply carries its agentid and
// agentkind: the agent's runtime hears that its reply was stored.
func NewMessageStored(m Message) (event.Event, error) {
	e, err := New(TypeMessageStored, DeriveID("stored", m.ConversationID, fmt.Sprint(m.Seq)),
		Meta{Source: SourcePersist, Conversation: m.ConversationID, Sender: m.SenderID, Device: m.SenderDevice}, m)
	stampSender(&e, m.SenderID, m.Audience)
	return e, err
}

// NewMessageRejected is persist's reply when a message cannot be stored.
func NewMessageRejected(conversation, user, device string, d MessageRejected) (event.Event, error) {
	e, err := New(TypeMessageRejected, DeriveID("rejected", user, device, d.ClientMessageID),
		Meta{Source: SourcePersist, Conversation: conversation, Sender: user, Device: device}, d)
	stampSender(&e, user, d.Audience)
	return e, err
}

// NewReceipt is what a connector emits for a delivered or read ack.
func NewReceipt(typ, source, conversation, user, device string, seq int64) (event.Event, error) {
	return New(typ, DeriveID(typ, conversation, user, device, fmt.Sprint(seq)),
		Meta{Source: source, Conversation: conversation, Sender: user, Device: device}, Receipt{Seq: seq})
}

// NewTyping is an ephemeral indicator from a device (or an agent).
func NewTyping(source, conversation, user, device, state string) (event.Event, error) {
	return New(TypeTyping, RandomID(),
		Meta{Source: source, Conversation: conversation, Sender: user, Device: device}, Typing{State: state})
}

// NewSyncRequested is a device asking for what it missed.
func NewSyncRequested(source, conversation, user, device string, d SyncRequested) (event.Event, error) {
	return New(TypeSyncRequested, RandomID(),
		Meta{Source: source, Conversation: conversation, Sender: user, Device: device}, d)
}

// NewSyncBatch is route's answer to a sync request, for the requesting device.
func NewSyncBatch(conversation, user, device string, d SyncBatch) (event.Event, error) {
	return New(TypeSyncBatch, RandomID(),
		Meta{Source: SourceRoute, Conversation: conversation, Sender: user, Device: device}, d)
}

// NewResumeRequested is a device asking for what it missed in all of its
// user's conversations: an event about the device, with no conversation.
func NewResumeRequested(source, user, device string, d ResumeRequested) (event.Event, error) {
	return New(TypeResumeRequested, RandomID(), Meta{Source: source, Sender: user, Device: device}, d)
}

// NewResumeBatch is route's answer to a resume request, for the requesting device.
func NewResumeBatch(user, device string, d ResumeBatch) (event.Event, error) {
	return New(TypeResumeBatch, RandomID(), Meta{Source: SourceRoute, Sender: user, Device: device}, d)
}

// NewConversationChanged is accounts' announcement that a conversation's
// membership reached d.Rev; by and byDevice made the change. Its id is
// keyed by (conversation, rev): a repeat is the same event.
func NewConversationChanged(conversation, by, byDevice string, d ConversationChanged) (event.Event, error) {
	return New(TypeConversationChanged, DeriveID("conversation.changed", conversation, strconv.FormatInt(d.Rev, 10)),
		Meta{Source: SourceAccounts, Conversation: conversation, Sender: by, Device: byDevice}, d)
}

// NewDeviceChanged is accounts' announcement that a device was registered
// or revoked. Its id is keyed by (device, revoked).
func NewDeviceChanged(d DeviceChanged) (event.Event, error) {
	id := DeriveID("device.changed", d.Device, strconv.FormatBool(d.Revoked))
	if d.SigningKey != "" && !d.Revoked {
		// Its signing key registered: another change than the device's
		// registration, so not the same event.
		id = DeriveID("device.changed", d.Device, "false", d.SigningKey)
	}
	return New(TypeDeviceChanged, id, Meta{Source: SourceAccounts, Sender: d.User, Device: d.Device}, d)
}

// NewAgentInvoke asks agent to answer m, the stored message as persist
// replied it: m.Audience (every member device with its public key) is
// required, it is whom the agent seals its reply for. Its id is keyed by
// (conversation, seq, agent), so every redelivery is recognisably the same
// call.
func NewAgentInvoke(agentID, agentKind string, m Message) (event.Event, error) {
	e, err := New(TypeAgentInvoke, DeriveID("invoke", m.ConversationID, fmt.Sprint(m.Seq), agentID),
		Meta{Source: SourceRoute, Conversation: m.ConversationID, Sender: m.SenderID, Device: m.SenderDevice, AgentID: agentID},
		AgentInvoke{AgentID: agentID, Message: m})
	if err == nil && agentKind != "" {
		e.SetExtension(ExtAgentKind, agentKind)
	}
	return e, err
}

// Decode validates e and decodes its data into T, rejecting unknown fields.
// When T is e's catalog data type (the usual case) the data is decoded
// once, checked and returned.
func Decode[T any](e event.Event) (T, error) {
	var v T
	into, _ := any(&v).(dataer)
	decoded, err := validate(e, into, nil)
	if err != nil || decoded {
		return v, err
	}
	err = decodeStrict(e.Data(), &v)
	return v, err
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: data: %v", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data: trailing content", ErrInvalid)
	}
	return nil
}
