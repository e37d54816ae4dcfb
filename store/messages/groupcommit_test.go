package messages

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"

	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

// groupBackend is a backend whose cursors go through GroupCommit.
type groupBackend struct {
	Store
	*GroupCommit
}

func TestGroupCommitSuite(t *testing.T) {
	runSuite(t, func(t *testing.T) backend {
		m := NewMemory()
		g := NewGroupCommit(m, time.Millisecond)
		t.Cleanup(g.Close)
		return groupBackend{Store: m, GroupCommit: g}
	})
}

// gatedCursors records each write and holds it until the test lets it go.
type gatedCursors struct {
	*Memory
	started chan [2]int64 // delivered, read of each write as it starts
	release chan error    // what the held write returns
}

func newGated() *gatedCursors {
	return &gatedCursors{Memory: NewMemory(), started: make(chan [2]int64, 100), release: make(chan error)}
}

func (c *gatedCursors) Advance(ctx context.Context, conversation, user string, delivered, read int64) error {
	c.started <- [2]int64{delivered, read}
	if err := <-c.release; err != nil {
		return err
	}
	return c.Memory.Advance(ctx, conversation, user, delivered, read)
}

// calls is how many Advance calls wait on the cursor's due batch.
func (g *GroupCommit) calls(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.busy[key]; q != nil && q.due != nil {
		return q.due.calls
	}
	return 0
}

// TestGroupCommitShares: receipts that arrive while a write is in flight
// share the next one, which takes the highest values; nobody returns
// before the write that covers it.
func TestGroupCommitShares(t *testing.T) {
	ctx := context.Background()
	c := newGated()
	g := NewGroupCommit(c, 0)
	defer g.Close()

	results := make(chan error, 10)
	go func() { results <- g.Advance(ctx, "c1", "bob", 1, 0) }()
	if got := <-c.started; got != [2]int64{1, 0} {
		t.Fatalf("first write %v, want delivered 1", got)
	}
	// While it is in flight: delivered 3, read 2, delivered 2 from other devices.
	for _, r := range [][2]int64{{3, 0}, {0, 2}, {2, 0}} {
		go func() { results <- g.Advance(ctx, "c1", "bob", r[0], r[1]) }()
	}
	fntest.Eventually(t, "three receipts to join the next write", func() bool { return g.calls("c1/bob") == 3 })
	select {
	case err := <-results:
		t.Fatalf("a receipt returned (%v) before any write finished", err)
	default:
	}
	c.release <- nil
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	if got := <-c.started; got != [2]int64{3, 2} {
		t.Fatalf("second write %v, want delivered 3 read 2", got)
	}
	select {
	case err := <-results:
		t.Fatalf("a receipt returned (%v) before its write finished", err)
	default:
	}
	c.release <- nil
	for range 3 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-c.started:
		t.Fatalf("a third write %v", got)
	default:
	}
	if got, _ := c.Get(ctx, "c1", []string{"bob"}); len(got) != 1 || got[0] != (events.Cursor{User: "bob", Delivered: 3, Read: 2}) {
		t.Fatalf("cursor %v", got)
	}
	// Behind what this process wrote: no write at all.
	if err := g.Advance(ctx, "c1", "bob", 2, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-c.started:
		t.Fatalf("a write %v for a receipt behind the cursor", got)
	default:
	}
}

// TestGroupCommitLinger: a write that starts alone waits for company, so
// the delivered and read receipts of one member that arrive together are
// one write.
func TestGroupCommitLinger(t *testing.T) {
	ctx := context.Background()
	m := &countingCursors{Memory: NewMemory()}
	g := NewGroupCommit(m, 0)
	defer g.Close()
	joined := make(chan struct{})
	g.LingerUntil(func(_ context.Context, calls func() int) {
		<-joined
		if calls() != 2 {
			t.Errorf("the write covers %d calls, want 2", calls())
		}
	})

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := g.Advance(ctx, "c1", "bob", 5, 0); err != nil {
			t.Error(err)
		}
	})
	fntest.Eventually(t, "the first receipt to linger", func() bool { return g.calls("c1/bob") == 1 })
	wg.Go(func() {
		if err := g.Advance(ctx, "c1", "bob", 5, 5); err != nil {
			t.Error(err)
		}
	})
	fntest.Eventually(t, "the second receipt to join", func() bool { return g.calls("c1/bob") == 2 })
	close(joined)
	wg.Wait()
	if m.n != 1 {
		t.Fatalf("%d writes, want 1", m.n)
	}
	if got, _ := m.Get(ctx, "c1", []string{"bob"}); len(got) != 1 || got[0] != (events.Cursor{User: "bob", Delivered: 5, Read: 5}) {
		t.Fatalf("cursor %v", got)
	}
}

// TestGroupCommitErrors: a failed write fails the receipts it covered, and
// only those; a caller that gives up does not fail the others.
func TestGroupCommitErrors(t *testing.T) {
	ctx := context.Background()
	c := newGated()
	g := NewGroupCommit(c, 0)
	defer g.Close()
	boom := errors.New("boom")

	first := make(chan error, 1)
	go func() { first <- g.Advance(ctx, "c1", "bob", 1, 0) }()
	<-c.started
	second := make(chan error, 1)
	go func() { second <- g.Advance(ctx, "c1", "bob", 2, 0) }()
	gaveUp, cancel := context.WithCancel(ctx)
	third := make(chan error, 1)
	go func() { third <- g.Advance(gaveUp, "c1", "bob", 3, 0) }()
	fntest.Eventually(t, "two receipts to join", func() bool { return g.calls("c1/bob") == 2 })
	cancel()
	if err := <-third; !errors.Is(err, context.Canceled) {
		t.Fatalf("the receipt that gave up: %v", err)
	}
	c.release <- boom
	if err := <-first; !errors.Is(err, boom) {
		t.Fatalf("first: %v, want boom", err)
	}
	if got := <-c.started; got != [2]int64{3, 0} {
		t.Fatalf("second write %v, want delivered 3 (the one that gave up still counts)", got)
	}
	c.release <- nil
	if err := <-second; err != nil {
		t.Fatalf("second: %v", err)
	}
	// The failed value was not remembered as written: it is written again.
	done := make(chan error, 1)
	go func() { done <- g.Advance(ctx, "c2", "bob", 1, 0) }()
	<-c.started
	c.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type countingCursors struct {
	*Memory
	mu sync.Mutex
	n  int
}

func (c *countingCursors) Advance(ctx context.Context, conversation, user string, delivered, read int64) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Memory.Advance(ctx, conversation, user, delivered, read)
}
