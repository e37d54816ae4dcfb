// Package audit is the admin audit log: who did what to whom, when, and
// how it ended. accounts' admin API is its only writer and reader.
//
// An action is written twice: Begin before it acts (outcome "pending"), so
// that no admin action happens unrecorded — if the log cannot be written,
// the action is refused — and Finish once it is done, with its outcome.
// An entry left "pending" means the action may or may not have happened
// (the process died in between): the target's state says which.
//
// A denied attempt (a non-admin calling the admin API) is no action: it
// is recorded by Deny, coalesced, so that a non-admin repeating a call
// cannot flood the log — one entry per actor and action per DenyWindow,
// with the number of attempts.
//
// Implementations: Mongo (collection "audit") and Memory, its in-memory
// twin; one suite (suite_test.go) runs against both.
package audit

import (
	"context"
	"fmt"
	"time"
)

// Outcomes.
const (
	Pending = "pending" // begun, not finished (see the package comment)
	OK      = "ok"      // done
	Denied  = "denied"  // the caller is not an admin
	Failed  = "failed"  // refused (a problem, Status says which) or failed
)

// Entry is one admin action.
type Entry struct {
	ID          string    `bson:"_id" json:"id"`
	At          time.Time `bson:"at" json:"at"` // when it began (millisecond UTC, as stored)
	Actor       string    `bson:"actor" json:"actor"`
	ActorDevice string    `bson:"actorDevice" json:"actorDevice"`
	Action      string    `bson:"action" json:"action"`                     // e.g. "user.suspend"
	Target      string    `bson:"target,omitempty" json:"target,omitempty"` // e.g. the user's id
	Outcome     string    `bson:"outcome" json:"outcome"`
	Status      int       `bson:"status,omitempty" json:"status,omitempty"` // the HTTP status answered
	Detail      string    `bson:"detail,omitempty" json:"detail,omitempty"` // the problem's detail, safe to show
	FinishedAt  time.Time `bson:"finishedAt,omitzero" json:"finishedAt,omitzero"`
	// Attempts is how many denied attempts the entry stands for (Deny);
	// 0 for an action.
	Attempts int `bson:"attempts,omitempty" json:"attempts,omitempty"`
}

// DenyWindow is the span whose denied attempts of one actor and action
// are one entry (Deny): windows start at multiples of it (UTC).
const DenyWindow = time.Minute

// DenyID is the id of the entry that records actor's denied attempts of
// action in the DenyWindow holding at.
func DenyID(actor, action string, at time.Time) string {
	return fmt.Sprintf("deny-%d-%s-%s", at.UTC().Truncate(DenyWindow).Unix(), actor, action)
}

// Query selects entries, newest first.
type Query struct {
	Actor  string // "" for any
	Target string // "" for any
	Action string // "" for any
	// Before is a page's cursor: only entries older than this one (by At,
	// then ID) — the last entry of the previous page. Zero: from the
	// newest.
	Before Cursor
	Limit  int // at least 1
}

// Cursor is a position in the log.
type Cursor struct {
	At time.Time
	ID string
}

// CursorOf is the cursor that pages on after e.
func CursorOf(e Entry) Cursor { return Cursor{At: e.At, ID: e.ID} }

// Log is the audit log.
type Log interface {
	// Begin stores e (its ID unique, its Outcome Pending whatever it
	// says); store.ErrDuplicate if the ID is taken. Times are stored to
	// the millisecond, UTC.
	Begin(ctx context.Context, e Entry) error
	// Finish records the outcome of the entry id once: an entry that is
	// no longer pending keeps its first outcome. store.ErrNotFound if
	// there is no such entry.
	Finish(ctx context.Context, id, outcome string, status int, detail string, at time.Time) error
	// Deny records a denied attempt e (Outcome Denied, its Status and
	// Detail), coalesced: the first attempt of e.Actor and e.Action in a
	// DenyWindow is stored under DenyID with Attempts 1 (its At, Target,
	// ActorDevice kept); each later one in that window adds one to
	// Attempts and moves FinishedAt to its At. Under concurrent attempts
	// the count may miss some (FerretDB applies concurrent updates
	// non-atomically); the entry itself is exact.
	Deny(ctx context.Context, e Entry) error
	// List returns the entries q selects, newest first (by At, then ID,
	// both descending), at most q.Limit.
	List(ctx context.Context, q Query) ([]Entry, error)
}

// denied is the entry Deny stores for the first attempt e.
func denied(e Entry) Entry {
	e.ID, e.At, e.Outcome, e.Attempts = DenyID(e.Actor, e.Action, e.At), storedTime(e.At), Denied, 1
	e.FinishedAt = e.At
	return e
}

// storedTime is t as the store keeps it: UTC, to the millisecond.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// older reports whether e sorts after c in List's order (is older).
func older(e Entry, c Cursor) bool {
	if c.At.IsZero() && c.ID == "" {
		return true
	}
	return e.At.Before(c.At) || e.At.Equal(c.At) && e.ID < c.ID
}
