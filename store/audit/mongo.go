package audit

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

// Collection is the audit log's collection (docs/data.md).
const Collection = "audit"

// Mongo is the Log on MongoDB (or FerretDB): one document per entry;
// Finish is a single-document update filtered on the pending outcome.
type Mongo struct{ c *mongo.Collection }

var _ Log = (*Mongo)(nil)

// NewMongo uses db's audit collection.
func NewMongo(db *store.Mongo) *Mongo { return &Mongo{c: db.DB.Collection(Collection)} }

// Indexes serve List's newest-first order.
var Indexes = []mongo.IndexModel{
	{Keys: bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("at_id")},
}

// EnsureIndexes creates the missing ones of Indexes.
func (m *Mongo) EnsureIndexes(ctx context.Context) error {
	if err := store.EnsureIndexes(ctx, m.c, Indexes); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (m *Mongo) Begin(ctx context.Context, e Entry) error {
	e.At, e.Outcome, e.FinishedAt = storedTime(e.At), Pending, time.Time{}
	_, err := m.c.InsertOne(ctx, e)
	switch {
	case mongo.IsDuplicateKeyError(err):
		return store.ErrDuplicate
	case err != nil:
		return fmt.Errorf("audit: insert: %w", err)
	}
	return nil
}

func (m *Mongo) Finish(ctx context.Context, id, outcome string, status int, detail string, at time.Time) error {
	res, err := m.c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "outcome", Value: Pending}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "outcome", Value: outcome}, {Key: "status", Value: status},
			{Key: "detail", Value: detail}, {Key: "finishedAt", Value: storedTime(at)},
		}}})
	if err != nil {
		return fmt.Errorf("audit: finish: %w", err)
	}
	if res.MatchedCount == 0 {
		n, err := m.c.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return fmt.Errorf("audit: finish: %w", err)
		}
		if n == 0 {
			return store.ErrNotFound
		}
	}
	return nil
}

func (m *Mongo) Deny(ctx context.Context, e Entry) error {
	e = denied(e)
	_, err := m.c.InsertOne(ctx, e)
	switch {
	case err == nil:
		return nil
	case !mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("audit: deny: %w", err)
	}
	_, err = m.c.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, bson.D{
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
		{Key: "$max", Value: bson.D{{Key: "finishedAt", Value: e.At}}},
	})
	if err != nil {
		return fmt.Errorf("audit: deny again: %w", err)
	}
	return nil
}

func (m *Mongo) List(ctx context.Context, q Query) ([]Entry, error) {
	filter := bson.D{}
	for k, v := range map[string]string{"actor": q.Actor, "target": q.Target, "action": q.Action} {
		if v != "" {
			filter = append(filter, bson.E{Key: k, Value: v})
		}
	}
	if !q.Before.At.IsZero() || q.Before.ID != "" {
		at := storedTime(q.Before.At)
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.Before.ID}}}},
		}})
	}
	cur, err := m.c.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(max(1, q.Limit))))
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out := []Entry{}
	if err := cur.All(ctx, &out); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	for i := range out {
		out[i].At = out[i].At.UTC()
		if !out[i].FinishedAt.IsZero() {
			out[i].FinishedAt = out[i].FinishedAt.UTC()
		}
	}
	return out, nil
}
