package protocol

import "time"

// Error is the one protocol error: a stable machine code and a message safe
// to show the user. Infrastructure errors never reach a client: they become
// CodeInternal with a generic message.
type Error struct {
	Code    string
	Message string
	Ref     string // the client message id the error is about, if any
	// RetryAfter, when above 0, is how long the client should wait before
	// sending the frame again (afterMs, rounded up to a millisecond).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Frame turns the error into an error frame.
func (e *Error) Frame() Frame {
	f := Frame{Type: TypeError, Code: e.Code, Message: e.Message, ID: e.Ref}
	if e.RetryAfter > 0 {
		f.AfterMs = int64((e.RetryAfter + time.Millisecond - 1) / time.Millisecond)
	}
	return f
}

// Error codes carried in error frames. The connection stays open after each.
const (
	CodeBadFrame     = "bad_frame"    // malformed JSON or missing fields
	CodeUnknownType  = "unknown_type" // a frame type this protocol version lacks
	CodeTooLarge     = "too_large"    // frame over MaxFrameSize (the socket is also closed with 1009)
	CodeRateLimited  = "rate_limited" // too many frames (the socket's limit), or sends from your account (the user's: with the send's id and afterMs); slow down
	CodeNotMember    = "not_member"   // the conversation does not exist or you are not in it
	CodeBadEnvelope  = "bad_envelope" // the envelope's shape is wrong
	CodeMissingKeys  = "missing_keys" // the envelope lacks member devices: see missingDevices
	CodeBadSeq       = "bad_seq"      // a receipt for a seq the conversation does not have (beyond its last message)
	CodeUnavailable  = "unavailable"  // the platform could not take the frame now; retry
	CodeInternal     = "internal"     // something failed on our side
	CodeUnauthorized = "unauthorized" // token missing, forged or expired (at upgrade: HTTP 401)
	CodeSuspended    = "suspended"    // the account is suspended by an admin (at upgrade: HTTP 403)

	// Media requests (upload, uploaded, download) refused; the error
	// frame's id is the media id. not_member applies to them too.
	CodeMediaTooLarge = "media_too_large" // the declared size is over the platform's limit
	CodeMediaMismatch = "media_mismatch"  // the upload is missing, or not the size and sha256 declared (or the media id is taken by another blob)
	CodeMediaNotFound = "media_not_found" // no stored media with this id in the conversation
)

// WebSocket close codes. 1000–1015 are RFC 6455's; 4000–4099 are agentchat's.
const (
	CloseNormal         = 1000 // client or server finished
	CloseGoingAway      = 1001 // connector shutting down without drain
	ClosePolicy         = 1008 // generic policy violation
	CloseTooBig         = 1009 // frame over MaxFrameSize
	CloseServiceRestart = 1012 // connector draining: reconnect (after the reconnect frame's delay)

	CloseTokenExpired = 4001 // token expired during the session: get a new one, reconnect
	CloseRevoked      = 4003 // this device was revoked: do not reconnect; log in again as a new device
	CloseSuspended    = 4004 // the account was suspended by an admin: do not reconnect (upgrades are refused with 403 suspended)
	CloseSlowConsumer = 4008 // outbound queue overflowed: reconnect and sync
	CloseRateLimited  = 4029 // kept sending after rate_limited errors
	CloseReplaced     = 4009 // the same device connected again elsewhere
)
