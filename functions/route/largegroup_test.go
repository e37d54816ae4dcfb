package function

import (
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// TestLargeGroupFanOut: a message stored in a group of 1,024 members
// (accounts' most; with one device each, e2ee.MaxRecipients wrapped keys),
// with the largest content an envelope may carry, reaches each online
// member device exactly once, in one delivery per connector, and no
// offline one. route asks MongoDB nothing for it — the audience comes with
// the event — although the group is in the directory it could read, and
// Redis twice: presence, then the publishes.
func TestLargeGroupFanOut(t *testing.T) {
	const n = 1024
	fx := newFixture(t)
	people := fx.people(n)
	members := make([]string, n)
	for i, p := range people {
		members[i] = p.User
	}
	fx.conversation("big", members...)
	// Three connectors hold three quarters of the devices; the rest are offline.
	connectors := []string{"A", "B", "C"}
	holder := map[events.DeviceRef]string{}
	held := map[string][]events.DeviceRef{}
	for i, p := range people {
		if i%4 == 3 {
			continue
		}
		c := connectors[i%4]
		holder[p], held[c] = c, append(held[c], p)
	}
	for c, devices := range held {
		fx.online(c, devices...)
	}

	f, counter := counted(t, fx, time.Hour)
	w := fx.watch()

	// persist's reply: the envelope wrapped for every member device, the
	// audience every member device.
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(e2ee.MaxCiphertext)}
	for _, p := range people {
		env.Keys = append(env.Keys, e2ee.WrappedKey{Device: p.Device, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)})
	}
	st := stored(events.Message{ConversationID: "big", Seq: 1, SenderID: people[0].User, SenderDevice: people[0].Device,
		ClientMessageID: "m1", Envelope: env, StoredAt: time.Now().UTC().Truncate(time.Millisecond)}, audienceFor(people...))
	counter.take()
	start := time.Now()
	handle(t, f, st)
	took := time.Since(start)
	m, r := counter.take()
	t.Logf("message.stored of %d bytes to %d devices (%d online) routed in %v: MongoDB %d %v; Redis %d %v",
		len(st.Data()), n, len(holder), took.Round(time.Millisecond), len(m), m, len(r), r)
	if len(m) != 0 {
		t.Errorf("%d MongoDB commands for a stored message, want 0", len(m))
	}
	if len(r) != 2 {
		t.Errorf("%d Redis round trips, want 2 (presence, publish)", len(r))
	}

	got := w.drain()
	if len(got) != len(connectors) {
		t.Errorf("%d deliveries, want one per connector (%d)", len(got), len(connectors))
	}
	times := map[events.DeviceRef]int{}
	for _, p := range got {
		if p.inner.ID() != st.ID() || p.inner.Type() != events.TypeMessageStored || string(p.inner.Data()) != string(st.Data()) {
			t.Errorf("%s got %s %s, want the stored event as it came", p.connector, p.inner.Type(), p.inner.ID())
		}
		for _, d := range p.targets {
			times[d]++
			if holder[d] != p.connector {
				t.Errorf("%s/%s delivered to connector %s, held by %q", d.User, d.Device, p.connector, holder[d])
			}
		}
	}
	for d := range holder {
		if times[d] != 1 {
			t.Errorf("online %s/%s got %d deliveries, want 1", d.User, d.Device, times[d])
		}
	}
	if len(times) != len(holder) {
		t.Errorf("%d devices got deliveries, want the %d online", len(times), len(holder))
	}
}
