package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ExpireAtField is the field a collection bounded by Expiry keeps on each
// document: the time after which the document may go.
const ExpireAtField = "expireAt"

// TTLIndex is the TTL index on ExpireAtField (expireAfterSeconds 0: each
// document says when it expires, so a new retention applies to new
// documents without rebuilding the index). MongoDB removes expired
// documents with it, within a minute or so; FerretDB 1.24 refuses it
// (NotImplemented), which EnsureIndexes tolerates: Expiry's sweep is what
// bounds the collection there.
func TTLIndex() mongo.IndexModel {
	return mongo.IndexModel{Keys: bson.D{{Key: ExpireAtField, Value: 1}},
		Options: options.Index().SetName("expireat_ttl").SetExpireAfterSeconds(0)}
}

// SweepEvery is how often, at most, an Expiry's writer sweeps.
const SweepEvery = time.Hour

// Expiry removes a collection's expired documents (ExpireAtField before
// now) where no TTL index does it: its writer calls Due after each write,
// so that a collection that grows is swept at most once per SweepEvery
// per process, and one that gets no writes does not grow.
type Expiry struct {
	c    *mongo.Collection
	last atomic.Int64 // unix nanoseconds of the last sweep begun here
}

// NewExpiry sweeps c.
func NewExpiry(c *mongo.Collection) *Expiry { return &Expiry{c: c} }

// Sweep deletes the documents expired at now and says how many.
func (e *Expiry) Sweep(ctx context.Context, now time.Time) (int64, error) {
	r, err := e.c.DeleteMany(ctx, bson.D{{Key: ExpireAtField, Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("store: sweep %s: %w", e.c.Name(), err)
	}
	return r.DeletedCount, nil
}

// Due sweeps if the last sweep here began SweepEvery or more before now
// (the first call always does). Concurrent calls sweep once. A failed
// sweep is not reported to the writer, whose write succeeded: the next
// write tries again.
func (e *Expiry) Due(ctx context.Context, now time.Time) {
	last := e.last.Load()
	if now.UnixNano()-last < int64(SweepEvery) || !e.last.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := e.Sweep(ctx, now); err != nil {
		e.last.CompareAndSwap(now.UnixNano(), last)
	}
}

// notImplemented reports whether err is the server's NotImplemented (code
// 238): FerretDB's answer to an index option it lacks.
func notImplemented(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 238
}
