package testenv

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMongo(t *testing.T) {
	var uri, database string
	t.Run("insert and unique index", func(t *testing.T) {
		uri, database = Mongo(t)
		c, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer c.Disconnect(ctx)
		coll := c.Database(database).Collection("messages")

		_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}},
			Options: options.Index().SetUnique(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "conversation", Value: "c1"}, {Key: "seq", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		_, err = coll.InsertOne(ctx, bson.D{{Key: "conversation", Value: "c1"}, {Key: "seq", Value: 1}})
		if !mongo.IsDuplicateKeyError(err) {
			t.Fatalf("second insert of (c1, 1): err = %v, want E11000 duplicate key", err)
		}
		if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
			t.Errorf("count = %d, %v; want 1", n, err)
		}
	})
	if uri == "" {
		t.Skip("no mongodb")
	}

	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer c.Disconnect(ctx)
	names, err := c.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, database) {
		t.Errorf("database %s still exists after the test", database)
	}
}
