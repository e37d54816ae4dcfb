package store_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestExpiry: the TTL index is created where the server has TTL indexes
// and tolerated where it has not (FerretDB); either way Due sweeps the
// expired documents, once per SweepEvery.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	db := storetest.Mongo(t, "expiry")
	c := db.DB.Collection("things")
	if err := store.EnsureIndexes(ctx, c, []mongo.IndexModel{store.TTLIndex()}); err != nil {
		t.Fatalf("EnsureIndexes with the TTL index: %v", err)
	}
	now := time.Now().UTC()
	put := func(id string, at time.Time) {
		t.Helper()
		if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: store.ExpireAtField, Value: at}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		n, err := c.CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	put("gone", now.Add(-time.Hour))
	put("kept", now.Add(time.Hour))
	e := store.NewExpiry(c)
	e.Due(ctx, now)
	if n := count(); n != 1 {
		t.Fatalf("after the first Due: %d documents, want 1 (the unexpired one)", n)
	}
	put("gone-too", now.Add(-time.Minute))
	e.Due(ctx, now.Add(store.SweepEvery-time.Second))
	if n := count(); n != 2 {
		t.Errorf("Due within SweepEvery swept (%d documents, want 2)", n)
	}
	e.Due(ctx, now.Add(store.SweepEvery))
	if n := count(); n != 0 {
		t.Errorf("Due after SweepEvery: %d documents, want 0 (kept expired at now+SweepEvery)", n)
	}
}
