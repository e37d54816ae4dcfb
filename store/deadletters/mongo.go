package deadletters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
)

// Collection is the dead letters' collection (docs/data.md).
const Collection = "dead_letters"

// Mongo is the Store on MongoDB (or FerretDB): one document per letter
// under its Key; Put is an insert (the _id decides), and its one update
// (dead again after a replay) is filtered on the replayed state.
type Mongo struct {
	c         *mongo.Collection
	retention time.Duration
	expiry    *store.Expiry
}

var _ Store = (*Mongo)(nil)

// NewMongo uses db's dead_letters collection.
// Letters are kept for DefaultRetention.
func NewMongo(db *store.Mongo) *Mongo {
	c := db.DB.Collection(Collection)
	return &Mongo{c: c, retention: DefaultRetention, expiry: store.NewExpiry(c)}
}

// WithRetention keeps the letters Put stores from now on for d (at least
// a minute) after their latest death; call it before using m.
func (m *Mongo) WithRetention(d time.Duration) *Mongo {
	m.retention = max(d, time.Minute)
	return m
}

// Indexes serve List's newest-first order, and expire letters.
var Indexes = []mongo.IndexModel{
	{Keys: bson.D{{Key: "deadAt", Value: -1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("deadat_id")},
	store.TTLIndex(),
}

// EnsureIndexes creates the missing ones of Indexes.
func (m *Mongo) EnsureIndexes(ctx context.Context) error {
	if err := store.EnsureIndexes(ctx, m.c, Indexes); err != nil {
		return fmt.Errorf("deadletters: %w", err)
	}
	return nil
}

func (m *Mongo) Put(ctx context.Context, l Letter) (bool, error) {
	l = prepare(l, m.retention)
	_, err := m.c.InsertOne(ctx, l)
	switch {
	case err == nil:
		m.expiry.Due(ctx, time.Now())
		return true, nil
	case !mongo.IsDuplicateKeyError(err):
		return false, fmt.Errorf("deadletters: insert: %w", err)
	}
	_, err = m.c.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: l.ID}, {Key: "state", Value: Replayed}, {Key: "replayedAt", Value: bson.D{{Key: "$lt", Value: l.DeadAt}}}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: Dead}, {Key: "lastDeadAt", Value: l.DeadAt}, {Key: store.ExpireAtField, Value: l.ExpireAt},
			{Key: "errorDest", Value: l.ErrorDest}, {Key: "errorCode", Value: l.ErrorCode}, {Key: "errorData", Value: l.ErrorData},
		}}})
	if err != nil {
		return false, fmt.Errorf("deadletters: dead again: %w", err)
	}
	return false, nil
}

func (m *Mongo) Get(ctx context.Context, id string) (Letter, error) {
	var l Letter
	err := m.c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&l)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return Letter{}, store.ErrNotFound
	case err != nil:
		return Letter{}, fmt.Errorf("deadletters: get: %w", err)
	}
	return utc(l), nil
}

func (m *Mongo) List(ctx context.Context, q Query) ([]Letter, error) {
	filter := bson.D{}
	if q.State != "" {
		filter = append(filter, bson.E{Key: "state", Value: q.State})
	}
	if q.Type != "" {
		filter = append(filter, bson.E{Key: "type", Value: q.Type})
	}
	if !q.Before.DeadAt.IsZero() || q.Before.ID != "" {
		at := storedTime(q.Before.DeadAt)
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "deadAt", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "deadAt", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.Before.ID}}}},
		}})
	}
	cur, err := m.c.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "deadAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(max(1, q.Limit))).
		SetProjection(bson.D{{Key: "event", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("deadletters: list: %w", err)
	}
	out := []Letter{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("deadletters: list: %w", err)
	}
	for i := range out {
		out[i] = utc(out[i])
	}
	return out, nil
}

func (m *Mongo) MarkReplayed(ctx context.Context, id, by string, at time.Time) (Letter, error) {
	res, err := m.c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "state", Value: Replayed}, {Key: "replayedAt", Value: storedTime(at)}, {Key: "replayedBy", Value: by}}},
		{Key: "$inc", Value: bson.D{{Key: "replays", Value: 1}}},
	})
	if err != nil {
		return Letter{}, fmt.Errorf("deadletters: mark replayed: %w", err)
	}
	if res.MatchedCount == 0 {
		return Letter{}, store.ErrNotFound
	}
	return m.Get(ctx, id)
}

func (m *Mongo) Expire(ctx context.Context, now time.Time) (int64, error) {
	return m.expiry.Sweep(ctx, now)
}

// utc gives the times the driver decodes in local time back in UTC.
func utc(l Letter) Letter {
	l.DeadAt, l.LastDeadAt, l.ExpireAt = l.DeadAt.UTC(), l.LastDeadAt.UTC(), l.ExpireAt.UTC()
	if l.ReplayedAt != nil {
		t := l.ReplayedAt.UTC()
		l.ReplayedAt = &t
	}
	return l
}
