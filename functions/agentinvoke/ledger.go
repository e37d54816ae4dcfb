package function

import (
	"context"
	"strconv"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// callKey names one agent call: agent answering the message at seq of a
// conversation. Every redelivery of the invoke names the same call.
type callKey struct {
	Conversation string
	Seq          int64
	Agent        string
}

// id is the call's _id in the ledger: conversation/seq/agent (none of
// them may contain '/', see events.ValidID).
func (k callKey) id() string {
	return k.Conversation + "/" + strconv.FormatInt(k.Seq, 10) + "/" + k.Agent
}

// attempt is one owner's turn at a call. Only its owner updates it (to
// renew the lease); everyone else only reads it.
type attempt struct {
	N          int // 1, 2, ...; 0 when the call has none yet
	Owner      string
	LeaseUntil time.Time
}

// Outcome states.
const (
	stateOpen    = "open"
	stateReplied = "replied"
	stateFailed  = "failed"
	// stateSkipped ends a call that asked nothing of the agent (a
	// reaction, a delete, an edit the rules refuse: asks.go): no model
	// call, no outcome.
	stateSkipped = "skipped"
)

// outcome is how a call ends. Exactly one is ever recorded per call: the
// first attempt to insert it decides, and a later one follows it.
type outcome struct {
	State     string // stateReplied or stateFailed
	Code      string // failed: the agent.error code
	Message   string // failed: safe to show the user
	Retryable bool   // failed: asking again may work
	// Envelope is the sealed reply (replied): ciphertext only, kept so
	// that whoever finishes the call posts the very same reply.
	Envelope *e2ee.Envelope
	Attempt  int
}

// callState is what the ledger knows of a call.
type callState struct {
	Exists   bool
	Finished bool    // the outcome was delivered (agent_calls.state is no longer open)
	Latest   attempt // the newest attempt (N 0: none)
	// LeaseUntil is the latest lease of any attempt: an older owner that
	// is still alive (it stalled past its lease, was taken over, and came
	// back) keeps renewing its own attempt, and nobody may take over from
	// it either while that lease runs.
	LeaseUntil time.Time
	Sent       bool // a model request may have been sent
	// Completion is the id the endpoint gave the answer being generated
	// ("" until its first chunk arrived): where the endpoint stores
	// completions, a takeover reads the answer by it instead of asking again.
	Completion string
	// Endpoint is the base URL of the endpoint generating Completion (a
	// call may have moved to another endpoint than its first).
	Endpoint string
	Outcome  *outcome // nil until decided
	// Steps are the model requests of the call that ended in tool calls,
	// in order (step 0, 1, ...); StepSent is the last step whose request
	// was sent (0: only the first, the sent marker). StepSent == len(Steps)
	// means a request after the last tool results may be in flight.
	Steps    []toolStep
	StepSent int
}

// toolStep is one model request of a call that ended in tool calls. Its
// content (what the model said, the calls and their arguments) is
// Sealed with the agent's ledger key (seal.go): the ledger never holds a
// conversation's plaintext.
type toolStep struct {
	Step    int
	Attempt int
	Sealed  []byte // stepContent, sealed
}

// toolResult is the result of one tool call, Sealed like a step
// (toolOutput): whichever is recorded first — the tool's reply or the
// timeout's error — is the result the model sees.
type toolResult struct {
	CallID string
	Sealed []byte
}

// ledger records agent calls so that each triggering message is answered
// by exactly one model call, however often the broker redelivers and
// whichever instance crashes. Every decision is an insert guarded by a
// unique _id — never an update — because the MongoDB stand-in (FerretDB)
// does not apply concurrent updates atomically: whoever inserts first
// wins, everyone else reads what won.
type ledger interface {
	// Claim inserts the call, with the invoke that asked for it, and its
	// attempt 1 for owner. false: the call exists already (a redelivery).
	Claim(ctx context.Context, k callKey, inv events.AgentInvoke, owner string, leaseUntil time.Time) (bool, error)
	// Invoke reads the invoke the call was claimed with (the message and
	// its audience), for an attempt that did not get it from the broker (a
	// sweep's takeover); ok is false when the call does not exist.
	Invoke(ctx context.Context, k callKey) (inv events.AgentInvoke, ok bool, err error)
	// State reads the call, its newest attempt, the sent marker and the
	// outcome.
	State(ctx context.Context, k callKey) (callState, error)
	// TakeOver inserts attempt n for owner (n = newest + 1, after the
	// newest attempt's lease expired). false: another instance took it.
	TakeOver(ctx context.Context, k callKey, n int, owner string, leaseUntil time.Time) (bool, error)
	// Renew moves the lease of attempt n, which owner holds. Only the
	// owner writes its attempt, so this update has no concurrent writer.
	Renew(ctx context.Context, k callKey, n int, owner string, leaseUntil time.Time) error
	// MarkSent inserts the "request sent" marker before the model is
	// called. false: the marker exists, so a request may have gone out
	// already and must not be sent again.
	MarkSent(ctx context.Context, k callKey, n int) (bool, error)
	// MarkStarted records the id endpoint (its base URL) gave the answer
	// being generated (the first one recorded holds).
	MarkStarted(ctx context.Context, k callKey, n int, completion, endpoint string) error
	// Decide inserts o as the outcome. It returns the outcome that holds:
	// o (ours true), or the one another attempt recorded first.
	Decide(ctx context.Context, k callKey, o outcome) (held outcome, ours bool, err error)
	// Finish marks the call delivered (state replied or failed) or
	// skipped (stateSkipped, no outcome), so that
	// sweeps stop looking at it. Idempotent.
	Finish(ctx context.Context, k callKey, state string) error
	// Open lists up to limit calls that are not finished, oldest first.
	Open(ctx context.Context, limit int) ([]callKey, error)

	// MarkStepSent inserts the sent marker of request step (≥ 1: step 0's
	// is MarkSent's) before it is sent. false: it exists, so that request
	// may have gone out already.
	MarkStepSent(ctx context.Context, k callKey, step, n int) (bool, error)
	// RecordStep inserts s, a request that ended in tool calls. It returns
	// the step that holds: s, or the one recorded first (the calls the
	// tools run for are always those).
	RecordStep(ctx context.Context, k callKey, s toolStep) (toolStep, error)
	// RecordToolResult inserts r as the result of tool call r.CallID. It
	// returns the result that holds: r, or the one recorded first.
	RecordToolResult(ctx context.Context, k callKey, r toolResult) (toolResult, error)
	// MarkToolStarted inserts the "started" marker of tool call callID
	// before agent-invoke runs it itself (an MCP tool). false: it exists,
	// so the call may have run already and must not run again.
	MarkToolStarted(ctx context.Context, k callKey, callID string) (bool, error)
	// ToolResult reads the result of tool call callID; ok is false while
	// it has none.
	ToolResult(ctx context.Context, k callKey, callID string) (r toolResult, ok bool, err error)
}
