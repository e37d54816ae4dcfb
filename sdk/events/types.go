// Package events is agentchat's event catalog: every CloudEvent type the
// platform emits or consumes, its extension attributes, its data struct, a
// constructor that sets what is required, and validation that rejects a
// malformed event with a clear error. It is the one place these contracts
// live; docs/events.md describes them for people.
package events

// Event types (the CloudEvents "type" attribute). Reverse-DNS, one verb each.
const (
	// Emitted by the connector from a client's send frame; consumed by persist.
	TypeMessageSent = "io.agentchat.message.sent"
	// Reply of persist once a message has its seq; consumed by route (and agents via route).
	TypeMessageStored = "io.agentchat.message.stored"
	// Reply of persist when a message cannot be stored; route tells the sender's device.
	TypeMessageRejected = "io.agentchat.message.rejected"

	// Emitted by the connector from a device's ack; persist keeps the cursor, route fans out.
	TypeReceiptDelivered = "io.agentchat.receipt.delivered"
	TypeReceiptRead      = "io.agentchat.receipt.read"

	// Typing / thinking indicators: ephemeral, never stored; route fans out.
	TypeTyping = "io.agentchat.typing"

	// A device asks for what it missed after a seq; route answers with batches.
	TypeSyncRequested = "io.agentchat.sync.requested"
	TypeSyncBatch     = "io.agentchat.sync.batch"

	// A device back after a gap presents the last seq of each conversation
	// it has, in one request; route answers with one batch per page of the
	// user's conversations. About a device, not a conversation: these two
	// carry no conversation (see Validate).
	TypeResumeRequested = "io.agentchat.resume.requested"
	TypeResumeBatch     = "io.agentchat.resume.batch"

	// Agents: route asks an agent's runtime to answer a stored message; the
	// runtime streams partial tokens (ephemeral, encrypted), then its reply
	// goes through persist as an ordinary message; done/error close the turn.
	TypeAgentInvoke  = "io.agentchat.agent.invoke"
	TypeAgentPartial = "io.agentchat.agent.partial"
	TypeAgentDone    = "io.agentchat.agent.done"
	TypeAgentError   = "io.agentchat.agent.error"

	// Media: a device asks to upload (encrypted bytes), media answers with a
	// presigned PUT URL; the device PUTs the blob straight to S3 and says it
	// is done (completed), and media, having checked the object, confirms
	// (stored). A member asks to download and gets a presigned GET URL.
	// Media refuses any of the three requests with media.rejected. route
	// brings each answer to the asking device only.
	TypeMediaUploadRequested   = "io.agentchat.media.upload.requested"
	TypeMediaUploadReady       = "io.agentchat.media.upload.ready"
	TypeMediaUploadCompleted   = "io.agentchat.media.upload.completed"
	TypeMediaStored            = "io.agentchat.media.stored"
	TypeMediaDownloadRequested = "io.agentchat.media.download.requested"
	TypeMediaDownloadReady     = "io.agentchat.media.download.ready"
	TypeMediaRejected          = "io.agentchat.media.rejected"

	// Directory changes, emitted by accounts after each committed change:
	// persist and route keep their directory caches current with them. A
	// conversation's membership (its whole member list at a revision), and
	// a device registered or revoked (about a device: no conversation).
	TypeConversationChanged = "io.agentchat.conversation.changed"
	TypeDeviceChanged       = "io.agentchat.device.changed"
)

// Extension attributes. Knative requires names matching ^[a-z][a-z0-9]*$.
const (
	ExtConversationID = "conversationid" // the conversation (also the subject)
	ExtSenderID       = "senderid"       // authenticated user that caused the event
	ExtDeviceID       = "deviceid"       // authenticated device that caused the event
	ExtPartitionKey   = "partitionkey"   // = conversation id: ordered per conversation on Kafka
	ExtTraceParent    = "traceparent"    // W3C trace context
	ExtAgentID        = "agentid"        // the agent an invoke is for; Triggers filter on it
	ExtAgentKind      = "agentkind"      // the agent's runtime kind (e.g. "model")

	// Set by brokers, read by the dead-letter sink.
	ExtBrokerTTL   = "knativebrokerttl"
	ExtArrivalTime = "knativearrivaltime"
	ExtErrorDest   = "knativeerrordest"
	ExtErrorCode   = "knativeerrorcode"
	ExtErrorData   = "knativeerrordata"
)

// Sources (the CloudEvents "source" attribute), one per emitter.
const (
	SourceConnectorPrefix = "/agentchat/connector/" // + connector id
	SourcePersist         = "/agentchat/persist"
	SourceRoute           = "/agentchat/route"
	SourceAgentPrefix     = "/agentchat/agent/" // + agent id
	SourceMedia           = "/agentchat/media"
	SourceAccounts        = "/agentchat/accounts"
)

// AllTypes lists every type in the catalog, for tests and docs.
var AllTypes = []string{
	TypeMessageSent, TypeMessageStored, TypeMessageRejected,
	TypeReceiptDelivered, TypeReceiptRead, TypeTyping,
	TypeSyncRequested, TypeSyncBatch, TypeResumeRequested, TypeResumeBatch,
	TypeAgentInvoke, TypeAgentPartial, TypeAgentDone, TypeAgentError,
	TypeMediaUploadRequested, TypeMediaUploadReady, TypeMediaUploadCompleted, TypeMediaStored,
	TypeMediaDownloadRequested, TypeMediaDownloadReady, TypeMediaRejected,
	TypeConversationChanged, TypeDeviceChanged,
	TypePresenceChanged, TypePresenceRequested, TypePresenceState,
}
