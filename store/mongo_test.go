package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestMongoCountsCommands: what the platform asks of the storage is
// counted by command name; the driver's upkeep is not.
func TestMongoCountsCommands(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := store.OpenMongo(uri, fmt.Sprintf("store_mongo_%d", time.Now().UnixNano()), "store-test")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	defer m.DB.Drop(ctx)
	if err := m.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	c := m.DB.Collection("things")
	for i := range 3 {
		if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Err(); err != nil {
		t.Fatal(err)
	}
	got := m.Commands()
	if got["insert"] != 3 || got["find"] != 1 {
		t.Fatalf("Commands() = %v, want insert 3 and find 1", got)
	}
	if got["ping"] != 0 || got["hello"] != 0 {
		t.Fatalf("Commands() counts the driver's upkeep: %v", got)
	}
}
