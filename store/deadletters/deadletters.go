// Package deadletters is the store of dead letters: the events a broker
// gave up delivering (retries exhausted, or refused with a status that is
// not retried) and handed to its dead-letter sink, the deadletter
// function, with Knative's knativeerrordest, knativeerrorcode and
// knativeerrordata extensions. The deadletter function is its only
// writer; accounts' admin API lists and inspects them and replays them
// through the broker (MarkReplayed).
//
// A letter keeps the event whole (its JSON, structured mode) so that it
// can be replayed as it was; an event over the writer's bound keeps only
// its metadata and cannot be replayed. Message events carry ciphertext
// only, so nothing here is content in clear; the admin API shows metadata
// only.
//
// A letter is kept for a retention (DefaultRetention, or the writer's
// DEADLETTER_RETENTION) after its latest death (ExpireAt): then it goes,
// replayed or not — a TTL index removes it on MongoDB, and the writer's
// Put sweeps at most hourly (store.Expiry) where there is none (FerretDB).
//
// Implementations: Mongo (collection "dead_letters") and Memory, its
// in-memory twin; one suite (suite_test.go) runs against both.
package deadletters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// States of a letter.
const (
	Dead     = "dead"     // stored, not replayed (or dead again after its replay)
	Replayed = "replayed" // posted to the broker again by an admin
)

// DefaultRetention is how long a letter is kept after its latest death
// unless the store is told otherwise (WithRetention).
const DefaultRetention = 30 * 24 * time.Hour

// MaxErrorData bounds ErrorData (knativeerrordata: the failing
// subscriber's response body, base64 as Knative sends it): Put keeps the
// first MaxErrorData bytes.
const MaxErrorData = 2048

// Letter is one dead event, keyed by (source, event id): the same event
// dead-lettered twice is one letter.
type Letter struct {
	ID           string `bson:"_id" json:"id"` // Key(Source, EventID)
	EventID      string `bson:"eventId" json:"eventId"`
	Source       string `bson:"source" json:"source"`
	Type         string `bson:"type" json:"type"`
	Subject      string `bson:"subject,omitempty" json:"subject,omitempty"`
	Conversation string `bson:"conversation,omitempty" json:"conversation,omitempty"`
	ErrorDest    string `bson:"errorDest,omitempty" json:"errorDest,omitempty"` // knativeerrordest: the subscriber that failed
	ErrorCode    string `bson:"errorCode,omitempty" json:"errorCode,omitempty"` // knativeerrorcode: its last HTTP status
	ErrorData    string `bson:"errorData,omitempty" json:"errorData,omitempty"` // knativeerrordata, at most MaxErrorData bytes
	// Event is the whole event as structured-mode JSON, extensions
	// included; nil when it was over the writer's bound (Truncated).
	Event     []byte `bson:"event,omitempty" json:"-"`
	Size      int    `bson:"size" json:"size"` // bytes of the event's JSON
	Truncated bool   `bson:"truncated,omitempty" json:"truncated,omitempty"`

	DeadAt     time.Time  `bson:"deadAt" json:"deadAt"`         // first stored
	LastDeadAt time.Time  `bson:"lastDeadAt" json:"lastDeadAt"` // latest death (after a replay, the one after it)
	State      string     `bson:"state" json:"state"`
	ReplayedAt *time.Time `bson:"replayedAt,omitempty" json:"replayedAt,omitempty"` // the latest replay
	ReplayedBy string     `bson:"replayedBy,omitempty" json:"replayedBy,omitempty"`
	Replays    int        `bson:"replays,omitempty" json:"replays,omitempty"`
	// ExpireAt is when the letter goes: LastDeadAt + the retention.
	ExpireAt time.Time `bson:"expireAt" json:"expireAt"`
}

// Key is a letter's id: the hex SHA-256 of source and event id (a
// source is a URI reference of any length).
func Key(source, eventID string) string {
	h := sha256.Sum256([]byte(source + "\x00" + eventID))
	return hex.EncodeToString(h[:16])
}

// Query selects letters, newest first (by DeadAt, then ID).
type Query struct {
	State string // "" for any
	Type  string // "" for any
	// Before is a page's cursor: only letters older than this one — the
	// last letter of the previous page. Zero: from the newest.
	Before Cursor
	Limit  int // at least 1
}

// Cursor is a position in List's order.
type Cursor struct {
	DeadAt time.Time
	ID     string
}

// CursorOf is the cursor that pages on after l.
func CursorOf(l Letter) Cursor { return Cursor{DeadAt: l.DeadAt, ID: l.ID} }

// Store holds the dead letters.
type Store interface {
	// Put stores l (its ID set from Source and EventID, its State Dead,
	// LastDeadAt = DeadAt, ExpireAt = DeadAt + the retention, ErrorData
	// cut to MaxErrorData) and reports
	// whether it was new. The same event again is idempotent: a letter
	// still dead stays as it is (a redelivery to the sink), and a letter
	// replayed before l.DeadAt died again, so it becomes Dead again with
	// l's LastDeadAt, ExpireAt and error attributes (its first DeadAt
	// and its event are kept).
	Put(ctx context.Context, l Letter) (created bool, err error)
	// Get returns the letter with id; store.ErrNotFound if none.
	Get(ctx context.Context, id string) (Letter, error)
	// List returns the letters q selects, newest first, at most q.Limit,
	// without their Event (metadata only).
	List(ctx context.Context, q Query) ([]Letter, error)
	// MarkReplayed records that by replayed letter id at at: State
	// Replayed, ReplayedAt, ReplayedBy, Replays+1 (under concurrent
	// replays of one letter the count may miss one; every replay is in the
	// audit log). store.ErrNotFound if none.
	MarkReplayed(ctx context.Context, id, by string, at time.Time) (Letter, error)
	// Expire removes the letters whose ExpireAt is at or before now and
	// says how many: what MongoDB's TTL index does by itself, and what
	// Put does at most hourly where there is none.
	Expire(ctx context.Context, now time.Time) (int64, error)
}

// storedTime is t as the store keeps it: UTC, to the millisecond.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// prepare is what Put stores of l, kept for retention.
func prepare(l Letter, retention time.Duration) Letter {
	l.ID = Key(l.Source, l.EventID)
	l.State = Dead
	l.DeadAt = storedTime(l.DeadAt)
	l.LastDeadAt = l.DeadAt
	l.ExpireAt = l.DeadAt.Add(retention)
	l.ReplayedAt, l.ReplayedBy, l.Replays = nil, "", 0
	if len(l.ErrorData) > MaxErrorData {
		l.ErrorData = l.ErrorData[:MaxErrorData]
	}
	return l
}

func older(l Letter, c Cursor) bool {
	if c.DeadAt.IsZero() && c.ID == "" {
		return true
	}
	return l.DeadAt.Before(c.DeadAt) || l.DeadAt.Equal(c.DeadAt) && l.ID < c.ID
}
