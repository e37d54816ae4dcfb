package directory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
)

// countingReader counts the reads that reach the storage; block, when
// set, holds Members until it is closed.
type countingReader struct {
	Reader
	members, devices, agents atomic.Int64
	block, blockDevices      chan struct{}
	entered                  chan struct{}
}

func (r *countingReader) Members(ctx context.Context, id string) (Membership, error) {
	r.members.Add(1)
	m, err := r.Reader.Members(ctx, id) // read before blocking: the read is "old" when it returns
	if r.block != nil {
		r.entered <- struct{}{}
		<-r.block
	}
	return m, err
}

func (r *countingReader) CurrentDevices(ctx context.Context, users []string) ([]Device, error) {
	r.devices.Add(1)
	ds, err := r.Reader.CurrentDevices(ctx, users)
	if r.blockDevices != nil {
		r.entered <- struct{}{}
		<-r.blockDevices
		if ctx.Err() != nil { // as a driver fails a read whose context ended
			return nil, ctx.Err()
		}
	}
	return ds, err
}

func (r *countingReader) Agents(ctx context.Context, users []string) ([]User, error) {
	r.agents.Add(1)
	return r.Reader.Agents(ctx, users)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCache(t *testing.T) (*Cached, *countingReader, *Memory, *clock) {
	t.Helper()
	mem := NewMemory()
	ctx := context.Background()
	for _, err := range []error{
		mem.InsertConversation(ctx, Conversation{ID: "g1", Kind: Group, Members: []string{"u1", "u2"}}),
		mem.InsertDevice(ctx, Device{ID: "d1", User: "u1", PublicKey: "k1"}),
		mem.InsertDevice(ctx, Device{ID: "d2", User: "u2", PublicKey: "k2"}),
		mem.InsertUser(ctx, User{ID: "u1", Kind: KindUser, Username: "u1"}),
		mem.InsertUser(ctx, User{ID: "a1", Kind: KindAgent, AgentKind: "model"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	r := &countingReader{Reader: mem}
	clk := &clock{t: time.Unix(1000, 0)}
	c := NewCached(r, time.Minute)
	c.now = clk.now
	return c, r, mem, clk
}

func TestCachedMembersFollowEvents(t *testing.T) {
	c, r, mem, clk := newTestCache(t)
	ctx := context.Background()
	for range 3 {
		if m, err := c.Members(ctx, "g1"); err != nil || m.Rev != 1 {
			t.Fatalf("Members = %+v, %v", m, err)
		}
	}
	if n := r.members.Load(); n != 1 {
		t.Errorf("3 reads reached the storage %d times, want 1", n)
	}
	// accounts commits rev 2 and says so: no read needed
	mem.ChangeMembers(ctx, "g1", MemberChange{Op: OpAdd, User: "u3"}, func(c Conversation) (Roster, bool, error) {
		return Roster{Members: append(slices.Clone(c.Members), "u3")}, true, nil
	})
	c.ConversationChanged(Membership{Conversation: "g1", Kind: Group, Members: []string{"u1", "u2", "u3"}, Rev: 2})
	c.ConversationChanged(Membership{Conversation: "g1", Kind: Group, Members: []string{"u1"}, Rev: 1}) // a late, older event
	m, err := c.Members(ctx, "g1")
	if err != nil || m.Rev != 2 || !m.IsMember("u3") || r.members.Load() != 1 {
		t.Errorf("after the event: %+v, %v, %d reads; want rev 2 from the event", m, err, r.members.Load())
	}
	// the TTL is a backstop: a lost event is noticed when the entry expires
	mem.ChangeMembers(ctx, "g1", MemberChange{Op: OpRemove, User: "u2"}, func(c Conversation) (Roster, bool, error) {
		return Roster{Members: []string{"u1", "u3"}}, true, nil
	})
	if m, _ := c.Members(ctx, "g1"); m.Rev != 2 {
		t.Errorf("before expiry: rev %d, want the cached 2", m.Rev)
	}
	clk.add(time.Minute + time.Second)
	if m, _ := c.Members(ctx, "g1"); m.Rev != 2 {
		t.Errorf("just after expiry: rev %d, want the cached 2 while it is read again", m.Rev)
	}
	c.bg.Wait()
	if m, _ := c.Members(ctx, "g1"); m.Rev != 3 || m.IsMember("u2") || r.members.Load() != 2 {
		t.Errorf("after expiry: %+v (%d reads), want rev 3 read again once", m, r.members.Load())
	}
	// Forget: the next read goes to the storage
	before := r.members.Load()
	c.Forget("g1")
	c.Members(ctx, "g1")
	if r.members.Load() != before+1 {
		t.Errorf("Forget did not make the next read go to the storage")
	}
	// absence is not cached
	for range 2 {
		if _, err := c.Members(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Members(nope): %v", err)
		}
	}
	if n := r.members.Load(); n != before+3 {
		t.Errorf("absent conversation read %d times, want 2", n-before-1)
	}
	// the caller cannot change the cache through what it was given
	m, _ = c.Members(ctx, "g1")
	m.Members[0] = "mallory"
	if m2, _ := c.Members(ctx, "g1"); m2.IsMember("mallory") {
		t.Error("a caller's edit reached the cache")
	}
}

// TestCachedSlowReadLosesToEvent: a read that began before a change and
// ends after its event does not put the older membership back.
func TestCachedSlowReadLosesToEvent(t *testing.T) {
	c, r, _, _ := newTestCache(t)
	ctx := context.Background()
	r.block, r.entered = make(chan struct{}), make(chan struct{})
	got := make(chan Membership)
	go func() { m, _ := c.Members(ctx, "g1"); got <- m }()
	<-r.entered // the read has what it read (rev 1), and is held
	c.ConversationChanged(Membership{Conversation: "g1", Kind: Group, Members: []string{"u1"}, Rev: 2})
	close(r.block)
	if m := <-got; m.Rev != 1 {
		t.Errorf("the slow read returned rev %d, want 1 (what it read)", m.Rev)
	}
	r.block = nil
	if m, _ := c.Members(ctx, "g1"); m.Rev != 2 || m.IsMember("u2") {
		t.Errorf("after the slow read: %+v; want the event's rev 2 kept", m)
	}
}

// TestCachedOneReadForConcurrentCallers: callers that arrive during a read
// wait for it.
func TestCachedOneReadForConcurrentCallers(t *testing.T) {
	c, r, _, _ := newTestCache(t)
	ctx := context.Background()
	r.block, r.entered = make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.Members(ctx, "g1") })
	<-r.entered
	for range 4 {
		wg.Go(func() {
			if m, err := c.Members(ctx, "g1"); err != nil || m.Rev != 1 {
				t.Errorf("Members = %+v, %v", m, err)
			}
		})
	}
	close(r.block)
	wg.Wait()
	if n := r.members.Load(); n != 1 {
		t.Errorf("%d reads reached the storage, want 1", n)
	}
}

func TestCachedDevicesFollowEvents(t *testing.T) {
	c, r, mem, _ := newTestCache(t)
	ctx := context.Background()
	refs := func(ds []Device) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.User+"/"+d.ID)
		}
		return out
	}
	ds, err := c.CurrentDevices(ctx, []string{"u2", "u1"})
	if err != nil || !slices.Equal(refs(ds), []string{"u1/d1", "u2/d2"}) {
		t.Fatalf("CurrentDevices = %v, %v", refs(ds), err)
	}
	c.CurrentDevices(ctx, []string{"u1"})
	c.CurrentDevices(ctx, []string{"u1", "u2", "u3"}) // only u3 is read
	if n := r.devices.Load(); n != 2 {
		t.Errorf("%d device reads reached the storage, want 2", n)
	}
	// u1 logs in on a new device, then revokes d1
	mem.InsertDevice(ctx, Device{ID: "d3", User: "u1", PublicKey: "k3", CreatedAt: time.Unix(5, 0)})
	mem.RevokeDevice(ctx, "u1", "d1", time.Now())
	c.DeviceChanged("u1")
	ds, _ = c.CurrentDevices(ctx, []string{"u1", "u2"})
	if !slices.Equal(refs(ds), []string{"u1/d3", "u2/d2"}) {
		t.Errorf("after the device events: %v, want [u1/d3 u2/d2]", refs(ds))
	}
	if n := r.devices.Load(); n != 3 {
		t.Errorf("%d device reads, want 3 (u1 only, again)", n)
	}
}

// TestCachedDevicesReadRacingEvent: a read during which a device changed
// is answered but not kept.
func TestCachedDevicesReadRacingEvent(t *testing.T) {
	c, _, mem, _ := newTestCache(t)
	ctx := context.Background()
	racing := &hookReader{Reader: mem, during: func() {
		mem.RevokeDevice(ctx, "u1", "d1", time.Now())
		c.DeviceChanged("u1")
	}}
	c.r = racing
	c.CurrentDevices(ctx, []string{"u1"}) // reads d1, while d1 is revoked
	racing.during = nil
	if ds, _ := c.CurrentDevices(ctx, []string{"u1"}); len(ds) != 0 {
		t.Errorf("CurrentDevices(u1) = %v, want none: the racing read must not be kept", ds)
	}
}

type hookReader struct {
	Reader
	during func()
}

func (r *hookReader) CurrentDevices(ctx context.Context, users []string) ([]Device, error) {
	ds, err := r.Reader.CurrentDevices(ctx, users)
	if r.during != nil {
		r.during()
	}
	return ds, err
}

func TestCachedAgents(t *testing.T) {
	c, r, _, _ := newTestCache(t)
	ctx := context.Background()
	for range 2 {
		as, err := c.Agents(ctx, []string{"u1", "a1", "a1"})
		if err != nil || len(as) != 1 || as[0].ID != "a1" || as[0].AgentKind != "model" {
			t.Errorf("Agents = %+v, %v", as, err)
		}
	}
	if n := r.agents.Load(); n != 1 {
		t.Errorf("%d agent reads, want 1 (kinds never change, people included)", n)
	}
}

func TestCachedOffReadsThrough(t *testing.T) {
	_, r, _, _ := newTestCache(t)
	c := NewCached(r, 0)
	c.Members(context.Background(), "g1")
	c.Members(context.Background(), "g1")
	if n := r.members.Load(); n != 2 {
		t.Errorf("TTL 0: %d reads, want 2", n)
	}
}

// TestCachedApply: accounts' change events, as persist and route receive
// them, update the cache.
func TestCachedApply(t *testing.T) {
	c, r, _, _ := newTestCache(t)
	ctx := context.Background()
	c.Members(ctx, "g1")
	c.CurrentDevices(ctx, []string{"u1"})
	e, err := events.NewConversationChanged("g1", "u1", "d1", events.ConversationChanged{Kind: Group, Rev: 2, Members: []string{"u1", "u9"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, e); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Members(ctx, "g1"); m.Rev != 2 || !m.IsMember("u9") || m.Kind != Group || r.members.Load() != 1 {
		t.Errorf("after conversation.changed: %+v (%d reads)", m, r.members.Load())
	}
	e, err = events.NewDeviceChanged(events.DeviceChanged{User: "u1", Device: "d1", Revoked: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, e); err != nil {
		t.Fatal(err)
	}
	c.CurrentDevices(ctx, []string{"u1"})
	if n := r.devices.Load(); n != 2 {
		t.Errorf("after device.changed: %d device reads, want 2 (u1 read again)", n)
	}
	typing, _ := events.NewTyping("/s", "g1", "u1", "d1", events.TypingStarted)
	if err := c.Apply(ctx, typing); !errors.Is(err, ErrNotChange) || IsChange(typing.Type()) {
		t.Error("Apply took a typing event")
	}
}

// TestCachedOneDeviceReadForConcurrentCallers: a burst of events in one
// conversation reads its members' devices once.
func TestCachedOneDeviceReadForConcurrentCallers(t *testing.T) {
	c, r, _, _ := newTestCache(t)
	ctx := context.Background()
	r.blockDevices, r.entered = make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.CurrentDevices(ctx, []string{"u2", "u1"}) })
	<-r.entered
	for range 4 {
		wg.Go(func() {
			if ds, err := c.CurrentDevices(ctx, []string{"u1", "u2", "u1"}); err != nil || len(ds) != 2 {
				t.Errorf("CurrentDevices = %v, %v", ds, err)
			}
		})
	}
	close(r.blockDevices)
	wg.Wait()
	if n := r.devices.Load(); n != 1 {
		t.Errorf("%d device reads reached the storage, want 1", n)
	}
}

// TestCachedSharedReadOutlivesItsFirstCaller: a read that others wait for
// does not fail when the caller that started it gives up (a client that
// timed out, in a burst of members asking for the same group).
func TestCachedSharedReadOutlivesItsFirstCaller(t *testing.T) {
	c, r, _, _ := newTestCache(t)
	// entered has room for a second read, which a failed first one
	// would make.
	r.blockDevices, r.entered = make(chan struct{}), make(chan struct{}, 2)
	first, cancel := context.WithCancel(context.Background())
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		c.CurrentDevices(first, []string{"u1", "u2"})
	}()
	<-r.entered
	var ds []Device
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		ds, err = c.CurrentDevices(context.Background(), []string{"u2", "u1"})
	}()
	cancel()
	close(r.blockDevices)
	<-done
	<-firstDone
	if err != nil || len(ds) != 2 {
		t.Errorf("a caller waiting for the read: %v, %v; want both devices", ds, err)
	}
	if n := r.devices.Load(); n != 1 {
		t.Errorf("%d device reads reached the storage, want 1", n)
	}
}

// TestCachedRefreshAhead: an expired entry is answered while one read in
// the background replaces it; only one older than twice the TTL makes
// callers wait; a refresh that ends after a newer event keeps the event.
func TestCachedRefreshAhead(t *testing.T) {
	c, r, mem, clk := newTestCache(t)
	ctx := context.Background()
	if _, err := c.Members(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CurrentDevices(ctx, []string{"u1", "u2"}); err != nil {
		t.Fatal(err)
	}
	mem.InsertDevice(ctx, Device{ID: "d3", User: "u2", PublicKey: "k3", CreatedAt: time.Unix(5, 0)}) // an event lost

	// Expired: callers are answered at once, from the cache, while one
	// read (held here) refreshes each entry.
	clk.add(time.Minute + time.Second)
	r.block, r.blockDevices, r.entered = make(chan struct{}), make(chan struct{}), make(chan struct{}, 2)
	for range 5 {
		if m, err := c.Members(ctx, "g1"); err != nil || m.Rev != 1 {
			t.Fatalf("Members during the refresh = %+v, %v", m, err)
		}
		if ds, err := c.CurrentDevices(ctx, []string{"u1", "u2"}); err != nil || len(ds) != 2 {
			t.Fatalf("CurrentDevices during the refresh = %v, %v", ds, err)
		}
	}
	<-r.entered
	<-r.entered
	// an event with a newer revision arrives while the refresh reads rev 1
	c.ConversationChanged(Membership{Conversation: "g1", Kind: Group, Members: []string{"u1", "u2", "u4"}, Rev: 2})
	close(r.block)
	close(r.blockDevices)
	c.bg.Wait()
	r.block, r.blockDevices = nil, nil
	if n, d := r.members.Load(), r.devices.Load(); n != 2 || d != 2 {
		t.Errorf("%d member reads and %d device reads, want 2 each (one refresh each)", n, d)
	}
	if m, _ := c.Members(ctx, "g1"); m.Rev != 2 || !m.IsMember("u4") {
		t.Errorf("after the refresh: %+v, want the event's rev 2 kept", m)
	}
	if ds, _ := c.CurrentDevices(ctx, []string{"u1", "u2"}); len(ds) != 3 {
		t.Errorf("after the refresh: %d devices, want 3 (u2's new one read)", len(ds))
	}

	// Older than twice the TTL: the caller waits for the storage.
	mem.InsertDevice(ctx, Device{ID: "d4", User: "u1", PublicKey: "k4", CreatedAt: time.Unix(6, 0)})
	clk.add(2*time.Minute + time.Second)
	if ds, _ := c.CurrentDevices(ctx, []string{"u1", "u2"}); len(ds) != 4 {
		t.Errorf("long expired: %d devices, want 4 read now", len(ds))
	}
	if m, _ := c.Members(ctx, "g1"); m.Rev != 1 {
		t.Errorf("long expired: rev %d, want what the storage holds now (1: the event above was made up)", m.Rev)
	}
}

// TestCachedRefreshFailureKeepsServing: a refresh that fails leaves the
// entry to answer with (until it is too old) and the next caller retries.
func TestCachedRefreshFailureKeepsServing(t *testing.T) {
	c, _, mem, clk := newTestCache(t)
	ctx := context.Background()
	if _, err := c.Members(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	failing := &failingReader{Reader: mem}
	c.r = failing
	clk.add(time.Minute + time.Second)
	for range 2 {
		if m, err := c.Members(ctx, "g1"); err != nil || m.Rev != 1 {
			t.Fatalf("Members with the storage down = %+v, %v", m, err)
		}
		c.bg.Wait()
	}
	if n := failing.members.Load(); n != 2 {
		t.Errorf("%d refreshes tried, want 2 (one per caller after a failure)", n)
	}
	clk.add(time.Minute)
	if _, err := c.Members(ctx, "g1"); err == nil {
		t.Error("an entry older than twice the TTL answered with the storage down")
	}
}

type failingReader struct {
	Reader
	members atomic.Int64
}

func (r *failingReader) Members(context.Context, string) (Membership, error) {
	r.members.Add(1)
	return Membership{}, errors.New("storage down")
}

// TestCachedReadAfterForgetIsFresh: a caller that Forgets users and reads
// them again (persist before a refusal) is answered by a read that began
// after the Forget, not by one of the same users still in flight from
// before it (a refresh, another caller's) — that one may miss a device
// registered in between.
func TestCachedReadAfterForgetIsFresh(t *testing.T) {
	c, _, mem, _ := newTestCache(t)
	ctx := context.Background()
	old := &firstReadBlocks{Reader: mem, entered: make(chan struct{}), release: make(chan struct{})}
	c.r = old
	before := make(chan []Device)
	go func() {
		ds, _ := c.CurrentDevices(ctx, []string{"u1", "u2"})
		before <- ds
	}()
	<-old.entered // read, held: it does not know d3
	if err := mem.InsertDevice(ctx, Device{ID: "d3", User: "u2", PublicKey: "k3", CreatedAt: time.Unix(5, 0)}); err != nil {
		t.Fatal(err)
	}
	c.Forget("g1", "u9") // nobody the read is for: callers still join it
	c.mu.Lock()
	joinable := len(c.loading)
	c.mu.Unlock()
	if joinable != 1 {
		t.Errorf("after forgetting others: %d reads registered, want the one in flight", joinable)
	}
	c.Forget("", "u1", "u2")
	// The deadline only ends a wait for the old read, which would fail
	// the test anyway.
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ds, err := c.CurrentDevices(fctx, []string{"u2", "u1"})
	if err != nil || len(ds) != 3 {
		t.Errorf("after Forget: %v, %v; want 3 devices, read after the Forget", ds, err)
	}
	close(old.release)
	if ds := <-before; len(ds) != 2 {
		t.Errorf("the read from before the Forget answered %v, want its 2 devices", ds)
	}
	if ds, _ := c.CurrentDevices(ctx, []string{"u1", "u2"}); len(ds) != 3 {
		t.Errorf("cached after both reads: %v, want the fresh read's 3 devices kept", ds)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.loading) != 0 {
		t.Errorf("%d reads still registered after both ended", len(c.loading))
	}
}

// firstReadBlocks holds its first CurrentDevices read, after reading,
// until release is closed.
type firstReadBlocks struct {
	Reader
	once             sync.Once
	entered, release chan struct{}
}

func (r *firstReadBlocks) CurrentDevices(ctx context.Context, users []string) ([]Device, error) {
	ds, err := r.Reader.CurrentDevices(ctx, users)
	first := false
	r.once.Do(func() { first = true })
	if first {
		close(r.entered)
		<-r.release
	}
	return ds, err
}
