package directory

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

func testMongo(t *testing.T) *Mongo {
	t.Helper()
	uri := storetest.Need(t, storetest.EnvMongoURI)
	ctx := context.Background()
	m, err := store.OpenMongo(uri, fmt.Sprintf("directory_int_%d", time.Now().UnixNano()), "directory-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.DB.Drop(ctx); m.Close(ctx) })
	d := NewMongo(m)
	if err := d.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMongoLaggingDocument: a change logged by a writer that died before
// applying it counts for every reader, and the next read repairs the
// document and the membership index.
func TestMongoLaggingDocument(t *testing.T) {
	d, ctx := testMongo(t), context.Background()
	if err := d.InsertConversation(ctx, Conversation{ID: "g1", Kind: Group, Members: []string{"u1", "u2"}}); err != nil {
		t.Fatal(err)
	}
	// the writer logged "remove u2" and died
	if err := insert(ctx, d.changes, change{ID: changeID("g1", 2), Conversation: "g1", Rev: 2, Op: OpRemove, User: "u2", Members: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	m, err := d.Members(ctx, "g1")
	if err != nil || m.Rev != 2 || !slices.Equal(m.Members, []string{"u1"}) {
		t.Errorf("Members = %+v, %v; want the logged rev 2", m, err)
	}
	if cs, _ := d.ConversationsOf(ctx, "u2", 10); len(cs) != 1 {
		t.Fatalf("before a repairing read, the document still lists u2: got %d conversations", len(cs))
	}
	if c, err := d.Conversation(ctx, "g1"); err != nil || c.Rev != 2 {
		t.Fatalf("Conversation = %+v, %v", c, err)
	}
	if cs, _ := d.ConversationsOf(ctx, "u2", 10); len(cs) != 0 {
		t.Errorf("after the repair, u2 still lists g1")
	}
	var doc membershipDoc
	if err := findOne(ctx, d.memberships, bson.D{{Key: "_id", Value: membershipID("u2", "g1")}}, &doc); err != nil || doc.Member || doc.Rev != 2 {
		t.Errorf("u2's membership entry = %+v, %v; want rev 2, not a member", doc, err)
	}
	// an older revision applied late does not overwrite a newer entry
	if err := d.apply(ctx, change{Conversation: "g1", Rev: 1, Op: OpAdd, User: "u2", Members: []string{"u1", "u2"}}); err != nil {
		t.Fatal(err)
	}
	if err := findOne(ctx, d.memberships, bson.D{{Key: "_id", Value: membershipID("u2", "g1")}}, &doc); err != nil || doc.Member || doc.Rev != 2 {
		t.Errorf("after a late older change, u2's entry = %+v, %v; want rev 2 kept", doc, err)
	}
}

// TestMongoDropsArrayIndex: the index earlier versions made on the members
// array goes, and a large group can then be created.
func TestMongoDropsArrayIndex(t *testing.T) {
	d, ctx := testMongo(t), context.Background()
	if _, err := d.convs.Indexes().CreateOne(ctx, mongoIndex("members_updatedAt", "members", "updatedAt")); err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	have, err := indexNames(ctx, d.convs)
	if err != nil || have["members_updatedAt"] {
		t.Fatalf("indexes after EnsureIndexes = %v, %v", have, err)
	}
	members := make([]string, 300) // an index on them refuses this on FerretDB-on-PostgreSQL
	for i := range members {
		members[i] = fmt.Sprintf("u-%x", sha256.Sum256([]byte(fmt.Sprint(i))))[:26]
	}
	if err := d.InsertConversation(ctx, Conversation{ID: "big", Kind: Group, Members: members}); err != nil {
		t.Fatal(err)
	}
}

// mongoIndex is a plain ascending index on keys, named name .
func mongoIndex(name string, keys ...string) mongo.IndexModel {
	d := bson.D{}
	for _, k := range keys {
		d = append(d, bson.E{Key: k, Value: 1})
	}
	return mongo.IndexModel{Keys: d, Options: options.Index().SetName(name)}
}
