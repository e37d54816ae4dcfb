package directory

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
)

// Collection names (docs/data.md).
const (
	CollUsers         = "users"
	CollDevices       = "devices"
	CollConversations = "conversations"
	CollChanges       = "conversation_changes"
	CollMemberships   = "memberships"
)

// Mongo is the directory on MongoDB or FerretDB.
type Mongo struct {
	users, devices, convs, changes, memberships *mongo.Collection
}

var (
	_ Reader    = (*Mongo)(nil)
	_ Directory = (*Mongo)(nil)
)

// NewMongo uses the directory's collections in m's database. Only accounts
// calls EnsureIndexes; readers need none of its indexes to be correct.
func NewMongo(m *store.Mongo) *Mongo { return NewMongoDB(m.DB) }

// NewMongoDB is NewMongo for a process that opened its database itself.
func NewMongoDB(db *mongo.Database) *Mongo {
	return &Mongo{
		users: db.Collection(CollUsers), devices: db.Collection(CollDevices),
		convs: db.Collection(CollConversations), changes: db.Collection(CollChanges),
		memberships: db.Collection(CollMemberships),
	}
}

// Members reads the conversation, then any membership change logged past
// its rev (ChangeMembers inserts the log entry, with the whole member
// list, before it updates the document). Round trips: 2 (the document,
// and the next rev's absence).
func (s *Mongo) Members(ctx context.Context, conversation string) (Membership, error) {
	var doc struct {
		Kind    string   `bson:"kind"`
		Members []string `bson:"members"`
		Rev     int64    `bson:"rev"`
	}
	err := findOne(ctx, s.convs, bson.D{{Key: "_id", Value: conversation}}, &doc,
		options.FindOne().SetProjection(bson.D{{Key: "kind", Value: 1}, {Key: "members", Value: 1}, {Key: "rev", Value: 1}}))
	if err != nil {
		return Membership{}, err
	}
	m := Membership{Conversation: conversation, Kind: doc.Kind, Members: doc.Members, Rev: doc.Rev}
	for range maxChangesBehind {
		var ch struct {
			Members []string `bson:"members"`
		}
		err := findOne(ctx, s.changes, bson.D{{Key: "_id", Value: changeID(conversation, m.Rev+1)}}, &ch,
			options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}}))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return Membership{}, err
		}
		m.Members, m.Rev = ch.Members, m.Rev+1
	}
	if m.Members == nil {
		m.Members = []string{}
	}
	return m, nil
}

// maxChangesBehind bounds how many logged membership changes a read
// applies on top of a conversation document.
const maxChangesBehind = 64

// CurrentDevices treats a device as current while revokedAt is absent or
// null ({revokedAt: null} matches both).
func (s *Mongo) CurrentDevices(ctx context.Context, users []string) ([]Device, error) {
	out := []Device{}
	if len(users) == 0 {
		return out, nil
	}
	// One user (a device check on every sync and receipt, a sender's
	// devices) is an equality: FerretDB on PostgreSQL serves it from the
	// GIN twin of the user index (docs/data.md), where $in, even of one
	// value, scans every device document.
	var user any = bson.D{{Key: "$in", Value: users}}
	if len(users) == 1 {
		user = users[0]
	}
	filter := bson.D{{Key: "user", Value: user}, {Key: "revokedAt", Value: nil}}
	err := findAll(ctx, s.devices, filter, &out,
		options.Find().SetSort(bson.D{{Key: "user", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}))
	return out, err
}

// Agents reads the users among users whose kind is agent.
func (s *Mongo) Agents(ctx context.Context, users []string) ([]User, error) {
	out := []User{}
	if len(users) == 0 {
		return out, nil
	}
	err := findAll(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: users}}}, {Key: "kind", Value: KindAgent}}, &out)
	return out, err
}

func changeID(conv string, rev int64) string { return conv + "/" + strconv.FormatInt(rev, 10) }

// insert maps a duplicate-key error to store.ErrDuplicate.
func insert(ctx context.Context, c *mongo.Collection, doc any) error {
	_, err := c.InsertOne(ctx, doc)
	switch {
	case mongo.IsDuplicateKeyError(err):
		return store.ErrDuplicate
	case err != nil:
		return fmt.Errorf("directory: insert %s: %w", c.Name(), err)
	}
	return nil
}

// findOne decodes the first match of filter into out, store.ErrNotFound
// if none.
func findOne(ctx context.Context, c *mongo.Collection, filter, out any, opts ...options.Lister[options.FindOneOptions]) error {
	err := c.FindOne(ctx, filter, opts...).Decode(out)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("directory: find %s: %w", c.Name(), err)
	}
	return nil
}

// findAll decodes every match of filter into out (a pointer to a slice).
func findAll(ctx context.Context, c *mongo.Collection, filter, out any, opts ...options.Lister[options.FindOptions]) error {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return fmt.Errorf("directory: find %s: %w", c.Name(), err)
	}
	if err := cur.All(ctx, out); err != nil {
		return fmt.Errorf("directory: read %s: %w", c.Name(), err)
	}
	return nil
}
