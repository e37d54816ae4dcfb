package function

import (
	"context"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/events"
)

// commandCounter counts the MongoDB commands a client sends.
type commandCounter struct {
	mu    sync.Mutex
	names []string
}

func (c *commandCounter) monitor() *options.ClientOptions {
	return options.Client().SetMonitor(&event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		switch e.CommandName {
		case "hello", "isMaster", "ping", "endSessions", "buildInfo":
			return // connection housekeeping, not the handler's work
		}
		c.mu.Lock()
		c.names = append(c.names, e.CommandName)
		c.mu.Unlock()
	}})
}

func (c *commandCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.names
	c.names = nil
	return got
}

// TestRoundTrips pins how many MongoDB commands each case costs, so that
// a change that adds one shows up here.
func TestRoundTrips(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	counter := &commandCounter{}
	s, err := openMongo(context.Background(), fx.cfg["MONGODB_URI"], fx.cfg["MONGODB_DATABASE"], counter.monitor())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	f := New()
	f.deps.Store(&deps{store: s})
	cold := New()
	cold.deps.Store(&deps{store: s})
	counter.take()

	first := sent(t, "c1", "alice", "a1", "m1", envelope(all...))
	tests := []struct {
		name string
		run  func()
		want int
	}{
		// members (conversation, next change: none), devices, seq 1's _id
		// (free: c1 is empty), insert
		{"first message", func() { handle(t, f, first) }, 5},
		// members, devices, insert after the seq this instance stored
		{"next message", func() { handle(t, f, sent(t, "c1", "bob", "b1", "m2", envelope(all...))) }, 4},
		// members, the remembered seq's message by _id
		{"resend", func() { handle(t, f, first) }, 3},
		// an instance that knows nothing of c1 probes seq 1, 3, 2
		{"cold instance", func() { handle(t, cold, sent(t, "c1", "bob", "b1", "m5", envelope(all...))) }, 7},
		// a resend another instance stored: members, devices, the insert
		// refused, the seq's holder (none), the message by its key (a scan
		// on FerretDB)
		{"resend, not remembered", func() { handle(t, cold, first) }, 6},
		{"rejected: missing keys", func() { handle(t, f, sent(t, "c1", "bob", "b1", "m3", envelope("b1"))) }, 4},
		{"rejected: not a member", func() { handle(t, f, sent(t, "c9", "bob", "b1", "m4", envelope("b1"))) }, 1},
		{"first receipt of a member", func() {
			handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 1))
		}, 4},
		{"receipt", func() { handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 2)) }, 3},
		{"stale receipt", func() { handle(t, f, *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", 1)) }, 3},
		// members, the seq by _id (this instance never saw seq 3 stored), $max
		{"receipt for a seq stored elsewhere", func() {
			handle(t, f, *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", 3))
		}, 4},
		// members, the seq by _id (absent): refused, nothing written
		{"receipt beyond the last seq", func() { handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 99)) }, 3},
	}
	for _, tt := range tests {
		tt.run()
		got := counter.take()
		t.Logf("%s: %d commands %v", tt.name, len(got), got)
		if len(got) != tt.want {
			t.Errorf("%s: %d commands %v, want %d", tt.name, len(got), got, tt.want)
		}
	}
}
