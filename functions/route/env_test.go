package function

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/deliveries"
	storedir "github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/messages"
	storepresence "github.com/agentchat/agentchat/store/presence"
)

// fixture is one test's private database and Redis prefix on the test
// services, with helpers to seed what accounts, persist and connectors
// would have written, and to watch what route publishes.
type fixture struct {
	t      testing.TB
	db     *mongo.Database
	redis  *redis.Client
	prefix string
	cfg    map[string]string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	mongoURI := fntest.Need(t, "AGENTCHAT_TEST_MONGODB_URI")
	redisURL := fntest.Need(t, "AGENTCHAT_TEST_REDIS_URL")
	client, err := mongo.Connect(options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	suffix := safeName(t.Name()) + "_" + randomHex(4)
	db := client.Database("route_" + suffix)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	prefix := "test:route:" + suffix + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
		if keys, err := rc.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		_ = rc.Close()
	})
	return &fixture{t: t, db: db, redis: rc, prefix: prefix, cfg: map[string]string{
		"MONGODB_URI": mongoURI, "MONGODB_DATABASE": db.Name(), "REDIS_URL": redisURL, "REDIS_PREFIX": prefix,
		"LOG_LEVEL": "WARN",
	}}
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

// start runs a route instance, stopped at the end; extra config on top.
func (fx *fixture) start(extra map[string]string) *Function {
	fx.t.Helper()
	cfg := map[string]string{}
	for k, v := range fx.cfg {
		cfg[k] = v
	}
	for k, v := range extra {
		cfg[k] = v
	}
	f := New()
	if err := f.Start(context.Background(), cfg); err != nil {
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

// user seeds a person with devices.
func (fx *fixture) user(id string, devices ...string) {
	fx.t.Helper()
	fx.insert(collUsers, bson.M{"_id": id, "kind": "user", "name": id, "createdAt": time.Now()})
	fx.devices(id, devices...)
}

// agent seeds an agent with its one device, as accounts does.
func (fx *fixture) agent(id, kind, device string) {
	fx.t.Helper()
	fx.insert(collUsers, bson.M{"_id": id, "kind": "agent", "name": id, "agentKind": kind, "deviceId": device, "createdAt": time.Now()})
	fx.devices(id, device)
}

func (fx *fixture) devices(user string, devices ...string) {
	fx.t.Helper()
	for _, d := range devices {
		fx.insert(collDevices, bson.M{"_id": d, "user": user, "publicKey": "AAAA", "createdAt": time.Now()})
	}
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

func (fx *fixture) revoke(device string) {
	fx.t.Helper()
	_, err := fx.db.Collection(collDevices).UpdateOne(context.Background(), bson.M{"_id": device},
		bson.M{"$set": bson.M{"revokedAt": time.Now()}})
	if err != nil {
		fx.t.Fatal(err)
	}
}

// conversation seeds a group as accounts does (store/directory: the
// document at rev 1 and each member's membership entry).
func (fx *fixture) conversation(id string, members ...string) {
	fx.t.Helper()
	err := storedir.NewMongoDB(fx.db).InsertConversation(context.Background(), storedir.Conversation{ID: id, Kind: storedir.Group,
		Members: members, CreatedBy: members[0], CreatedAt: time.Now(), UpdatedAt: time.Now()})
	if err != nil {
		fx.t.Fatal(err)
	}
}

// messages stores seq 1..n of a conversation through store/messages (as
// persist does), each with ciphertext of ctSize bytes.
func (fx *fixture) messages(conv string, n, ctSize int) {
	fx.t.Helper()
	ctx := context.Background()
	s, err := messages.NewMongoDB(ctx, fx.db)
	if err != nil {
		fx.t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Go(func() {
			for seq := int64(w + 1); seq <= int64(n); seq += 8 {
				if err := s.Insert(ctx, message(conv, seq, "alice", "a1", ctSize)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fx.t.Fatal(err)
	}
}

// online writes presence keys as a connector would, in one round trip.
func (fx *fixture) online(connector string, devices ...events.DeviceRef) {
	fx.t.Helper()
	_, err := fx.redis.Pipelined(context.Background(), func(p redis.Pipeliner) error {
		for _, d := range devices {
			p.Set(context.Background(), storepresence.Key(fx.prefix, d.User, d.Device), connector, time.Minute)
		}
		return nil
	})
	if err != nil {
		fx.t.Fatal(err)
	}
}

func rnd(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }

// message is a stored message with an envelope that passes Validate.
func message(conv string, seq int64, sender, device string, ctSize int) events.Message {
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(ctSize),
		Keys: []e2ee.WrappedKey{{Device: device, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)}}}
	return events.Message{ConversationID: conv, Seq: seq, SenderID: sender, SenderDevice: device,
		ClientMessageID: fmt.Sprintf("cm%d", seq), Envelope: env, StoredAt: time.Now().UTC().Truncate(time.Millisecond),
		Audience: audienceFor(dev(sender, device))}
}

// stored is persist's reply for m with the audience it checked.
func stored(m events.Message, a *events.Audience) event.Event {
	m.Audience = a
	return must(events.NewMessageStored(m))
}

// audienceFor is who persist says a stored message is for.
func audienceFor(devices ...events.DeviceRef) *events.Audience {
	return &events.Audience{Devices: devices}
}

// withAgents marks agents in a and gives every device of a a public key,
// as persist does when an agent is a member.
func withAgents(a *events.Audience, agents ...events.AgentMember) *events.Audience {
	a.Agents = agents
	a.Keys = map[string]string{}
	for _, d := range a.Devices {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		a.Keys[d.Device] = base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
	}
	return a
}

// must unwraps an event constructor's result; a test's own event that
// fails validation is a bug in the test.
func must(e event.Event, err error) event.Event {
	if err != nil {
		panic(err)
	}
	return e
}

// published is one delivery a connector would have received.
type published struct {
	connector string
	targets   []events.DeviceRef
	inner     event.Event
}

// watch subscribes to every delivery channel of the fixture's prefix.
// Its drain returns what was published since the last drain, in order.
type watch struct {
	fx   *fixture
	ps   *redis.PubSub
	mu   sync.Mutex
	got  []published
	seen map[string]bool // sentinels received
	errs []error
}

func (fx *fixture) watch() *watch {
	fx.t.Helper()
	ctx := context.Background()
	ps := fx.redis.PSubscribe(ctx, deliveries.Channel(fx.prefix, "*"))
	if _, err := ps.Receive(ctx); err != nil { // the subscription is confirmed
		fx.t.Fatal(err)
	}
	w := &watch{fx: fx, ps: ps, seen: map[string]bool{}}
	fx.t.Cleanup(func() { _ = ps.Close() })
	go func() {
		for msg := range ps.Channel() {
			w.mu.Lock()
			connector := strings.TrimPrefix(msg.Channel, deliveries.Channel(fx.prefix, ""))
			if connector == "sentinel" {
				w.seen[msg.Payload] = true
			} else if p, err := decodeDelivery(connector, msg.Payload); err != nil {
				w.errs = append(w.errs, err)
			} else {
				w.got = append(w.got, p)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func decodeDelivery(connector, payload string) (published, error) {
	d, err := deliveries.Decode([]byte(payload))
	if err != nil {
		return published{}, err
	}
	inner := d.Event()
	return published{connector: connector, targets: d.Targets, inner: inner}, events.Validate(inner)
}

// drain publishes a sentinel behind everything route has published (Handle
// has returned, so its PUBLISHes were executed first) and returns what
// arrived before it.
func (w *watch) drain() []published {
	w.fx.t.Helper()
	id := randomHex(8)
	if err := w.fx.redis.Publish(context.Background(), deliveries.Channel(w.fx.prefix, "sentinel"), id).Err(); err != nil {
		w.fx.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		if w.seen[id] {
			got, errs := w.got, w.errs
			w.got, w.errs = nil, nil
			w.mu.Unlock()
			for _, err := range errs {
				w.fx.t.Errorf("undecodable delivery: %v", err)
			}
			return got
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			w.fx.t.Fatal("sentinel never arrived")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// handle calls Handle and fails the test on an error.
func handle(t testing.TB, f *Function, e event.Event) {
	t.Helper()
	reply, err := f.HandleEvent(context.Background(), e)
	if err != nil || reply != nil {
		t.Fatalf("Handle(%s): reply %v, err %v", e.Type(), reply, err)
	}
}
