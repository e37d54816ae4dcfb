// Package userlimit is the contract of the per-user rate limits every
// connector shares: how many frames of a kind (sends, typing) one user may
// make per second across all of their devices and every connector, whatever
// socket each frame arrives on. One owner for the key layout (Key), the
// bucket's arithmetic and its script, so that connectors cannot drift.
//
// Each (kind, user) has a token bucket (Rule: Burst tokens, refilled at Rate
// per second), kept as GCRA does: one number, the time at which the bucket
// will be full again (its theoretical arrival time, TAT). A frame is allowed
// when taking its token would not put the TAT more than Burst intervals
// ahead of now; a refused frame takes nothing, so a client that keeps
// retrying does not push its own wait further out.
//
// Implementations: Redis (one key per bucket, see Key; every take a Lua
// script on Redis's clock, atomic on the server; many buckets in one script
// call) and Memory, its in-memory twin for tests. One suite
// (suite_test.go) runs against a real Redis, the dev runner's miniredis and
// the twin.
package userlimit

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Kind names what a bucket counts.
type Kind string

// The kinds the connector limits.
const (
	Send   Kind = "send"   // send frames: messages
	Typing Kind = "typing" // typing frames
)

// Rule is a bucket's shape: Burst frames at once, Rate frames per second
// after that.
type Rule struct {
	Rate  float64 // tokens per second (> 0)
	Burst int     // tokens when full (>= 1)
}

// Valid reports whether r can shape a bucket.
func (r Rule) Valid() bool { return r.Rate > 0 && !math.IsInf(r.Rate, 0) && r.Burst >= 1 }

func (r Rule) String() string { return fmt.Sprintf("%g/s burst %d", r.Rate, r.Burst) }

// interval is the time one token takes to come back, in microseconds (at
// least 1, the resolution of Redis's clock).
func (r Rule) interval() int64 { return max(1, int64(math.Round(1e6/r.Rate))) }

// Request asks for one token from User's bucket of Kind, shaped by Rule.
// Every request for one bucket should carry the same Rule (a deployment's
// configuration); a bucket asked with another rule is read with that one.
type Request struct {
	Kind Kind
	User string
	Rule Rule
}

// Limiter takes tokens from per-user buckets shared by everyone who uses the
// same store (every connector of a deployment).
type Limiter interface {
	// Take asks for one token per request, in order (two requests for one
	// bucket ask for two), and returns for each 0 when its token was taken,
	// or, when it was refused, how long until its bucket has a token again
	// (refused requests take nothing). Each bucket is updated atomically:
	// under any concurrency, from any number of callers, a bucket allows at
	// most Burst requests at once and Rate per second after. The whole
	// batch costs one round trip (Redis: one script call per TakeBatch
	// requests, pipelined). On an error the outcome of every request is
	// unknown (some may have taken their token); a caller that would
	// rather let frames through than refuse them on a store outage lets
	// the batch pass.
	Take(ctx context.Context, reqs []Request) ([]time.Duration, error)
}

// Key is the Redis key of user's bucket of kind. Every key starts with the
// deployment-wide prefix (REDIS_PREFIX). Its value is the bucket's TAT in
// microseconds of Redis's clock; it expires when the bucket is full again,
// so idle users cost nothing.
func Key(prefix string, kind Kind, user string) string {
	return prefix + "userlimit:" + string(kind) + ":" + user
}
