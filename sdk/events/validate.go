package events

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// spec is what the catalog requires of one event type.
type spec struct {
	actor bool          // senderid and deviceid must be present
	agent bool          // agentid must be present
	scope scope         // what the event is about: a conversation (most) or a device
	data  func() dataer // a fresh data value to decode into
}

// scope is what an event is about, which decides its conversation
// attributes.
type scope int

const (
	// aboutConversation: conversationid is required, and is the subject
	// and the partition key.
	aboutConversation scope = iota
	// aboutDevice (a resume): no conversationid and no subject; the
	// partition key is the sender's user id, so a user's requests stay in
	// order on Kafka.
	aboutDevice
)

// dataer is a data struct that can check its own fields.
type dataer interface{ check() error }

var catalog = map[string]spec{
	TypeMessageSent:            {actor: true, data: func() dataer { return new(MessageSent) }},
	TypeMessageStored:          {actor: true, data: func() dataer { return new(Message) }},
	TypeMessageRejected:        {actor: true, data: func() dataer { return new(MessageRejected) }},
	TypeReceiptDelivered:       {actor: true, data: func() dataer { return new(Receipt) }},
	TypeReceiptRead:            {actor: true, data: func() dataer { return new(Receipt) }},
	TypeTyping:                 {actor: true, data: func() dataer { return new(Typing) }},
	TypeSyncRequested:          {actor: true, data: func() dataer { return new(SyncRequested) }},
	TypeSyncBatch:              {actor: true, data: func() dataer { return new(SyncBatch) }},
	TypeResumeRequested:        {actor: true, scope: aboutDevice, data: func() dataer { return new(ResumeRequested) }},
	TypeResumeBatch:            {actor: true, scope: aboutDevice, data: func() dataer { return new(ResumeBatch) }},
	TypeAgentInvoke:            {actor: true, agent: true, data: func() dataer { return new(AgentInvoke) }},
	TypeAgentPartial:           {actor: true, agent: true, data: func() dataer { return new(AgentPartial) }},
	TypeAgentDone:              {actor: true, agent: true, data: func() dataer { return new(AgentDone) }},
	TypeAgentError:             {actor: true, agent: true, data: func() dataer { return new(AgentError) }},
	TypeMediaUploadRequested:   {actor: true, data: func() dataer { return new(MediaUploadRequested) }},
	TypeMediaUploadReady:       {actor: true, data: func() dataer { return new(MediaUploadReady) }},
	TypeMediaStored:            {actor: true, data: func() dataer { return new(MediaStored) }},
	TypeMediaUploadCompleted:   {actor: true, data: func() dataer { return new(MediaStored) }},
	TypeMediaDownloadRequested: {actor: true, data: func() dataer { return new(MediaDownloadRequested) }},
	TypeMediaDownloadReady:     {actor: true, data: func() dataer { return new(MediaDownloadReady) }},
	TypeMediaRejected:          {actor: true, data: func() dataer { return new(MediaRejected) }},
	TypeConversationChanged:    {actor: true, data: func() dataer { return new(ConversationChanged) }},
	TypeDeviceChanged:          {actor: true, scope: aboutDevice, data: func() dataer { return new(DeviceChanged) }},
	TypePresenceChanged:        {actor: true, scope: aboutDevice, data: func() dataer { return new(PresenceChanged) }},
	TypePresenceRequested:      {actor: true, scope: aboutDevice, data: func() dataer { return new(PresenceRequested) }},
	TypePresenceState:          {actor: true, scope: aboutDevice, data: func() dataer { return new(PresenceState) }},
}

// Validate checks e against the catalog: CloudEvents attributes, a known
// type, the conversation as subject and partition key, the extensions the
// type requires, and data that decodes strictly and passes its own checks.
// Every error wraps ErrInvalid and says which part is wrong.
func Validate(e event.Event) error {
	_, err := validate(e, nil, nil)
	return err
}

// validate is Validate. When into is a pointer to e's catalog data type,
// the data is decoded into it (and decoded reports true), so that a caller
// who wants the data decodes it once, not once to check and once to use.
// When built is (a pointer to) the value e's data was just encoded from,
// of e's catalog data type, it is checked as it is, without decoding.
func validate(e event.Event, into, built dataer) (decoded bool, err error) {
	if err := e.Validate(); err != nil {
		return false, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	typ := e.Type()
	sp, ok := catalog[typ]
	if !ok {
		return false, fmt.Errorf("%w: unknown type %q", ErrInvalid, typ)
	}
	ext := func(name string) string { s, _ := e.Extensions()[name].(string); return s }
	conv := ext(ExtConversationID)
	switch {
	case sp.scope == aboutDevice && (conv != "" || e.Subject() != ""):
		return false, fmt.Errorf("%w: %s: about a device: no %s and no subject", ErrInvalid, typ, ExtConversationID)
	case sp.scope == aboutDevice && ext(ExtPartitionKey) != ext(ExtSenderID):
		return false, fmt.Errorf("%w: %s: extension %s must be the sender id", ErrInvalid, typ, ExtPartitionKey)
	case sp.scope == aboutDevice:
	case !ValidID(conv):
		return false, fmt.Errorf("%w: %s: extension %s: bad conversation id %q", ErrInvalid, typ, ExtConversationID, conv)
	case e.Subject() != conv:
		return false, fmt.Errorf("%w: %s: subject %q is not the conversation %q", ErrInvalid, typ, e.Subject(), conv)
	case ext(ExtPartitionKey) != conv:
		return false, fmt.Errorf("%w: %s: extension %s must be the conversation id", ErrInvalid, typ, ExtPartitionKey)
	}
	if sp.actor {
		if !ValidID(ext(ExtSenderID)) || !ValidID(ext(ExtDeviceID)) {
			return false, fmt.Errorf("%w: %s: extensions %s and %s are required", ErrInvalid, typ, ExtSenderID, ExtDeviceID)
		}
	}
	if sp.agent && !ValidID(ext(ExtAgentID)) {
		return false, fmt.Errorf("%w: %s: extension %s is required", ErrInvalid, typ, ExtAgentID)
	}
	if ct := e.DataContentType(); ct != "" && ct != "application/json" {
		return false, fmt.Errorf("%w: %s: datacontenttype %q, want application/json", ErrInvalid, typ, ct)
	}
	if len(e.Data()) == 0 {
		return false, fmt.Errorf("%w: %s: no data", ErrInvalid, typ)
	}
	if len(e.Data()) > MaxDataSize {
		return false, fmt.Errorf("%w: %s: data over %d bytes", ErrInvalid, typ, MaxDataSize)
	}
	d := sp.data()
	if built != nil && reflect.TypeOf(built) == reflect.TypeOf(d) {
		if err := built.check(); err != nil {
			return false, fmt.Errorf("%w: %s: %v", ErrInvalid, typ, err)
		}
		return false, nil
	}
	if into != nil && reflect.TypeOf(into) == reflect.TypeOf(d) {
		d, decoded = into, true
	}
	if err := decodeStrict(e.Data(), d); err != nil {
		return false, fmt.Errorf("%s: %w", typ, err)
	}
	if err := d.check(); err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrInvalid, typ, err)
	}
	return decoded, nil
}

func (d *MessageSent) check() error {
	if !ValidID(d.ClientMessageID) {
		return fmt.Errorf("bad clientMessageId %q", d.ClientMessageID)
	}
	if strings.HasPrefix(d.ClientMessageID, protocol.SystemIDPrefix) {
		return fmt.Errorf("clientMessageId %q: the prefix %s is the server's (membership entries)", d.ClientMessageID, protocol.SystemIDPrefix)
	}
	return d.Envelope.Validate()
}

func (m *Message) check() error {
	switch {
	case !ValidID(m.ConversationID) || !ValidID(m.SenderID) || !ValidID(m.SenderDevice) || !ValidID(m.ClientMessageID):
		return fmt.Errorf("message ids missing or malformed")
	case m.Seq < 1:
		return fmt.Errorf("seq %d, want >= 1", m.Seq)
	case m.StoredAt.IsZero():
		return fmt.Errorf("storedAt missing")
	}
	if err := m.Audience.check(); err != nil {
		return err
	}
	if m.System != nil {
		if m.Envelope != nil {
			return fmt.Errorf("a membership entry has no envelope")
		}
		return m.System.Check()
	}
	return m.Envelope.Validate()
}

// check accepts no audience (nil) or one whose ids are well formed.
func (a *Audience) check() error {
	if a == nil {
		return nil
	}
	for i, d := range a.Devices {
		if !ValidID(d.User) || !ValidID(d.Device) {
			return fmt.Errorf("audience.devices[%d]: bad user or device id", i)
		}
	}
	for i, ag := range a.Agents {
		if !ValidID(ag.ID) {
			return fmt.Errorf("audience.agents[%d]: bad agent id", i)
		}
	}
	return nil
}

func (d *MessageRejected) check() error {
	if d.Code == "" || d.Reason == "" {
		return fmt.Errorf("code and reason are required")
	}
	return d.Audience.check()
}

func (d *Receipt) check() error {
	if d.Seq < 1 {
		return fmt.Errorf("seq %d, want >= 1", d.Seq)
	}
	return nil
}

func (d *Typing) check() error {
	switch d.State {
	case TypingStarted, TypingStopped, TypingThinking:
		return nil
	}
	return fmt.Errorf("state %q, want %s, %s or %s", d.State, TypingStarted, TypingStopped, TypingThinking)
}

func (d *SyncRequested) check() error {
	if d.After < 0 || d.Limit < 0 || d.Limit > MaxSyncLimit {
		return fmt.Errorf("after must be >= 0 and limit in 0..%d", MaxSyncLimit)
	}
	if d.Before < 0 || (d.Before > 0 && d.Receipts) {
		return fmt.Errorf("before must be >= 0, and a page (before) takes no receipts")
	}
	if d.RequestID != "" && !ValidID(d.RequestID) {
		return fmt.Errorf("bad request id %q", d.RequestID)
	}
	return nil
}

func (d *SyncBatch) check() error {
	if d.RequestID != "" && !ValidID(d.RequestID) {
		return fmt.Errorf("bad request id %q", d.RequestID)
	}
	prev := int64(0)
	for i := range d.Messages {
		if err := d.Messages[i].check(); err != nil {
			return fmt.Errorf("messages[%d]: %v", i, err)
		}
		if d.Messages[i].Seq <= prev {
			return fmt.Errorf("messages[%d]: seq not increasing", i)
		}
		prev = d.Messages[i].Seq
	}
	for i, c := range d.Cursors {
		if !ValidID(c.User) || c.Delivered < 0 || c.Read < 0 {
			return fmt.Errorf("cursors[%d]: bad user id or negative seq", i)
		}
	}
	return nil
}

func (d *ResumeRequested) check() error {
	if len(d.Positions) > MaxResumeConversations {
		return fmt.Errorf("at most %d positions", MaxResumeConversations)
	}
	if d.Limit < 0 || d.Limit > MaxSyncLimit {
		return fmt.Errorf("limit must be in 0..%d", MaxSyncLimit)
	}
	if d.From != "" && !ValidID(d.From) {
		return fmt.Errorf("bad from %q", d.From)
	}
	if d.RequestID != "" && !ValidID(d.RequestID) {
		return fmt.Errorf("bad request id %q", d.RequestID)
	}
	seen := make(map[string]bool, len(d.Positions))
	for i, p := range d.Positions {
		if !ValidID(p.ConversationID) || p.Seq < 0 || seen[p.ConversationID] {
			return fmt.Errorf("positions[%d]: bad or repeated conversation id %q, or a negative seq", i, p.ConversationID)
		}
		seen[p.ConversationID] = true
	}
	return nil
}

func (d *ResumeBatch) check() error {
	if d.RequestID != "" && !ValidID(d.RequestID) {
		return fmt.Errorf("bad request id %q", d.RequestID)
	}
	if d.Code != "" {
		if d.Reason == "" || len(d.Conversations) > 0 || len(d.Gone) > 0 || d.Next != "" {
			return fmt.Errorf("a refusal has a code and a reason, and nothing else")
		}
		return nil
	}
	if len(d.Conversations) > MaxResumeConversations || len(d.Gone) > MaxResumeConversations {
		return fmt.Errorf("at most %d conversations and %d gone", MaxResumeConversations, MaxResumeConversations)
	}
	if d.Next != "" && !ValidID(d.Next) {
		return fmt.Errorf("bad next %q", d.Next)
	}
	for i, c := range d.Conversations {
		b := SyncBatch{Messages: c.Messages, LastSeq: c.LastSeq, Cursors: c.Cursors}
		if !ValidID(c.ConversationID) {
			return fmt.Errorf("conversations[%d]: bad conversation id %q", i, c.ConversationID)
		}
		if err := b.check(); err != nil {
			return fmt.Errorf("conversations[%d]: %v", i, err)
		}
		for j, m := range c.Messages {
			if m.ConversationID != c.ConversationID {
				return fmt.Errorf("conversations[%d].messages[%d]: of conversation %q", i, j, m.ConversationID)
			}
		}
	}
	for i, id := range d.Gone {
		if !ValidID(id) {
			return fmt.Errorf("gone[%d]: bad conversation id %q", i, id)
		}
	}
	return nil
}

func (d *AgentInvoke) check() error {
	if !ValidID(d.AgentID) {
		return fmt.Errorf("bad agentId")
	}
	if err := d.Message.check(); err != nil {
		return err
	}
	return d.Message.Audience.checkSealable(d.AgentID)
}

func (d *AgentPartial) check() error {
	if !ValidID(d.AgentID) || d.ReplyTo < 1 || d.Index < 0 {
		return fmt.Errorf("agentId, replyTo and index are required")
	}
	return d.Envelope.Validate()
}

func (d *AgentDone) check() error {
	if !ValidID(d.AgentID) || d.ReplyTo < 1 || !ValidID(d.ClientMessageID) {
		return fmt.Errorf("agentId, replyTo and clientMessageId are required")
	}
	return nil
}

func (d *AgentError) check() error {
	if !ValidID(d.AgentID) || d.ReplyTo < 1 || d.Code == "" {
		return fmt.Errorf("agentId, replyTo and code are required")
	}
	return nil
}

func (d *MediaUploadRequested) check() error {
	switch {
	case !ValidID(d.MediaID) || d.Size < 1 || !validSHA256(d.SHA256):
		return fmt.Errorf("mediaId, size >= 1 and a hex sha256 (64 lower-case hex digits) are required")
	case !slices.Contains(MediaKinds, d.Kind):
		return fmt.Errorf("kind %q, want one of %s", d.Kind, strings.Join(MediaKinds, ", "))
	}
	// The size limit is media's (MEDIA_MAX_SIZE), which refuses a larger
	// upload with a clear answer; a 400 here would only dead-letter it.
	return nil
}

// validSHA256 reports whether s is a SHA-256 digest in lower-case hex.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (d *MediaUploadReady) check() error {
	switch {
	case !ValidID(d.MediaID) || d.ExpiresAt.Before(time.Unix(0, 0)):
		return fmt.Errorf("mediaId and expiresAt are required")
	case (d.UploadURL == "") == (len(d.Parts) == 0):
		return fmt.Errorf("either uploadUrl or parts is required")
	case len(d.Parts) > MaxMediaParts:
		return fmt.Errorf("%d parts, at most %d", len(d.Parts), MaxMediaParts)
	}
	for i, p := range d.Parts {
		if p.URL == "" || p.Size < 1 {
			return fmt.Errorf("parts[%d]: url and size >= 1 are required", i)
		}
	}
	return nil
}

func (d *MediaStored) check() error {
	if !ValidID(d.MediaID) || d.Size < 1 || !validSHA256(d.SHA256) {
		return fmt.Errorf("mediaId, size and a hex sha256 are required")
	}
	if len(d.Parts) > MaxMediaParts {
		return fmt.Errorf("%d parts, at most %d", len(d.Parts), MaxMediaParts)
	}
	for i, p := range d.Parts {
		if !validSHA256(p) {
			return fmt.Errorf("parts[%d]: a hex sha256 is required", i)
		}
	}
	return nil
}

func (d *MediaDownloadRequested) check() error {
	if !ValidID(d.MediaID) {
		return fmt.Errorf("mediaId is required")
	}
	return nil
}

func (d *MediaDownloadReady) check() error {
	if !ValidID(d.MediaID) || d.DownloadURL == "" || d.ExpiresAt.Before(time.Unix(0, 0)) || d.Size < 1 || !validSHA256(d.SHA256) {
		return fmt.Errorf("mediaId, downloadUrl, expiresAt, size and sha256 are required")
	}
	return nil
}

func (d *MediaRejected) check() error {
	switch {
	case !ValidID(d.MediaID) || d.Code == "" || d.Reason == "":
		return fmt.Errorf("mediaId, code and reason are required")
	case d.Request != TypeMediaUploadRequested && d.Request != TypeMediaUploadCompleted && d.Request != TypeMediaDownloadRequested:
		return fmt.Errorf("request %q is not a media request type", d.Request)
	}
	return nil
}

func (d *ConversationChanged) check() error {
	switch {
	case d.Kind != "direct" && d.Kind != "group":
		return fmt.Errorf("kind %q, want direct or group", d.Kind)
	case d.Rev < 1:
		return fmt.Errorf("rev %d, want >= 1", d.Rev)
	}
	for i, m := range d.Members {
		if !ValidID(m) {
			return fmt.Errorf("members[%d]: bad user id", i)
		}
	}
	for i, m := range d.Removed {
		if !ValidID(m) || slices.Contains(d.Members, m) {
			return fmt.Errorf("removed[%d]: bad user id, or still a member", i)
		}
	}
	if len(d.Title) > MaxTitleBytes {
		return fmt.Errorf("title over %d bytes", MaxTitleBytes)
	}
	for i, m := range d.Admins {
		if !slices.Contains(d.Members, m) {
			return fmt.Errorf("admins[%d]: not a member", i)
		}
	}
	if d.Change != nil {
		if err := d.Change.Check(); err != nil {
			return err
		}
		if d.Change.Rev != d.Rev {
			return fmt.Errorf("change.rev %d, want the event's rev %d", d.Change.Rev, d.Rev)
		}
	}
	return nil
}

// MaxTitleBytes bounds a conversation's title in a change event (accounts
// allows 128 characters, at most 4 bytes each).
const MaxTitleBytes = 512

func (d *DeviceChanged) check() error {
	if !ValidID(d.User) || !ValidID(d.Device) {
		return fmt.Errorf("user and device are required")
	}
	return nil
}
