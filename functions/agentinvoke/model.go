package function

import (
	"context"
	"fmt"
	"time"
)

// chatMessage is one message of a model request.
type chatMessage struct {
	Role    string // roleSystem, roleUser or roleAssistant
	Content string
}

// Chat roles.
const (
	roleSystem    = "system"
	roleUser      = "user"
	roleAssistant = "assistant"
)

// modelRequest is one chat-completions call.
type modelRequest struct {
	Config   modelConfig
	Messages []chatMessage
}

// model is an OpenAI-compatible chat-completions endpoint.
type model interface {
	// Stream sends one streaming request — never more: it does not retry
	// — and calls onDelta with each piece of the answer's content, in
	// order, as it arrives. It returns the whole answer, or a *modelError.
	// onStart, if not nil, is called once with the endpoint's id for the
	// answer, as soon as the first chunk names it.
	Stream(ctx context.Context, req modelRequest, onStart, onDelta func(string)) (string, error)
	// Retrieve reads a completion the endpoint stored (requests made with
	// Config.Store) by its id: found is false while the endpoint has none
	// under that id (not stored, not finished, or not supported). It never
	// runs the model.
	Retrieve(ctx context.Context, c modelConfig, completion string) (text string, found bool, err error)
}

// modelError is a failed model request, classified for the agent.error
// the user sees and for the decision to send the request again.
type modelError struct {
	Code    string // an agent.error code (see the error codes below)
	Message string // safe to show the user
	// Refused is set when the endpoint turned the request away without
	// running it (429, 503, no connection): sending it again does not
	// call the model twice. Never set once any content has arrived.
	Refused    bool
	RetryAfter time.Duration // what the endpoint asked for, if anything
	Retryable  bool          // asking again later may work (for the user)
	Err        error         // the cause, for logs (no content in it)
}

func (e *modelError) Error() string { return fmt.Sprintf("model: %s: %v", e.Code, e.Err) }
func (e *modelError) Unwrap() error { return e.Err }

// agent.error codes this runtime sends (docs/agents.md).
const (
	codeRateLimited   = "rate_limited"   // the endpoint kept refusing with 429
	codeUnavailable   = "unavailable"    // 503 or unreachable, after retries
	codeModelError    = "model_error"    // any other error answer, or a stream that broke off
	codeTimeout       = "timeout"        // no complete answer within AGENT_CALL_TIMEOUT
	codeInterrupted   = "interrupted"    // the runtime stopped while the request may have been in flight
	codeNotConfigured = "not_configured" // no key for the agent, or its key does not match its device
	codeUnreadable    = "unreadable"     // the message was not sealed for the agent's device, or did not open
	codeNotStored     = "not_stored"     // persist would not store the reply
	codeEmptyAnswer   = "empty_answer"   // the model answered nothing
)
