package function

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// The agent answers through the broker: a sealed reply for every member
// device with r-<seq> from its own device, then done; a redelivery sends
// the same message id again.
func TestHandleAnswers(t *testing.T) {
	uri := need(t, "AGENTCHAT_TEST_MONGODB_URI")
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	dbName := "calcagent_" + hex.EncodeToString(b)
	db := client.Database(dbName)
	t.Cleanup(func() { db.Drop(ctx); client.Disconnect(ctx) })

	aliceKey, _ := e2ee.GenerateKey()
	calcKey, _ := e2ee.GenerateKey()
	pub := func(k *e2ee.PrivateKey) string { return base64.StdEncoding.EncodeToString(k.PublicKeyBytes()) }
	db.Collection("users").InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "alice"}, {Key: "kind", Value: "user"}, {Key: "name", Value: "Alice"}},
		bson.D{{Key: "_id", Value: "calc"}, {Key: "kind", Value: "agent"}, {Key: "name", Value: "Calc"}, {Key: "deviceId", Value: "dv-calc"}},
	})
	db.Collection("devices").InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "alice-phone"}, {Key: "user", Value: "alice"}, {Key: "publicKey", Value: pub(aliceKey)}},
		bson.D{{Key: "_id", Value: "dv-calc"}, {Key: "user", Value: "calc"}, {Key: "publicKey", Value: pub(calcKey)}},
	})
	db.Collection("conversations").InsertOne(ctx, bson.D{{Key: "_id", Value: "c-1"}, {Key: "members", Value: []string{"alice", "calc"}}, {Key: "rev", Value: 1}})

	var mu sync.Mutex
	var posted []event.Event
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		posted = append(posted, *e)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer broker.Close()

	f := New()
	err = f.Start(ctx, map[string]string{"MONGODB_URI": uri, "MONGODB_DATABASE": dbName, "K_SINK": broker.URL,
		"AGENT_KEYS": "calc:" + base64.StdEncoding.EncodeToString(calcKey.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(ctx)

	recipients := []e2ee.Recipient{{Device: "alice-phone", PublicKey: aliceKey.PublicKey()}, {Device: "dv-calc", PublicKey: calcKey.PublicKey()}}
	body, _ := e2ee.Content{Text: "2+3*4"}.Marshal()
	env, _ := e2ee.Seal(body, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "alice-phone", ClientMessageID: "m-1"}, recipients)
	inv, err := events.NewAgentInvoke("calc", "calc", events.Message{ConversationID: "c-1", Seq: 5, SenderID: "alice",
		SenderDevice: "alice-phone", ClientMessageID: "m-1", Envelope: env, StoredAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is a redelivery
		if _, err := f.Handle(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 4 {
		t.Fatalf("posted %d events, want reply+done twice", len(posted))
	}
	for i, e := range posted {
		wantType := []string{events.TypeMessageSent, events.TypeAgentDone}[i%2]
		if e.Type() != wantType || e.Extensions()[events.ExtSenderID] != "calc" || e.Extensions()[events.ExtDeviceID] != "dv-calc" {
			t.Errorf("event %d: %s from %v/%v", i, e.Type(), e.Extensions()[events.ExtSenderID], e.Extensions()[events.ExtDeviceID])
		}
	}
	if posted[0].ID() != posted[2].ID() {
		t.Errorf("the redelivered reply has another event id: persist would not see it as a resend")
	}
	sent, err := events.Decode[events.MessageSent](posted[0])
	if err != nil || sent.ClientMessageID != "r-5" {
		t.Fatalf("reply = %+v %v", sent, err)
	}
	plain, err := e2ee.Open(sent.Envelope, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "dv-calc", ClientMessageID: "r-5"}, "alice-phone", aliceKey)
	if err != nil {
		t.Fatalf("alice cannot open the reply: %v", err)
	}
	c, _ := e2ee.UnmarshalContent(plain)
	if c.Text != "2+3*4 = 14" || c.ReplyTo != 5 {
		t.Errorf("reply = %+v", c)
	}
	if got := len(sent.Envelope.Keys); got != 2 {
		t.Errorf("wrapped for %d devices, want 2 (every member device)", got)
	}
}
