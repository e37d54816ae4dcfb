package testenv

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mongo returns the URI of the test MongoDB (FerretDB) and a database name
// no other test uses; pass it as MONGODB_DATABASE. The database is dropped
// when the test ends.
func Mongo(t testing.TB) (uri, database string) {
	t.Helper()
	uri = Env(t, EnvMongoURI)
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatalf("testenv: %s=%q: %v", EnvMongoURI, uri, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx, nil); err != nil {
		c.Disconnect(context.Background())
		t.Fatalf("testenv: mongodb at %s: %v", uri, err)
	}
	// FerretDB allows ^[a-zA-Z0-9_-]{1,63}$.
	database = "test_" + unique(t, '_', 58)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer c.Disconnect(ctx)
		if err := c.Database(database).Drop(ctx); err != nil {
			t.Errorf("testenv: drop mongodb database %s: %v", database, err)
		}
	})
	return uri, database
}
