package function

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/webpushtest"
	"github.com/agentchat/agentchat/store/presence"
	"github.com/agentchat/agentchat/store/pushsubs"
	"github.com/agentchat/agentchat/store/seen"
)

// canary stands for message content and the sender's name: it must be in
// no push, on the wire or decrypted.
const canary = "CANARY-push-7f3a"

// fixture is push with in-memory stores on a clock the test moves, and
// the real sender posting to the tests' own push service.
type fixture struct {
	t        *testing.T
	f        *Function
	d        *deps
	svc      *webpushtest.Server
	subs     *pushsubs.Memory
	presence *presence.Memory
	seen     *seen.Memory
	mu       sync.Mutex
	now      time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseVAPID(base64.RawURLEncoding.EncodeToString(k.Bytes()), "mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := webpushtest.New(v.public)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	endpoints, err := pushsubs.ParseEndpoints(svc.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, f: New(), svc: svc, subs: pushsubs.NewMemory(), presence: presence.NewMemory(),
		now: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)}
	fx.seen = seen.NewMemory()
	fx.seen.Now, fx.presence.Now = fx.clock, fx.clock
	fx.d = &deps{subs: fx.subs, presence: fx.presence, seen: fx.seen, bursts: newMemoryBursts(fx.clock),
		sender: newWebPush(v, time.Hour, 5*time.Second), endpoints: endpoints, window: time.Minute}
	fx.f.deps.Store(fx.d)
	return fx
}

func (fx *fixture) clock() time.Time {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return fx.now
}

func (fx *fixture) advance(d time.Duration) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.now = fx.now.Add(d)
}

// subscribe gives device a subscription at the push service.
func (fx *fixture) subscribe(user, device string) string {
	fx.t.Helper()
	s := fx.svc.Subscribe()
	if err := fx.subs.Put(context.Background(), pushsubs.Subscription{User: user, Device: device,
		Endpoint: s.Endpoint, P256dh: s.Keys.P256dh, Auth: s.Keys.Auth}); err != nil {
		fx.t.Fatal(err)
	}
	return s.Endpoint
}

func (fx *fixture) online(user, device string) {
	fx.t.Helper()
	if ok, err := fx.presence.Connector("c1").Claim(context.Background(), events.DeviceRef{User: user, Device: device}, 1); !ok || err != nil {
		fx.t.Fatalf("claim presence: %v %v", ok, err)
	}
}

// connect is the user opening the app on device, as the connector
// records it: the socket's presence record (routing) and its user's
// presence (store/seen), both stamped by presence's Admit.
func (fx *fixture) connect(user, device string) seen.Socket {
	fx.t.Helper()
	ctx := context.Background()
	dev := events.DeviceRef{User: user, Device: device}
	reg := fx.presence.Connector("c1")
	adm, err := reg.Admit(ctx, dev)
	if err != nil {
		fx.t.Fatal(err)
	}
	if ok, err := reg.Claim(ctx, dev, adm.Stamp); !ok || err != nil {
		fx.t.Fatalf("claim presence: %v %v", ok, err)
	}
	sock := seen.Socket{Dev: dev, Stamp: adm.Stamp}
	if _, err := fx.seen.Connected(ctx, sock); err != nil {
		fx.t.Fatal(err)
	}
	return sock
}

// visit is the user opening the app on device, staying, and closing it:
// the presence record goes at once; the departure (store/seen's last
// seen) is written only if departed, as the connector does once
// PRESENCE_GRACE has passed.
func (fx *fixture) visit(user, device string, stay time.Duration, departed bool) {
	fx.t.Helper()
	ctx := context.Background()
	sock := fx.connect(user, device)
	fx.advance(stay)
	if err := fx.presence.Connector("c1").Release(ctx, []presence.Held{sock}); err != nil {
		fx.t.Fatal(err)
	}
	if !departed {
		return
	}
	if gone, err := fx.seen.Disconnected(ctx, sock, fx.clock()); !gone || err != nil {
		fx.t.Fatalf("seen: disconnected: %v %v", gone, err)
	}
}

// storedEvent is persist's message.stored for seq in conv from alice's
// phone, for alice's two devices and bob's two.
func storedEvent(t *testing.T, conv string, seq int64) event.Event {
	t.Helper()
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: make([]byte, 12), Ciphertext: []byte(canary + " sealed, as far as this test cares"),
		Keys: []e2ee.WrappedKey{{Device: "b-phone", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}}}
	m := events.Message{ConversationID: conv, Seq: seq, SenderID: "alice-" + canary, SenderDevice: "a-phone",
		ClientMessageID: fmt.Sprintf("cm%d", seq), Envelope: env, StoredAt: time.Now().UTC(),
		Audience: &events.Audience{Devices: []events.DeviceRef{
			{User: "alice-" + canary, Device: "a-phone"}, {User: "alice-" + canary, Device: "a-laptop"},
			{User: "bob", Device: "b-phone"}, {User: "bob", Device: "b-laptop"},
		}}}
	e, err := events.NewMessageStored(m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (fx *fixture) handle(e event.Event) error {
	fx.t.Helper()
	_, err := fx.f.HandleEvent(context.Background(), e)
	return err
}

// One push per burst to each offline subscribed device of the recipients,
// none to an online one or to the sender's; a payload without content; a
// redelivery pushes nothing again, even after the burst ended.
func TestOnePushPerBurstToOfflineDevices(t *testing.T) {
	fx := newFixture(t)
	bobPhone := fx.subscribe("bob", "b-phone")
	bobLaptop := fx.subscribe("bob", "b-laptop")
	aliceLaptop := fx.subscribe("alice-"+canary, "a-laptop") // the sender's other device: offline, still no push
	fx.online("bob", "b-laptop")

	first := storedEvent(t, "c-1", 1)
	for seq := int64(1); seq <= 3; seq++ {
		if err := fx.handle(storedEvent(t, "c-1", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fx.handle(first); err != nil { // a redelivery within the burst
		t.Fatal(err)
	}
	got := fx.svc.Pushes(bobPhone)
	if len(got) != 1 {
		t.Fatalf("offline device got %d pushes for a burst of 3 (and a redelivery), want 1; errors %v", len(got), fx.svc.Errors())
	}
	if n := len(fx.svc.Pushes(bobLaptop)); n != 0 {
		t.Errorf("online device got %d pushes, want 0", n)
	}
	if n := len(fx.svc.Pushes(aliceLaptop)); n != 0 {
		t.Errorf("the sender's own device got %d pushes, want 0", n)
	}
	p := got[0]
	if string(p.Plaintext) != `{"type":"message","conversation":"c-1"}` {
		t.Errorf("payload = %s", p.Plaintext)
	}
	if p.Subject != "mailto:ops@example.com" {
		t.Errorf("VAPID sub = %q", p.Subject)
	}
	if p.Header.Get("Topic") != topic || p.Header.Get("Urgency") != "high" || p.Header.Get("TTL") != "3600" {
		t.Errorf("headers: Topic %q Urgency %q TTL %q", p.Header.Get("Topic"), p.Header.Get("Urgency"), p.Header.Get("TTL"))
	}
	for what, b := range map[string][]byte{"decrypted payload": p.Plaintext, "body": p.Body, "headers": []byte(fmt.Sprint(p.Header))} {
		if bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte("alice")) {
			t.Errorf("the %s carries content or the sender", what)
		}
	}

	// After the window a new message starts a new burst; the first
	// event, redelivered now, still pushes nothing.
	fx.advance(2 * time.Minute)
	if err := fx.handle(first); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 1 {
		t.Errorf("a redelivery after the burst pushed again: %d pushes", n)
	}
	if err := fx.handle(storedEvent(t, "c-1", 4)); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 2 {
		t.Errorf("a message after the window: %d pushes in all, want 2", n)
	}
	if errs := fx.svc.Errors(); len(errs) > 0 {
		t.Errorf("the push service refused pushes: %v", errs)
	}
}

// A user who comes back after a push (opens the app, reads, leaves) is
// pushed again by the next message, however soon: their burst ended when
// they came back, not with the window. Redeliveries still push nothing,
// and a user online elsewhere all along does not end the burst.
func TestReturnEndsTheBurst(t *testing.T) {
	fx := newFixture(t)
	bobPhone := fx.subscribe("bob", "b-phone")
	first := storedEvent(t, "c-4", 1)
	if err := fx.handle(first); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 1 {
		t.Fatalf("first message: %d pushes, want 1; errors %v", n, fx.svc.Errors())
	}
	fx.advance(5 * time.Second)
	fx.visit("bob", "b-phone", 10*time.Second, true) // opened from the push, read, closed
	fx.advance(5 * time.Second)                      // 20 s after the push: well within the window
	if err := fx.handle(storedEvent(t, "c-4", 2)); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 2 {
		t.Fatalf("a message after bob came back and left: %d pushes in all, want 2", n)
	}
	// That started a new burst: the next message, and redeliveries of
	// the first and of the second, push nothing.
	if err := fx.handle(storedEvent(t, "c-4", 3)); err != nil {
		t.Fatal(err)
	}
	if err := fx.handle(first); err != nil {
		t.Fatal(err)
	}
	if err := fx.handle(storedEvent(t, "c-4", 2)); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 2 {
		t.Errorf("within the new burst: %d pushes in all, want 2", n)
	}
	// Bob opens the phone again and closes it; the next message comes
	// before the connector writes his departure (PRESENCE_GRACE): the
	// phone's arrival is enough, it pushes.
	fx.advance(5 * time.Second)
	fx.visit("bob", "b-phone", 5*time.Second, false)
	fx.advance(time.Second)
	if err := fx.handle(storedEvent(t, "c-4", 4)); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 3 {
		t.Fatalf("a message within the grace after bob came back: %d pushes in all, want 3", n)
	}
	// Bob on his laptop, opened after the phone's push and still open:
	// that is not the phone coming back, and he reads there; the phone's
	// burst goes on.
	fx.advance(2 * time.Minute)
	if err := fx.handle(storedEvent(t, "c-4", 5)); err != nil {
		t.Fatal(err)
	}
	fx.advance(time.Second)
	fx.connect("bob", "b-laptop")
	for seq := int64(6); seq <= 7; seq++ {
		fx.advance(time.Second)
		if err := fx.handle(storedEvent(t, "c-4", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 4 {
		t.Errorf("bob online on his laptop: %d pushes in all, want 4 (one for the burst after the window)", n)
	}
	if errs := fx.svc.Errors(); len(errs) > 0 {
		t.Errorf("the push service refused pushes: %v", errs)
	}
}

// A push service that is down fails the event (the broker retries) and
// the retry pushes; one that says the subscription is gone gets it
// removed, and the event succeeds.
func TestFailuresAndGoneSubscriptions(t *testing.T) {
	fx := newFixture(t)
	bobPhone := fx.subscribe("bob", "b-phone")
	fx.svc.Answer(bobPhone, http.StatusServiceUnavailable)
	e := storedEvent(t, "c-2", 1)
	err := fx.handle(e)
	if err == nil || fn.IsRefusal(err) {
		t.Fatalf("push service down: err = %v, want a retried error", err)
	}
	fx.svc.Answer(bobPhone, 0)
	if err := fx.handle(e); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 1 {
		t.Fatalf("after the retry: %d pushes, want 1", n)
	}

	fx.advance(2 * time.Minute)
	fx.svc.Answer(bobPhone, http.StatusGone)
	if err := fx.handle(storedEvent(t, "c-2", 2)); err != nil {
		t.Fatalf("410: %v", err)
	}
	if got, _ := fx.subs.Get(context.Background(), []string{"b-phone"}); len(got) != 0 {
		t.Errorf("a subscription the push service called gone is kept: %+v", got)
	}
}

// A device whose push went out while another device's failed gets none
// again when the broker redelivers the event after the burst ended (its
// later retries come minutes apart, past PUSH_COLLAPSE_WINDOW).
func TestRedeliveryAfterTheWindowSkipsDevicesPushed(t *testing.T) {
	fx := newFixture(t)
	bobPhone := fx.subscribe("bob", "b-phone")
	bobLaptop := fx.subscribe("bob", "b-laptop")
	fx.svc.Answer(bobLaptop, http.StatusServiceUnavailable)
	e := storedEvent(t, "c-3", 1)
	if err := fx.handle(e); err == nil {
		t.Fatal("one push service down: the event succeeded, want a retried error")
	}
	fx.advance(2 * time.Minute) // the phone's burst has ended
	fx.svc.Answer(bobLaptop, 0)
	if err := fx.handle(e); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.svc.Pushes(bobPhone)); n != 1 {
		t.Errorf("the device pushed before the failure: %d pushes after the redelivery, want 1", n)
	}
	if n := len(fx.svc.Pushes(bobLaptop)); n != 1 {
		t.Errorf("the device whose push failed: %d pushes after the redelivery, want 1", n)
	}
}

// Events that are not stored messages, or stored messages without their
// audience, are refused (dead-lettered, not retried).
func TestRefuses(t *testing.T) {
	fx := newFixture(t)
	typing, err := events.NewTyping("/x", "c-1", "alice", "a-phone", "typing")
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.handle(typing); !fn.IsRefusal(err) {
		t.Errorf("typing: err = %v, want a refusal", err)
	}
	e := storedEvent(t, "c-1", 1)
	var m events.Message
	if err := e.DataAs(&m); err != nil {
		t.Fatal(err)
	}
	m.Audience = nil
	noAudience, _ := events.NewMessageStored(m)
	if err := fx.handle(noAudience); !fn.IsRefusal(err) {
		t.Errorf("no audience: err = %v, want a refusal", err)
	}
}

func TestParseVAPID(t *testing.T) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	v, err := parseVAPID(base64.RawURLEncoding.EncodeToString(k.Bytes()), "https://ops.example.com/contact")
	if err != nil || v.public != base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()) {
		t.Errorf("parseVAPID = %+v, %v", v, err)
	}
	for _, c := range []struct{ key, sub string }{
		{"not base64!", "mailto:a@b"},
		{base64.RawURLEncoding.EncodeToString(make([]byte, 31)), "mailto:a@b"},
		{base64.RawURLEncoding.EncodeToString(k.Bytes()), "ops@example.com"},
	} {
		if _, err := parseVAPID(c.key, c.sub); err == nil {
			t.Errorf("parseVAPID(%q, %q) accepted", c.key, c.sub)
		}
	}
}
