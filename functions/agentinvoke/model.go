package function

import (
	"context"
	"fmt"
	"time"
)

// chatMessage is one message of a model request.
type chatMessage struct {
	Role    string // roleSystem, roleUser, roleAssistant or roleTool
	Content string
	// ToolCalls are the calls an assistant message made (a step of the
	// turn that asked for tools); ToolCallID is the call a roleTool
	// message answers.
	ToolCalls  []toolCall
	ToolCallID string
}

// toolCall is one tool call a model made.
type toolCall struct {
	ID        string `json:"id" bson:"id"`               // the model's id for it, sent back with its result
	Name      string `json:"name" bson:"name"`           // the tool
	Arguments string `json:"arguments" bson:"arguments"` // JSON, as the model wrote it
}

// Chat roles.
const (
	roleSystem    = "system"
	roleUser      = "user"
	roleAssistant = "assistant"
	roleTool      = "tool"
)

// modelRequest is one chat-completions request to one endpoint.
type modelRequest struct {
	Endpoint  endpoint
	Messages  []chatMessage
	Tools     []toolSpec // offered to the model (the agent's tools)
	MaxTokens int        // 0: the endpoint's default
	Store     bool       // ask the endpoint to keep the answer (modelConfig.Store)
}

// answer is a model's whole answer and what the endpoint said it cost.
// With ToolCalls the model asks for tools before it answers: Text is then
// whatever it said along with them (often nothing).
type answer struct {
	Text      string
	ToolCalls []toolCall
	Usage     tokenUsage
}

// tokenUsage is the usage an endpoint reported for one answer.
type tokenUsage struct {
	Prompt, Completion int64
	Reported           bool // false: the endpoint reported none (the counts are 0)
}

// model is the OpenAI-compatible chat-completions API, at whichever
// endpoint a request names.
type model interface {
	// Stream sends one streaming request — never more: it does not retry
	// —, asking for the usage (stream_options.include_usage), and calls
	// onDelta with each piece of the answer's content, in order, as it
	// arrives. It returns the whole answer with its usage, or a
	// *modelError. onStart, if not nil, is called once as soon as the
	// first chunk arrives, with the endpoint's id for the answer ("" if
	// the chunk names none).
	Stream(ctx context.Context, req modelRequest, onStart, onDelta func(string)) (answer, error)
	// Retrieve reads a completion endpoint e stored (requests made with
	// Store) by its id: found is false while the endpoint has none under
	// that id (not stored, not finished, or not supported). It never runs
	// the model.
	Retrieve(ctx context.Context, e endpoint, completion string) (a answer, found bool, err error)
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
	Status     int           // the endpoint's error status (0: it answered none)
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
	codeBudgetReached = "budget_reached" // the agent or the conversation spent its token budget: no request sent
	codeToolSteps     = "tool_steps"     // the model still asked for tools after AGENT_MAX_TOOL_STEPS requests
)
