package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/messages"
)

// fixture is one test's private database on the test MongoDB, with
// helpers to seed what accounts would have written.
type fixture struct {
	t   testing.TB
	db  *mongo.Database
	cfg map[string]string
}

// newFixture gives the test its own database, dropped at the end. It skips
// when no test MongoDB is configured, unless CI=true.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	uri := fntest.Need(t, "AGENTCHAT_TEST_MONGODB_URI")
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	name := "persist_" + safeName(t.Name()) + "_" + randomHex(4)
	db := client.Database(name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	return &fixture{t: t, db: db, cfg: map[string]string{"MONGODB_URI": uri, "MONGODB_DATABASE": name}}
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

func safeName(s string) string {
	s = strings.ToLower(unsafeChars.ReplaceAllString(s, "_"))
	if len(s) > 30 {
		s = s[len(s)-30:]
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start runs a persist instance on the fixture's database, stopped at the end.
func (fx *fixture) start() *Function {
	fx.t.Helper()
	f := New()
	if err := f.Start(context.Background(), fx.cfg); err != nil {
		fx.t.Fatal(err)
	}
	fx.t.Cleanup(func() { _ = f.Stop(context.Background()) })
	return f
}

func (fx *fixture) insert(coll string, docs ...any) {
	fx.t.Helper()
	if _, err := fx.db.Collection(coll).InsertMany(context.Background(), docs); err != nil {
		fx.t.Fatal(err)
	}
}

// user seeds a user (kind "user") with its devices.
func (fx *fixture) user(id string, devices ...string) {
	fx.t.Helper()
	fx.insert(collUsers, bson.M{"_id": id, "kind": "user", "name": id, "createdAt": time.Now()})
	for _, d := range devices {
		fx.insert(collDevices, bson.M{"_id": d, "user": id, "publicKey": "AAAA", "createdAt": time.Now()})
	}
}

func (fx *fixture) conversation(id string, members ...string) {
	fx.t.Helper()
	fx.insert(collConversations, bson.M{"_id": id, "kind": "group", "members": members, "createdBy": members[0],
		"createdAt": time.Now(), "updatedAt": time.Now()})
}

// people seeds n people with one current device each, ids shaped like
// accounts' ("u-" and "dv-" with 24 random hex characters), in one bulk
// insert per collection: a large group's members without n round trips.
func (fx *fixture) people(n int) []events.DeviceRef {
	fx.t.Helper()
	refs := make([]events.DeviceRef, n)
	users, devices := make([]any, n), make([]any, n)
	now := time.Now()
	for i := range refs {
		id := randomHex(12)
		refs[i] = events.DeviceRef{User: "u-" + id, Device: "dv-" + id}
		users[i] = bson.M{"_id": refs[i].User, "kind": "user", "name": refs[i].User, "createdAt": now}
		devices[i] = bson.M{"_id": refs[i].Device, "user": refs[i].User, "publicKey": "AAAA", "createdAt": now}
	}
	fx.insert(collUsers, users...)
	fx.insert(collDevices, devices...)
	return refs
}

// group seeds a group as accounts writes it (store/directory: a
// membership entry per member, then the document at rev 1).
func (fx *fixture) group(id string, members ...string) {
	fx.t.Helper()
	now := time.Now()
	err := directory.NewMongoDB(fx.db).InsertConversation(context.Background(), directory.Conversation{ID: id,
		Kind: directory.Group, Members: members, CreatedBy: members[0], CreatedAt: now, UpdatedAt: now})
	if err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) revoke(device string) {
	fx.t.Helper()
	_, err := fx.db.Collection(collDevices).UpdateOne(context.Background(), bson.M{"_id": device},
		bson.M{"$set": bson.M{"revokedAt": time.Now()}})
	if err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) count(coll string, filter any) int64 {
	fx.t.Helper()
	n, err := fx.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		fx.t.Fatal(err)
	}
	return n
}

// The collections the fixture seeds and checks.
const (
	collUsers         = directory.CollUsers
	collDevices       = directory.CollDevices
	collConversations = directory.CollConversations
	collChanges       = directory.CollChanges
	collMessages      = messages.MessagesCollection
	collCursors       = messages.CursorsCollection
)

// changed tells f's directory cache that a conversation's membership or
// users' devices changed, as accounts' change events do.
func changed(f *Function, conversation string, users ...string) {
	f.deps.Load().dir.Forget(conversation, users...)
}

// msgs is the fixture database's message log, for seeding and checking.
func (fx *fixture) msgs() *messages.Mongo {
	fx.t.Helper()
	ctx := context.Background()
	db, err := store.OpenMongo(fx.cfg["MONGODB_URI"], fx.cfg["MONGODB_DATABASE"], "persist-test")
	if err != nil {
		fx.t.Fatal(err)
	}
	fx.t.Cleanup(func() { _ = db.Close(ctx) })
	s, err := messages.NewMongo(ctx, db)
	if err != nil {
		fx.t.Fatal(err)
	}
	return s
}

// envelope builds an envelope that passes e2ee Validate, wrapped for
// devices: random bytes of the right sizes, no real key needed.
func envelope(devices ...string) *e2ee.Envelope {
	rnd := func(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(48)}
	for _, d := range devices {
		env.Keys = append(env.Keys, e2ee.WrappedKey{Device: d, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)})
	}
	return env
}

func sent(t testing.TB, conv, user, device, cmid string, env *e2ee.Envelope) event.Event {
	t.Helper()
	e, err := events.NewMessageSent(events.SourceConnectorPrefix+"test", conv, user, device,
		events.MessageSent{ClientMessageID: cmid, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// handle calls f.HandleEvent like a broker that retries on errors (500s).
func handle(t testing.TB, f *Function, e event.Event) *event.Event {
	t.Helper()
	var err error
	for range 10 {
		var reply *event.Event
		if reply, err = f.HandleEvent(context.Background(), e); err == nil {
			return reply
		}
	}
	t.Fatalf("Handle(%s) kept failing: %v", e.Type(), err)
	return nil
}

// decodeReply checks a reply's type and decodes its data.
func decodeReply[T any](t testing.TB, reply *event.Event, typ string) T {
	t.Helper()
	if reply == nil {
		t.Fatalf("no reply, want %s", typ)
	}
	if reply.Type() != typ {
		t.Fatalf("reply type %s (data %s), want %s", reply.Type(), reply.Data(), typ)
	}
	v, err := events.Decode[T](*reply)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
