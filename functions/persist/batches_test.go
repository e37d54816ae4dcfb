package function

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/messages"
)

// heldStore holds the first InsertMany until release is closed, and
// records every InsertMany's size.
type heldStore struct {
	messages.Store
	held    sync.Once
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func (s *heldStore) InsertMany(ctx context.Context, ms []events.Message) (int, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(ms))
	s.mu.Unlock()
	s.held.Do(func() { <-s.release })
	return s.Store.InsertMany(ctx, ms)
}

// queued is how many messages wait for conversation's next batch.
func (b *batches) queued(conversation string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.convs[conversation])
}

// TestQueuedMessagesShareOneInsert: messages of one conversation that
// arrive while its insert is under way are stored together, in one insert
// command, at the next seqs — a resend among them (a broker's concurrent
// redelivery) included: it gets its message's seq and stores nothing.
func TestQueuedMessagesShareOneInsert(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f := fx.start()
	d := *f.deps.Load()
	held := &heldStore{Store: d.msgs, release: make(chan struct{})}
	d.msgs = held
	f.deps.Store(&d)

	type result struct {
		cmid string
		seq  int64
	}
	results := make(chan result, 16)
	send := func(cmid string) {
		reply, err := tryHandle(f, sent(t, "c1", "alice", "a1", cmid, envelope(all...)))
		if err != nil || reply == nil || reply.Type() != events.TypeMessageStored {
			t.Errorf("%s: reply %v, err %v", cmid, reply, err)
			results <- result{cmid, 0}
			return
		}
		m, _ := events.Decode[events.Message](*reply)
		results <- result{cmid, m.Seq}
	}
	go send("m0") // leads; its insert is held
	fntest.Eventually(t, "the first insert to start", func() bool {
		held.mu.Lock()
		defer held.mu.Unlock()
		return len(held.sizes) == 1
	})
	queued := []string{"m1", "m2", "m3", "m4", "m3", "m5"} // m3 twice
	for _, cmid := range queued {
		go send(cmid)
	}
	fntest.Eventually(t, "the others to queue", func() bool { return f.queue.queued("c1") == len(queued) })
	close(held.release)

	seqs := map[string]int64{}
	for range 1 + len(queued) {
		r := <-results
		if prev, ok := seqs[r.cmid]; ok && prev != r.seq {
			t.Errorf("%s: stored at %d and at %d", r.cmid, prev, r.seq)
		}
		seqs[r.cmid] = r.seq
	}
	taken := map[int64]string{}
	for cmid, seq := range seqs {
		if other, ok := taken[seq]; ok || seq < 1 || seq > 6 {
			t.Errorf("%s: seq %d (also %q): want each of 1..6 once", cmid, seq, other)
		}
		taken[seq] = cmid
	}
	if n := fx.count(collMessages, bson.M{"conversation": "c1"}); n != 6 {
		t.Errorf("%d documents, want 6", n)
	}
	// One insert for m0; one for the queue up to the second m3 (refused on
	// its idempotency index), then m3 and m5 alone (the single-message path).
	held.mu.Lock()
	sizes := fmt.Sprint(held.sizes)
	held.mu.Unlock()
	if sizes != "[1 6]" {
		t.Errorf("InsertMany sizes %s, want [1 6]", sizes)
	}
}
