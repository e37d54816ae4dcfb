// Package protocol is the WebSocket frame protocol between clients and
// connectors (version 1, subprotocol "agentchat.v1"). Frames are JSON text
// messages with a "type"; docs/protocol.md describes each one. The browser
// client, the Go client and the connector all follow this file.
package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Subprotocol is offered by clients and chosen by the connector. A browser,
// which cannot set headers, passes its token as a second subprotocol
// TokenSubprotocolPrefix+token.
const (
	Subprotocol            = "agentchat.v1"
	TokenSubprotocolPrefix = "bearer."
)

// MaxFrameSize bounds one inbound frame: the largest envelope plus framing.
// The largest envelope is the largest ciphertext (e2ee.MaxCiphertext,
// base64 in JSON: ≈ 87 KiB) wrapped for the most devices a v1 envelope
// may name (e2ee.MaxRecipients, 2,048, ≈ 193 bytes a key in JSON:
// ≈ 388 KiB), ≈ 483 KB as a send frame; TestLargestEnvelopeFits keeps this
// true. Group messages (v2, sender keys) carry one ciphertext and keys for
// agent devices only; v1 envelopes that large are sender key
// distributions and agents' replies in the largest groups.
const MaxFrameSize = 512 << 10

// Cursor is how far one member has received and shown a conversation.
type Cursor struct {
	User      string `json:"user"`
	Delivered int64  `json:"delivered"`
	Read      int64  `json:"read"`
}

// DefaultSyncLimit is a sync's batch size when it names none.
const DefaultSyncLimit = 100

// Position is how far a client has one conversation: every message up to
// Seq, nothing missing below it (0: none yet).
type Position struct {
	Conversation string `json:"conversation"`
	Seq          int64  `json:"seq"`
}

// MaxResumePositions caps the positions of one resume frame, and the
// conversations one resumed answer covers (a page): a client with more
// conversations resumes in pages (docs/protocol.md, "Reconnect and resume").
const MaxResumePositions = 100

// Frame types, client → connector.
const (
	TypeSend      = "send"      // a message: id (client message id), conversation, envelope
	TypeDelivered = "delivered" // ack: I have everything up to seq in conversation
	TypeRead      = "read"      // ack: I have shown everything up to seq
	TypeTyping    = "typing"    // state: typing | paused (also connector → client, with sender)
	TypeSync      = "sync"      // give me conversation's messages after seq
	TypeResume    = "resume"    // give me what I missed in all my conversations: positions, one frame
	TypePing      = "ping"      // application-level keepalive; answered with pong

	// Media (docs/protocol.md, "Media"): the bytes go straight to S3
	// through presigned URLs, never through the connector.
	TypeUpload   = "upload"   // I want to upload: id (media id), conversation, size and sha256 of the encrypted blob, kind
	TypeUploaded = "uploaded" // my upload of id is done (size, sha256; parts: each part's sha256 after a multipart upload): check it and confirm
	TypeDownload = "download" // I want to fetch media id of conversation

	// TypePresence (client → connector): send me the presence of everyone
	// I may watch (once per connect; changes are pushed after it). The
	// same type goes connector → client: one user's presence (user,
	// online, lastSeen; neither online nor lastSeen: nothing to show), or
	// the answer to the request (id, and users: one presence frame each;
	// a watched user not listed has nothing to show). docs/protocol.md,
	// "Presence".
	TypePresence = "presence"
)

// Frame types, connector → client.
const (
	TypeHello     = "hello"     // after upgrade: who you are, which connector
	TypeStored    = "stored"    // ✓ your message id has seq in conversation
	TypeMessage   = "message"   // a message delivered to this device
	TypeReceipt   = "receipt"   // someone's delivered/read cursor moved (kind, user, seq)
	TypeBatch     = "batch"     // sync answer: messages in seq order, more?
	TypeAgent     = "agent"     // agent activity: partial / status / done / error
	TypeError     = "error"     // code, message, and the frame id it refers to
	TypePong      = "pong"      // answer to ping
	TypeReconnect = "reconnect" // connector is draining: reconnect after afterMs
	TypeResumed   = "resumed"   // resume answer: a batch per conversation, gone ones, the next page
	// TypeResync tells a client that deliveries may have been lost (the
	// connector's Redis subscription was re-established): sync every
	// conversation after the last seq it has. The socket stays open.
	TypeResync = "resync"
	// TypeMedia answers a media request (kind MediaUpload: url, headers
	// and expiresAt to PUT the blob; MediaStored: the blob is in, size and
	// sha256 as stored; MediaDownload: url and expiresAt to GET it). A
	// refused request gets an error frame with the media id instead.
	TypeMedia = "media"
	// TypeConversation tells the members' devices that a conversation
	// they are in was created or changed its members (and a removed
	// member's devices that they are out): kind, rev, members, title, and
	// sender who made the change. Keep the highest rev.
	TypeConversation = "conversation"
)

// Kinds of the agent frame.
const (
	AgentPartial = "partial" // a chunk of the answer being streamed
	AgentStatus  = "status"  // a lifecycle receipt: state (and tools)
	AgentDone    = "done"    // the reply is stored
	AgentError   = "error"   // the agent could not answer
)

// States of an agent status frame (the event's, events.Status*): where
// an answer stands (docs/protocol.md, "agent").
const (
	StatusWaking    = "waking"
	StatusQueued    = "queued"
	StatusThinking  = "thinking"
	StatusTool      = "tool"
	StatusStreaming = "streaming"
)

// Kinds of the media frame.
const (
	MediaUpload   = "upload"
	MediaStored   = "stored"
	MediaDownload = "download"
)

// Part is one part of a multipart upload: in media's answer, the
// presigned URL to PUT it to and its size; in the uploaded frame, the hex
// SHA-256 of what was PUT.
type Part struct {
	URL    string `json:"url,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Frame is every frame's shape; which fields are set depends on Type.
type Frame struct {
	Type         string `json:"type"`
	ID           string `json:"id,omitempty"` // client message id (send, stored, message, error); request id (sync, batch, error); ping id
	Conversation string `json:"conversation,omitempty"`
	Seq          int64  `json:"seq,omitempty"`

	Envelope *e2ee.Envelope `json:"envelope,omitempty"` // send, message, agent partial
	// message: a membership change (members.go) instead of an envelope
	System *MemberChange `json:"system,omitempty"`

	// message, receipt, typing, agent: who it is from.
	Sender       string    `json:"sender,omitempty"`
	SenderDevice string    `json:"senderDevice,omitempty"`
	StoredAt     time.Time `json:"storedAt,omitzero"`

	Kind  string `json:"kind,omitempty"`  // receipt: delivered|read; agent: partial|status|done|error; conversation: direct|group
	State string `json:"state,omitempty"` // typing: typing|paused|thinking; agent status: waking|queued|thinking|tool|streaming

	// sync / batch (limit 0: DefaultSyncLimit)
	After    int64    `json:"after,omitempty"`
	Before   int64    `json:"before,omitempty"` // sync: a page of older messages, those just below this seq
	Limit    int      `json:"limit,omitempty"`
	Messages []Frame  `json:"messages,omitempty"`
	More     bool     `json:"more,omitempty"`
	End      bool     `json:"end,omitempty"` // batch: the last one answering its sync
	LastSeq  int64    `json:"lastSeq,omitempty"`
	Receipts bool     `json:"receipts,omitempty"` // sync: send the members' cursors with the last batch
	Cursors  []Cursor `json:"cursors,omitempty"`  // batch: the members' cursors (last batch of a sync with receipts)

	// resume / resumed
	Positions []Position `json:"positions,omitempty"` // resume: the last seq of each conversation the client has
	From      string     `json:"from,omitempty"`      // resume: the page after this conversation id (resumed's next)
	Batches   []Frame    `json:"batches,omitempty"`   // resumed: one batch per conversation of the page
	Gone      []string   `json:"gone,omitempty"`      // resumed: positions' conversations you are not (or no longer) in
	Next      string     `json:"next,omitempty"`      // resumed: more conversations after this id: resume again from it

	// agent (index: a partial's place in the answer, a status's order
	// among the answer's statuses; tools: the tools a status "tool" runs)
	Agent   string   `json:"agent,omitempty"`
	ReplyTo int64    `json:"replyTo,omitempty"`
	Index   int      `json:"index,omitempty"`
	Tools   []string `json:"tools,omitempty"`

	// error
	Code           string   `json:"code,omitempty"`
	Message        string   `json:"message,omitempty"`
	MissingDevices []string `json:"missingDevices,omitempty"`
	Retryable      bool     `json:"retryable,omitempty"` // agent error: asking again may work

	// upload / uploaded / media: the encrypted blob's size and hex SHA-256;
	// upload's kind is the coarse media kind (image, video, audio, file).
	// media: a presigned URL, the headers a PUT must carry, its expiry.
	// A large blob's upload (docs/protocol.md, "Large files"): media's
	// answer has parts (url and size of each) instead of url, and the
	// uploaded frame declares parts (sha256 of each).
	Size      int64             `json:"size,omitempty"`
	SHA256    string            `json:"sha256,omitempty"`
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt time.Time         `json:"expiresAt,omitzero"`
	Parts     []Part            `json:"parts,omitempty"`

	// conversation (its kind is Kind: direct or group): the membership
	// at revision Rev, and the group's title
	Rev     int64    `json:"rev,omitempty"`
	Members []string `json:"members,omitempty"`
	Admins  []string `json:"admins,omitempty"` // a group's admins (none: every member may manage it)
	Title   string   `json:"title,omitempty"`

	// presence: whether User is online, else when they were last seen
	// (either may be hidden); users: the answer to a presence request
	Online   bool      `json:"online,omitempty"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
	Users    []Frame   `json:"users,omitempty"`

	// hello; presence: whose presence
	User      string `json:"user,omitempty"`
	Device    string `json:"device,omitempty"`
	Connector string `json:"connector,omitempty"`

	// reconnect: when to move; error (rate_limited for a send): when to
	// send it again
	AfterMs int64 `json:"afterMs,omitempty"`
}

// Decode parses one client frame strictly: valid JSON, no unknown fields, a
// known client frame type, the fields that type needs and no field that
// belongs to another type (ClientFields). Its errors are *Error values with
// CodeBadFrame or CodeUnknownType.
func Decode(data []byte) (Frame, error) {
	var f Frame
	if len(data) > MaxFrameSize {
		return f, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("frame over %d bytes", MaxFrameSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, &Error{Code: CodeBadFrame, Message: "frame is not valid JSON of the protocol: " + err.Error()}
	}
	if dec.More() {
		return f, &Error{Code: CodeBadFrame, Message: "one JSON object per frame"}
	}
	return f, f.check()
}

func (f *Frame) check() error {
	bad := func(msg string) error { return &Error{Code: CodeBadFrame, Message: f.Type + ": " + msg, Ref: f.ID} }
	// Who a frame is from is the connection's authenticated identity; a
	// client frame that names anyone is refused rather than half-trusted.
	if f.Sender != "" || f.SenderDevice != "" || f.User != "" || f.Device != "" || f.Connector != "" {
		return bad("sender, senderDevice, user, device and connector are set by the server, not the client")
	}
	switch f.Type {
	case TypeSend:
		if f.ID == "" || f.Conversation == "" || f.Envelope == nil {
			return bad("id, conversation and envelope are required")
		}
		if strings.HasPrefix(f.ID, SystemIDPrefix) {
			return bad("ids starting with " + SystemIDPrefix + " are the server's (membership entries)")
		}
	case TypeDelivered, TypeRead:
		if f.Conversation == "" || f.Seq < 1 {
			return bad("conversation and seq >= 1 are required")
		}
	case TypeTyping:
		if f.Conversation == "" || (f.State != "typing" && f.State != "paused") {
			return bad("conversation and state typing|paused are required")
		}
	case TypeSync:
		if f.Conversation == "" || f.After < 0 {
			return bad("conversation and after >= 0 are required")
		}
		if f.Before < 0 || (f.Before > 0 && f.Receipts) {
			return bad("before must be >= 0, and a page (before) takes no receipts")
		}
	case TypeResume:
		if err := f.checkPositions(); err != "" {
			return bad(err)
		}
	case TypeUpload:
		if f.ID == "" || f.Conversation == "" || f.Size < 1 || f.SHA256 == "" || f.Kind == "" {
			return bad("id, conversation, size >= 1, sha256 and kind are required")
		}
	case TypeUploaded:
		if f.ID == "" || f.Conversation == "" || f.Size < 1 || f.SHA256 == "" {
			return bad("id, conversation, size >= 1 and sha256 are required")
		}
		for i, p := range f.Parts {
			if p.SHA256 == "" || p.URL != "" || p.Size != 0 {
				return bad(fmt.Sprintf("parts[%d]: sha256, and only sha256, is required", i))
			}
		}
	case TypeDownload:
		if f.ID == "" || f.Conversation == "" {
			return bad("id and conversation are required")
		}
	case TypePing, TypePresence:
	case "":
		return bad("type is required")
	default:
		return &Error{Code: CodeUnknownType, Message: fmt.Sprintf("unknown frame type %q", f.Type), Ref: f.ID}
	}
	if stray := f.strayFields(); len(stray) > 0 {
		return bad("field " + strings.Join(stray, ", ") + " does not belong to this frame type (it takes " +
			strings.Join(ClientFields[f.Type], ", ") + ")")
	}
	return nil
}

// ClientFields lists, for each client frame type, the fields it may carry
// besides "type". Any other field of Frame that a client sets (to anything
// but its zero value) is refused with CodeBadFrame: a client must not
// believe the server took a value it ignores (a seq or storedAt on a send).
var ClientFields = map[string][]string{
	TypeSend:      {"id", "conversation", "envelope"},
	TypeDelivered: {"conversation", "seq"},
	TypeRead:      {"conversation", "seq"},
	TypeTyping:    {"conversation", "state"},
	TypeSync:      {"id", "conversation", "after", "before", "limit", "receipts"},
	TypeResume:    {"id", "positions", "from", "limit", "receipts"},
	TypePing:      {"id"},
	TypeUpload:    {"id", "conversation", "size", "sha256", "kind"},
	TypeUploaded:  {"id", "conversation", "size", "sha256", "parts"},
	TypeDownload:  {"id", "conversation"},
	TypePresence:  {"id"},
}

// checkPositions says what is wrong with a resume's positions ("" if
// nothing): at most MaxResumePositions, each naming a conversation once,
// with a seq >= 0. Ids are checked where the frame becomes an event.
func (f *Frame) checkPositions() string {
	if len(f.Positions) > MaxResumePositions {
		return fmt.Sprintf("at most %d positions per frame (%d given): resume the rest from the answer's next", MaxResumePositions, len(f.Positions))
	}
	seen := make(map[string]bool, len(f.Positions))
	for i, p := range f.Positions {
		switch {
		case p.Conversation == "":
			return fmt.Sprintf("positions[%d]: conversation is required", i)
		case p.Seq < 0:
			return fmt.Sprintf("positions[%d]: seq must be >= 0", i)
		case seen[p.Conversation]:
			return fmt.Sprintf("positions[%d]: conversation %q named twice", i, p.Conversation)
		}
		seen[p.Conversation] = true
	}
	if f.Limit < 0 {
		return "limit must be >= 0"
	}
	return ""
}

// frameFields are Frame's fields by JSON name, in declaration order.
var frameFields = func() (out []struct {
	name  string
	index int
}) {
	t := reflect.TypeFor[Frame]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, struct {
			name  string
			index int
		}{name, i})
	}
	return out
}()

// strayFields names the fields f sets that its type does not take.
func (f *Frame) strayFields() []string {
	allowed := ClientFields[f.Type]
	v := reflect.ValueOf(f).Elem()
	var stray []string
	for _, ff := range frameFields {
		if ff.name != "type" && !slices.Contains(allowed, ff.name) && !v.Field(ff.index).IsZero() {
			stray = append(stray, ff.name)
		}
	}
	return stray
}
