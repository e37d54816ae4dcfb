package events

import (
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// DeviceRef names one device of one user (or agent).
type DeviceRef struct {
	User   string `json:"user"`
	Device string `json:"device"`
}

// MessageSent is the data of TypeMessageSent: a client's message as the
// connector received it. Who sent it is in the senderid/deviceid extensions,
// stamped from the authenticated connection, never from the client.
type MessageSent struct {
	ClientMessageID string         `json:"clientMessageId"` // the idempotency key, chosen by the client
	Envelope        *e2ee.Envelope `json:"envelope"`
}

// Message is a stored message: the data of TypeMessageStored, and what sync
// batches and agent invokes carry.
type Message struct {
	ConversationID  string         `json:"conversationId"`
	Seq             int64          `json:"seq"` // gapless per conversation, from 1
	SenderID        string         `json:"senderId"`
	SenderDevice    string         `json:"senderDevice"`
	ClientMessageID string         `json:"clientMessageId"`
	Envelope        *e2ee.Envelope `json:"envelope"`
	StoredAt        time.Time      `json:"storedAt"`
	// System is set, and Envelope nil, on a membership entry: a group's
	// change stored by persist as an entry of the conversation
	// (protocol.MemberChange; sender: who made it, device "system").
	System *protocol.MemberChange `json:"system,omitempty"`
	// Audience is set on message.stored (persist's reply): who the
	// message is for, as persist enforced it; an agent invoke carries it
	// too (with Keys: whom the reply is sealed for). Sync batches leave it
	// out.
	Audience *Audience `json:"audience,omitempty"`
}

// Audience is who a stored message is for, as persist checked it when it
// stored the message: the current devices of all members, the sender's
// own included (exactly the devices the envelope is wrapped for), and the
// members that are agents. route fans out and invokes agents from it,
// without reading the directory again.
type Audience struct {
	Devices []DeviceRef   `json:"devices"`
	Agents  []AgentMember `json:"agents,omitempty"`
	// Keys maps each of Devices to its public key (base64 X25519), only
	// when an agent is a member: its runtime wraps its reply for them.
	Keys map[string]string `json:"keys,omitempty"`
	// SigningKeys maps those of Devices that have one to their signing
	// key (base64 Ed25519), under the same condition: what an agent's
	// runtime verifies a sender's signature with (docs/e2ee.md).
	SigningKeys map[string]string `json:"signingKeys,omitempty"`
}

// AgentMember is a member of a conversation that is an agent.
type AgentMember struct {
	ID   string `json:"id"`
	Kind string `json:"kind,omitempty"` // agentKind: which runtime answers it (Triggers filter on it)
}

// MessageRejected is the data of TypeMessageRejected: why persist would not
// store a message. Code is one of the protocol's error codes.
type MessageRejected struct {
	ClientMessageID string `json:"clientMessageId"`
	Code            string `json:"code"`
	Reason          string `json:"reason"` // safe to show the user
	// MissingDevices lists member devices the envelope was not wrapped for,
	// so the client can refresh its key directory and retry.
	MissingDevices []string `json:"missingDevices,omitempty"`
	// Audience, on missing_keys and bad_envelope answers to an agent's
	// message, is the conversation's current audience with Keys: an
	// agent's runtime has no key directory and seals its reply again for
	// it (docs/agents.md). It names the agent among Agents, which makes
	// the answer carry the agentid and agentkind extensions.
	Audience *Audience `json:"audience,omitempty"`
}

// Receipt is the data of TypeReceiptDelivered and TypeReceiptRead: the acking
// device has everything up to Seq (delivered) or has shown it (read).
type Receipt struct {
	Seq int64 `json:"seq"`
}

// Typing is the data of TypeTyping.
type Typing struct {
	State string `json:"state"` // TypingStarted, TypingStopped or TypingThinking
}

// Typing states.
const (
	TypingStarted  = "typing"
	TypingStopped  = "paused"
	TypingThinking = "thinking" // an agent is working on a reply
)

// SyncRequested is the data of TypeSyncRequested: send me what is after
// After, at most Limit messages per batch.
type SyncRequested struct {
	After int64 `json:"after"`
	// Before (> 0) asks for a page of older messages instead: the newest
	// Limit of those with After < seq < Before, in seq order (scrolling
	// back). More then means there are older ones still (seq <= the
	// page's first, above After). Receipts do not go with a page.
	Before int64 `json:"before,omitempty"`
	Limit  int   `json:"limit,omitempty"`
	// Receipts asks for the members' receipt cursors with the last batch,
	// so that ticks whose receipt event was lost are recovered.
	Receipts bool `json:"receipts,omitempty"`
	// RequestID is the sync frame's id (optional): every answer to the
	// request carries it, so a device can tell two syncs apart.
	RequestID string `json:"requestId,omitempty"`
}

// MaxSyncLimit caps a sync batch.
const MaxSyncLimit = 500

// SyncBatch is the data of TypeSyncBatch: messages in seq order. More is
// true when the device should ask again after the last one. A batch may
// hold fewer than the request's limit (a size budget) and still have More.
type SyncBatch struct {
	Messages []Message `json:"messages"`
	More     bool      `json:"more"`
	LastSeq  int64     `json:"lastSeq"` // the conversation's newest seq when the batch was read
	// RequestID is the request's (SyncRequested.RequestID); End marks the
	// last batch answering it (route answers each request with one batch,
	// so it sets End on every batch; an older route set neither).
	RequestID string `json:"requestId,omitempty"`
	End       bool   `json:"end,omitempty"`
	// Cursors are the members' receipt cursors when the batch was read:
	// on the last batch (More false) of a sync that asked for Receipts.
	Cursors []Cursor `json:"cursors,omitempty"`
}

// ResumeRequested is the data of TypeResumeRequested: a device back after
// a gap (a reconnect, a resync) asks in one request for what it missed in
// all of its user's conversations. Positions are the last seq it has of
// each conversation it knows; conversations of the user it does not name
// are answered from seq 0 (new to it). The answer covers one page: the
// user's conversations with an id above From, in id order, at most
// MaxResumeConversations — and, when Positions is full (that many), none
// above the greatest id it names, whose position the device has not given
// yet.
type ResumeRequested struct {
	Positions []ResumePosition `json:"positions"`
	From      string           `json:"from,omitempty"`
	// Limit caps the messages of one conversation (0: the sync default).
	Limit int `json:"limit,omitempty"`
	// Receipts asks for each conversation's receipt cursors, as a sync does.
	Receipts  bool   `json:"receipts,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// ResumePosition is the last seq a device has of one conversation.
type ResumePosition struct {
	ConversationID string `json:"conversationId"`
	Seq            int64  `json:"seq"`
}

// MaxResumeConversations caps a resume request's positions and the
// conversations of one answer (protocol.MaxResumePositions is the same).
const MaxResumeConversations = 100

// ResumeBatch is the data of TypeResumeBatch, route's answer to one
// ResumeRequested: for every conversation of the page, a batch of what
// follows the device's position (as a sync batch would hold it, the whole
// answer within one event's size); Gone lists the conversations the
// request named within the page that the user is not (or no longer) a
// member of; Next, when set, is the last conversation id the page covers:
// ask again with From = Next for the rest. Code and Reason, when set, say
// why the request was refused (a protocol error code): nothing else is set.
type ResumeBatch struct {
	RequestID     string                `json:"requestId,omitempty"`
	Conversations []ResumedConversation `json:"conversations"`
	Gone          []string              `json:"gone,omitempty"`
	Next          string                `json:"next,omitempty"`
	Code          string                `json:"code,omitempty"`
	Reason        string                `json:"reason,omitempty"`
}

// ResumedConversation is one conversation's part of a ResumeBatch: a sync
// batch for it. More says the device should sync the conversation after
// the last message here (a long backlog, or the answer's size budget ran
// out: then it may hold no message, and no cursors). For a conversation
// the request did not name (new to the device: started, or joined, while
// it was away) Kind, Rev, Members and Title say what a conversation
// frame would have said, so that the device can name it at once — unless
// the answer's size budget ran out first (Kind empty: ask accounts).
type ResumedConversation struct {
	ConversationID string    `json:"conversationId"`
	Messages       []Message `json:"messages,omitempty"`
	More           bool      `json:"more,omitempty"`
	LastSeq        int64     `json:"lastSeq"`
	Cursors        []Cursor  `json:"cursors,omitempty"`
	Kind           string    `json:"kind,omitempty"`
	Rev            int64     `json:"rev,omitempty"`
	Members        []string  `json:"members,omitempty"`
	Title          string    `json:"title,omitempty"`
}

// Cursor is how far one member of a conversation has received
// (Delivered) and shown (Read) its messages.
type Cursor struct {
	User      string `json:"user"`
	Delivered int64  `json:"delivered"`
	Read      int64  `json:"read"`
}

// AgentInvoke is the data of TypeAgentInvoke: answer this message.
type AgentInvoke struct {
	AgentID string  `json:"agentId"`
	Message Message `json:"message"`
}

// AgentPartial is the data of TypeAgentPartial: the Index-th chunk of a reply
// being streamed, encrypted like any message (it is content).
type AgentPartial struct {
	AgentID  string         `json:"agentId"`
	ReplyTo  int64          `json:"replyTo"` // seq of the message being answered
	Index    int            `json:"index"`
	Envelope *e2ee.Envelope `json:"envelope"`
}

// AgentDone is the data of TypeAgentDone: the reply was stored.
type AgentDone struct {
	AgentID         string `json:"agentId"`
	ReplyTo         int64  `json:"replyTo"`
	ClientMessageID string `json:"clientMessageId"` // of the reply message
}

// AgentError is the data of TypeAgentError: the agent could not answer.
type AgentError struct {
	AgentID   string `json:"agentId"`
	ReplyTo   int64  `json:"replyTo"`
	Code      string `json:"code"`    // e.g. model_error, rate_limited, timeout
	Message   string `json:"message"` // safe to show the user
	Retryable bool   `json:"retryable"`
}

// MediaUploadRequested is the data of TypeMediaUploadRequested: a device
// wants to upload Size bytes of encrypted media (e2ee.SealMedia's blob)
// whose SHA-256 is SHA256, into the conversation of the event. Media's
// presigned PUT is bound to exactly that size and digest.
type MediaUploadRequested struct {
	MediaID string `json:"mediaId"` // chosen by the device; the object is conversation/mediaId
	Size    int64  `json:"size"`    // bytes of the encrypted blob
	SHA256  string `json:"sha256"`  // hex SHA-256 of the encrypted blob
	Kind    string `json:"kind"`    // coarse kind, one of MediaKinds: the server sees no finer type
}

// Coarse media kinds, the only hint of a blob's type the server gets (the
// MIME type and name travel inside the message's encrypted content).
const (
	MediaImage = "image"
	MediaVideo = "video"
	MediaAudio = "audio"
	MediaFile  = "file"
)

// MediaKinds lists the coarse media kinds.
var MediaKinds = []string{MediaImage, MediaVideo, MediaAudio, MediaFile}

// MediaUploadReady is the data of TypeMediaUploadReady: PUT the blob to
// UploadURL before ExpiresAt with the headers in Headers (Content-Length,
// the base64 x-amz-checksum-sha256 of the declared size and digest and
// the object's x-amz-tagging, which the URL's signature covers: S3
// refuses any other body).
//
// A blob over media's multipart threshold gets Parts instead of
// UploadURL: PUT each consecutive slice of the blob of the part's Size to
// its URL (Headers apply to every part), with the base64
// x-amz-checksum-sha256 of that slice, which S3 requires and checks; then
// declare the parts' digests in upload.completed (docs/protocol.md,
// "Large files").
type MediaUploadReady struct {
	MediaID   string            `json:"mediaId"`
	UploadURL string            `json:"uploadUrl,omitempty"` // presigned PUT of the whole blob
	Parts     []MediaPart       `json:"parts,omitempty"`     // or presigned PUTs of its parts, in order
	ExpiresAt time.Time         `json:"expiresAt"`
	Headers   map[string]string `json:"headers,omitempty"`
}

// MediaPart is one part of a multipart upload: a presigned UploadPart URL
// bound to the part's Size (Content-Length is signed).
type MediaPart struct {
	URL  string `json:"url"`
	Size int64  `json:"size"`
}

// MaxMediaParts bounds the parts of one upload (media chooses a part size
// that keeps under it; S3 allows 10,000): every part's URL travels in one
// answer and every part's digest in one upload.completed.
const MaxMediaParts = 1000

// MediaStored is the data of TypeMediaStored: the object of MediaID holds
// Size bytes whose SHA-256 is SHA256, as S3 verified and media checked. It
// is also the data of TypeMediaUploadCompleted, the device's word that its
// upload of that size and digest is done (media checks it against the
// object, not the other way round).
//
// For a multipart upload the device also declares Parts, the hex SHA-256
// of each part it PUT, in order (upload.completed only): S3 checked each
// part against its digest, media checks that they are these and
// completes the upload with them. SHA256, the whole blob's digest, is
// then the one declared when the upload was requested (S3 keeps only a
// checksum of the parts' checksums); recipients check it against the
// signed message as always.
type MediaStored struct {
	MediaID string   `json:"mediaId"`
	Size    int64    `json:"size"`
	SHA256  string   `json:"sha256"`
	Parts   []string `json:"parts,omitempty"`
}

// MediaDownloadRequested is the data of TypeMediaDownloadRequested: a
// member wants to fetch the object of MediaID in the event's conversation.
type MediaDownloadRequested struct {
	MediaID string `json:"mediaId"`
}

// MediaDownloadReady is the data of TypeMediaDownloadReady: GET
// DownloadURL before ExpiresAt; the object has Size bytes and digest
// SHA256 (as stored: the client still checks what it fetched against the
// digest in the message, which the sender signed).
type MediaDownloadReady struct {
	MediaID     string    `json:"mediaId"`
	DownloadURL string    `json:"downloadUrl"` // presigned GET
	ExpiresAt   time.Time `json:"expiresAt"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
}

// MediaRejected is the data of TypeMediaRejected: media refused the
// request of type Request (upload.requested, upload.completed or
// download.requested) about MediaID. Code is a protocol error code,
// Reason a message safe to show.
type MediaRejected struct {
	MediaID string `json:"mediaId"`
	Request string `json:"request"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
}

// MaxMediaSize is the largest MEDIA_MAX_SIZE media accepts.
const MaxMediaSize = 5 << 30 // S3's limit for one PUT

// ConversationChanged is the data of TypeConversationChanged: accounts
// committed revision Rev of a conversation's membership (1: created).
// Members is the whole list at that revision, so a consumer applies the
// newest revision it has seen and ignores older ones (events may arrive
// out of order or twice). The conversation is the event's subject; the
// sender is who made the change.
//
// The event also tells the members' devices (route delivers it to them
// as a conversation frame): Title is the group's title (what a client
// needs to name it besides the members' names), and Removed lists the
// users this revision took out (a removal, or someone leaving), whose
// devices are told too, though they are no longer members.
type ConversationChanged struct {
	Kind    string   `json:"kind"` // direct or group
	Rev     int64    `json:"rev"`
	Members []string `json:"members"`
	Title   string   `json:"title,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Admins are the group's admins at Rev (who may add and remove
	// members); empty for a direct conversation and for a group made
	// before admins, where every member may.
	Admins []string `json:"admins,omitempty"`
	// Change is what this revision changed, for a group's revision after
	// its creation: persist stores it as the conversation's next entry.
	Change *protocol.MemberChange `json:"change,omitempty"`
}

// DeviceChanged is the data of TypeDeviceChanged: a device of User was
// registered (Revoked false) or revoked. A revocation is final.
//
// SigningKey is the device's signing key once it has one (docs/e2ee.md,
// "Signed messages"); its registration is announced as a change of its
// own.
type DeviceChanged struct {
	User       string `json:"user"`
	Device     string `json:"device"`
	PublicKey  string `json:"publicKey,omitempty"`
	SigningKey string `json:"signingKey,omitempty"`
	Revoked    bool   `json:"revoked"`
}
