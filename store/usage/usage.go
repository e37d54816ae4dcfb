// Package usage is what model agents spend: the tokens each agent turn
// used, as its endpoint reported them, and running totals of them per
// agent and per agent in a conversation, by period. agent-invoke writes
// it (after every answered call) and reads the totals to keep agents and
// conversations within their token budgets; an admin view (accounts) reads
// the same shapes through Store.
//
// A total is a chain of inserts, never an update: entry n of a counter
// holds the tokens counted after n turns, and the next turn inserts n+1
// with the sum. Two writers that race for n+1 meet on the unique _id: the
// loser reads the winner's entry and inserts n+2. The FerretDB stand-in
// applies neither transactions nor concurrent updates atomically
// (docs/data.md), and a chain read by _id is its one cheap lookup.
//
// Mongo implements Store on MongoDB and FerretDB, Memory is the in-memory
// twin, and one suite (suite_test.go) checks both.
package usage

import (
	"context"
	"strconv"
	"time"
)

// Turn is what one model request of an agent call used: the answer to
// the message at Seq of Conversation, or — for a call that uses tools —
// one of its requests (Step). Each request is recorded as its answer
// comes in, so that a call handed over to another instance mid-way
// (while its tools run, or by a crash) counts the requests of every
// attempt, each once.
type Turn struct {
	Conversation string
	Seq          int64 // the message answered
	Agent        string
	// Step is the request within the call: 0 for the first, n for the one
	// sent after the n-th round of tool calls.
	Step     int
	Endpoint string // the base URL of the endpoint that answered ("": OpenAI's)
	Model    string
	// PromptTokens and CompletionTokens are what the endpoint reported.
	PromptTokens     int64
	CompletionTokens int64
	// Reported is false when the endpoint reported no usage (an endpoint
	// that ignores stream_options): the tokens are 0, unknown.
	Reported bool
	At       time.Time
}

// Tokens is what the turn counts against a budget.
func (t Turn) Tokens() int64 { return t.PromptTokens + t.CompletionTokens }

// ID is the turn's key: one per (conversation, seq, agent) — the agent
// call's own key (none of them contains '/', see events.ValidID) — and
// step, which a step > 0 appends (so a call without tools keeps the key
// it always had).
func (t Turn) ID() string {
	id := t.Conversation + "/" + strconv.FormatInt(t.Seq, 10) + "/" + t.Agent
	if t.Step > 0 {
		id += "/" + strconv.Itoa(t.Step)
	}
	return id
}

// Counter names one running total of tokens.
type Counter string

// AgentCounter is everything agent spent in period (PeriodOf).
func AgentCounter(agent, period string) Counter {
	return Counter("agent/" + agent + "/" + period)
}

// ConversationCounter is what agent spent in one conversation in period.
func ConversationCounter(conversation, agent, period string) Counter {
	return Counter("conversation/" + conversation + "/" + agent + "/" + period)
}

// Budget periods: the totals a counter keeps start from zero in each.
const (
	PeriodMonth = "month" // calendar month, UTC
	PeriodDay   = "day"   // calendar day, UTC
	PeriodTotal = "total" // never resets
)

// ValidPeriod reports whether p is one of the periods above.
func ValidPeriod(p string) bool {
	return p == PeriodMonth || p == PeriodDay || p == PeriodTotal
}

// PeriodOf names the period of kind that holds t: "2026-12" (month),
// "2026-12-06" (day) or "total".
func PeriodOf(kind string, t time.Time) string {
	switch kind {
	case PeriodMonth:
		return t.UTC().Format("2006-01")
	case PeriodDay:
		return t.UTC().Format("2006-01-02")
	}
	return PeriodTotal
}

// Store records turns and keeps their totals. Nothing in it relies on
// transactions or on atomic updates: inserts under unique ids decide.
type Store interface {
	// Record keeps t and adds t.Tokens() to each counter (a turn with no
	// reported usage is kept and adds nothing). A Record of a turn
	// recorded already (same ID) changes nothing. Its counting is exact as
	// long as one Record per turn returns nil; a Record cut off half way
	// (an error, a crash) may, repeated, count the turn in a counter once
	// more if other turns were counted there meanwhile — callers record
	// each request once, after its answer.
	Record(ctx context.Context, t Turn, counters ...Counter) error
	// Total returns the tokens counted under c so far: 0 when none.
	// Turns counted concurrently may or may not be included.
	Total(ctx context.Context, c Counter) (int64, error)
	// Turns returns up to limit turns of a conversation (any agent), in
	// the order of the messages they answered (and of a call's steps) — the detail behind the
	// conversation's counters, for its admins. On FerretDB it scans the
	// collection: an admin's read, not a hot path.
	Turns(ctx context.Context, conversation string, limit int) ([]Turn, error)
}
