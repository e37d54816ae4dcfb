package deliveries

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/storetest"
)

// subscribeFunc subscribes to connectors' channels and returns what they
// receive, once every subscription is in place.
type subscribeFunc func(t *testing.T, connectors ...string) <-chan received

type received struct {
	connector string
	payload   []byte
}

// TestDeliveries runs one suite against the real Redis, miniredis (the dev
// runner's Redis) and the twin.
func TestDeliveries(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		prefix := "test:deliveries:" + hex.EncodeToString(b) + ":"
		suite(t, NewRedis(rdb, prefix), redisSubscribe(rdb, prefix))
	})
	t.Run("miniredis", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
		t.Cleanup(func() { rdb.Close() })
		suite(t, NewRedis(rdb, "test:"), redisSubscribe(rdb, "test:"))
	})
	t.Run("memory", func(t *testing.T) {
		m := NewMemory()
		suite(t, m, func(t *testing.T, connectors ...string) <-chan received {
			ch := make(chan received, 100)
			for _, c := range connectors {
				t.Cleanup(m.Subscribe(c, func(p []byte) { ch <- received{c, p} }))
			}
			return ch
		})
	})
}

func redisSubscribe(rdb *redis.Client, prefix string) subscribeFunc {
	return func(t *testing.T, connectors ...string) <-chan received {
		ctx := context.Background()
		var channels []string
		for _, c := range connectors {
			channels = append(channels, Channel(prefix, c))
		}
		ps := rdb.Subscribe(ctx, channels...)
		t.Cleanup(func() { ps.Close() })
		for range channels { // the confirmations: subscribed from here on
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		ch := make(chan received, 100)
		go func() {
			for m := range ps.Channel() {
				ch <- received{strings.TrimPrefix(m.Channel, Channel(prefix, "")), []byte(m.Payload)}
			}
		}()
		return ch
	}
}

func suite(t *testing.T, p Publisher, subscribe subscribeFunc) {
	ctx := context.Background()
	t.Run("each connector gets its delivery, decoded as published", func(t *testing.T) {
		got := subscribe(t, "A", "B")
		stored := storedEvent(t)
		typing, err := events.NewTyping(events.SourceConnectorPrefix+"c9", "c1", "bob", "b1", events.TypingStarted)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Delivery{
			"A": Of(stored, []events.DeviceRef{{User: "alice", Device: "a1"}, {User: "bob", Device: "b1"}}),
			"B": Of(typing, []events.DeviceRef{{User: "carol", Device: "c1"}}),
		}
		if err := p.Publish(ctx, want); err != nil {
			t.Fatal(err)
		}
		for range want {
			var r received
			select {
			case r = <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery within 10s")
			}
			d, err := Decode(r.payload)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, want[r.connector]) {
				t.Errorf("%s got %+v, want %+v", r.connector, d, want[r.connector])
			}
		}
	})
	t.Run("a connector nobody listens to loses it", func(t *testing.T) {
		if err := p.Publish(ctx, map[string]Delivery{"gone": Of(storedEvent(t), []events.DeviceRef{{User: "a", Device: "b"}})}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an empty delivery is refused", func(t *testing.T) {
		if err := p.Publish(ctx, map[string]Delivery{"A": {Type: events.TypeTyping}}); err == nil {
			t.Fatal("published a delivery without targets or data")
		}
	})
}

// TestEventRoundTrip: the event a connector rebuilds from a delivery is
// the one route had, as the catalog validates and decodes it.
func TestEventRoundTrip(t *testing.T) {
	stored := storedEvent(t)
	stored.SetExtension(events.ExtAgentID, "calc")
	p, err := Encode(Of(stored, []events.DeviceRef{{User: "alice", Device: "a1"}}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	e := d.Event()
	m, err := events.Decode[events.Message](e)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := events.Decode[events.Message](stored)
	if !reflect.DeepEqual(m, want) {
		t.Errorf("message %+v, want %+v", m, want)
	}
	for _, name := range []string{events.ExtConversationID, events.ExtSenderID, events.ExtDeviceID, events.ExtAgentID, events.ExtPartitionKey} {
		if e.Extensions()[name] != stored.Extensions()[name] {
			t.Errorf("%s = %v, want %v", name, e.Extensions()[name], stored.Extensions()[name])
		}
	}
	if e.ID() != stored.ID() || e.Type() != stored.Type() || e.Source() != stored.Source() || e.Subject() != stored.Subject() {
		t.Errorf("attributes %v, want those of %v", e, stored)
	}
	// An event about a device (no conversation) keeps its partition key.
	resume, err := events.NewResumeBatch("alice", "a1", events.ResumeBatch{Conversations: []events.ResumedConversation{}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = Encode(Of(resume, []events.DeviceRef{{User: "alice", Device: "a1"}}))
	d, _ = Decode(p)
	if err := events.Validate(d.Event()); err != nil {
		t.Errorf("resume batch: %v", err)
	}
	for _, bad := range []string{`{}`, `{"type":"x","targets":[],"data":{}}`, `not json`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) succeeded", bad)
		}
	}
}

func storedEvent(t *testing.T) eventT {
	t.Helper()
	m := events.Message{ConversationID: "c1", Seq: 7, SenderID: "alice", SenderDevice: "a1", ClientMessageID: "m7",
		Envelope: envelope(), StoredAt: time.Now().UTC().Truncate(time.Millisecond),
		Audience: &events.Audience{Devices: []events.DeviceRef{{User: "alice", Device: "a1"}}}}
	e, err := events.NewMessageStored(m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type eventT = event.Event

func envelope() *e2ee.Envelope {
	rnd := func(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }
	return &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(48),
		Keys: []e2ee.WrappedKey{{Device: "a1", Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)}}}
}
