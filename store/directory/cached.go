package directory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Cached is a Reader that keeps what it reads in memory, for the message
// pipeline: a conversation's membership, each user's current devices and
// which users are agents. It is kept current by the change events accounts
// emits after each committed change — the caller hands them to
// Apply — and, with several replicas, by the changes the others share
// (Share, broadcast.go); every entry also expires after its TTL, a
// backstop for a lost event. A caller that finds the cache refusing someone (a member or a
// device it does not know yet: the event may still be on its way) calls
// Forget and reads again before refusing.
//
// Refresh ahead: an entry older than its TTL is still answered, for at
// most one more TTL, while one read in the background replaces it; only
// an entry older than twice the TTL (or none) makes callers wait for the
// storage. A hot group of 1,024 members would otherwise stall every
// message in it for the length of one read of its members' devices each
// time its entry expired (seen as a multi-second tail in bench-fanout).
// So a lost event is noticed within 2×TTL plus one read.
//
// Memberships only move forward: an entry is replaced only by a higher
// revision, so a slow read can never undo a newer event. A device change
// drops the user's entry, and a read that began before any device change
// does not store what it read; a read of a user that began before the
// user's device change or Forget answers no caller who asks after it. Errors and absent conversations are not
// cached. Safe for concurrent use.
type Cached struct {
	r   Reader
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	convs   map[string]*convEntry
	devices map[string]devicesEntry // by user
	agents  map[string]*User        // by user id; nil: not an agent (kinds never change)
	epoch   uint64                  // bumped by every device change and Forget
	loading map[string]*devicesLoad // device reads in flight, by their users
	shared  Broadcast               // set by Share: Apply publishes to the other replicas
	bg      sync.WaitGroup          // refreshes running in the background (tests wait for them)
}

// devicesLoad is one read of some users' devices that callers asking for
// the same users wait for, until one of them changes or is forgotten
// (Forget unregisters the read): a caller that Forgets users and reads
// them again before refusing must get a read that began after its Forget.
type devicesLoad struct {
	done    chan struct{}
	users   []string
	devices []Device
	err     error
}

type convEntry struct {
	ready      chan struct{} // closed once m and err are set (a read in flight)
	m          Membership
	err        error
	expires    time.Time // refreshed after this, served until one TTL later
	refreshing bool      // a background read replaces it (guarded by Cached.mu)
}

type devicesEntry struct {
	devices []Device
	expires time.Time
}

var _ Reader = (*Cached)(nil)

// maxCached bounds each of the cache's maps: when one is full, expired
// entries are dropped, and if none is, everything.
const maxCached = 100_000

// NewCached caches r's answers for at most ttl (0 or less: nothing is
// cached, every call reads r).
func NewCached(r Reader, ttl time.Duration) *Cached {
	return &Cached{r: r, ttl: ttl, now: time.Now, convs: map[string]*convEntry{},
		devices: map[string]devicesEntry{}, agents: map[string]*User{}, loading: map[string]*devicesLoad{}}
}

// Members answers from the cache when it holds the conversation, else
// reads it (callers that arrive during a read wait for it).
func (c *Cached) Members(ctx context.Context, conversation string) (Membership, error) {
	if c.ttl <= 0 {
		return c.r.Members(ctx, conversation)
	}
	now := c.now()
	c.mu.Lock()
	e := c.convs[conversation]
	if e != nil && e.done() {
		switch {
		case e.err != nil || now.After(e.expires.Add(c.ttl)):
			e = nil // too old to answer with: read it now
		case now.After(e.expires):
			if !e.refreshing {
				e.refreshing = true
				c.bg.Go(func() { c.refreshMembers(conversation, e) })
			}
			m := cloneMembership(e.m)
			c.mu.Unlock()
			return m, nil
		}
	}
	if e != nil {
		c.mu.Unlock()
		select {
		case <-e.ready:
			return cloneMembership(e.m), e.err
		case <-ctx.Done():
			return Membership{}, ctx.Err()
		}
	}
	if len(c.convs) >= maxCached {
		sweep(c.convs, now, func(e *convEntry) bool { return e.done() && now.After(e.expires) })
	}
	e = &convEntry{ready: make(chan struct{}), expires: now.Add(c.ttl)}
	c.convs[conversation] = e
	c.mu.Unlock()

	rctx, cancel := sharedRead(ctx)
	m, err := c.r.Members(rctx, conversation)
	cancel()
	c.mu.Lock()
	e.m, e.err = m, err
	if cur := c.convs[conversation]; cur == e && err != nil {
		delete(c.convs, conversation) // errors (and absence) are not cached
	} else if cur != nil && cur != e && err == nil && cur.done() && cur.err == nil && cur.m.Rev < m.Rev {
		// an event replaced the entry during the read: keep whichever is
		// newer (after a Forget, cur is nil or a newer read: leave it)
		c.convs[conversation] = e
	}
	c.mu.Unlock()
	close(e.ready)
	return cloneMembership(m), err
}

// refreshMembers reads conversation again for old, an expired entry that
// callers are answered from meanwhile, and puts what it read in its place
// unless an event or a Forget replaced old during the read (a newer
// revision is kept). After an error old stays until it is too old, and
// the next caller tries again.
func (c *Cached) refreshMembers(conversation string, old *convEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedReadTimeout)
	m, err := c.r.Members(ctx, conversation)
	cancel()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	old.refreshing = false
	cur := c.convs[conversation]
	if err != nil || cur == nil || (cur != old && (!cur.done() || cur.err != nil || cur.m.Rev >= m.Rev)) || m.Rev < cur.m.Rev {
		return
	}
	e := &convEntry{ready: make(chan struct{}), m: m, expires: now.Add(c.ttl)}
	close(e.ready)
	c.convs[conversation] = e
}

// sharedReadTimeout bounds a read that several callers wait for.
const sharedReadTimeout = 30 * time.Second

// sharedRead is the context of a read other callers may wait for: it
// keeps the first caller's values (traces) but not its cancellation, so
// that a caller who gives up — a client that timed out in a burst of a
// thousand asking for the same group — does not fail the read for all
// the others, who would then each read again.
func sharedRead(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), sharedReadTimeout)
}

func (e *convEntry) done() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// CurrentDevices answers each user from the cache, and reads the users it
// does not hold in one call to the underlying Reader.
func (c *Cached) CurrentDevices(ctx context.Context, users []string) ([]Device, error) {
	if c.ttl <= 0 {
		return c.r.CurrentDevices(ctx, users)
	}
	now := c.now()
	out := []Device{}
	var missing, stale []string
	seen := make(map[string]bool, len(users))
	c.mu.Lock()
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		switch e, ok := c.devices[u]; {
		case !ok || now.After(e.expires.Add(c.ttl)):
			missing = append(missing, u)
		case now.After(e.expires):
			stale = append(stale, u)
			fallthrough
		default:
			out = append(out, e.devices...)
		}
	}
	if len(stale) > 0 { // answered as they are, read again in the background
		slices.Sort(stale)
		if key := strings.Join(stale, "\x00"); c.loading[key] == nil {
			l, epoch := c.startLoad(key, stale)
			c.bg.Go(func() { c.finishLoad(context.Background(), key, stale, l, epoch, now) })
		}
	}
	c.mu.Unlock()
	if len(missing) > 0 {
		slices.Sort(missing)
		read, err := c.loadDevices(ctx, missing, now)
		if err != nil {
			return nil, err
		}
		out = append(out, read...)
	}
	sortDevices(out)
	return slices.Clone(out), nil
}

// loadDevices reads the devices of users (sorted, distinct, none of them
// cached) and keeps
// them, unless a device changed during the read. Callers asking for the
// same users meanwhile (a burst of events in one conversation) wait for
// this read.
func (c *Cached) loadDevices(ctx context.Context, users []string, now time.Time) ([]Device, error) {
	key := strings.Join(users, "\x00")
	c.mu.Lock()
	if ds, ok := c.cachedDevices(users, now); ok { // a read ended since the caller looked
		c.mu.Unlock()
		return ds, nil
	}
	if l, ok := c.loading[key]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.devices, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l, epoch := c.startLoad(key, users)
	c.mu.Unlock()
	c.finishLoad(ctx, key, users, l, epoch, now)
	return l.devices, l.err
}

// startLoad registers a read of users, whose key is key. Callers hold c.mu.
func (c *Cached) startLoad(key string, users []string) (*devicesLoad, uint64) {
	l := &devicesLoad{done: make(chan struct{}), users: users}
	c.loading[key] = l
	return l, c.epoch
}

// finishLoad reads the devices of users for l and keeps them, unless a
// device changed since epoch.
func (c *Cached) finishLoad(ctx context.Context, key string, users []string, l *devicesLoad, epoch uint64, now time.Time) {
	rctx, cancel := sharedRead(ctx)
	l.devices, l.err = c.r.CurrentDevices(rctx, users)
	cancel()
	c.mu.Lock()
	if c.loading[key] == l { // not unregistered by a Forget (and replaced)
		delete(c.loading, key)
	}
	if l.err == nil && c.epoch == epoch { // no device changed during the read
		byUser := make(map[string][]Device, len(users))
		for _, d := range l.devices {
			byUser[d.User] = append(byUser[d.User], d)
		}
		if len(c.devices)+len(users) > maxCached {
			sweep(c.devices, now, func(e devicesEntry) bool { return now.After(e.expires) })
		}
		for _, u := range users {
			c.devices[u] = devicesEntry{devices: byUser[u], expires: now.Add(c.ttl)}
		}
	}
	c.mu.Unlock()
	close(l.done)
}

// MembershipsOf is not cached: it reads the storage.
func (c *Cached) MembershipsOf(ctx context.Context, user, after string, limit int) ([]Membership, error) {
	return c.r.MembershipsOf(ctx, user, after, limit)
}

// cachedDevices returns the devices of users if the cache holds every one
// of them. Callers hold c.mu.
func (c *Cached) cachedDevices(users []string, now time.Time) ([]Device, bool) {
	var out []Device
	for _, u := range users {
		e, ok := c.devices[u]
		if !ok || now.After(e.expires) {
			return nil, false
		}
		out = append(out, e.devices...)
	}
	return out, true
}

// Agents answers from the cache (a user's kind never changes) and reads
// the users it has not seen.
func (c *Cached) Agents(ctx context.Context, users []string) ([]User, error) {
	if c.ttl <= 0 {
		return c.r.Agents(ctx, users)
	}
	out := []User{}
	var missing []string
	c.mu.Lock()
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		if a, ok := c.agents[u]; !ok {
			missing = append(missing, u)
		} else if a != nil {
			out = append(out, *a)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	read, err := c.r.Agents(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.agents)+len(missing) > maxCached {
		clear(c.agents)
	}
	for _, u := range missing {
		c.agents[u] = nil
	}
	for _, a := range read {
		c.agents[a.ID] = &a
	}
	c.mu.Unlock()
	return append(out, read...), nil
}

// ConversationChanged applies a committed membership change (an
// io.agentchat.conversation.changed event): m replaces the cached
// membership unless the cache already holds this revision or a newer one.
func (c *Cached) ConversationChanged(m Membership) {
	if c.ttl <= 0 || m.Conversation == "" {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.convs[m.Conversation]; e != nil && e.done() && e.err == nil && e.m.Rev >= m.Rev {
		return
	}
	if len(c.convs) >= maxCached {
		sweep(c.convs, now, func(e *convEntry) bool { return e.done() && now.After(e.expires) })
	}
	e := &convEntry{ready: make(chan struct{}), m: cloneMembership(m), expires: now.Add(c.ttl)}
	close(e.ready)
	c.convs[m.Conversation] = e
}

// DeviceChanged applies a device change of user (an
// io.agentchat.device.changed event: a device registered or revoked): the
// next read of the user's devices goes to the storage.
func (c *Cached) DeviceChanged(user string) { c.Forget("", user) }

// Forget drops a conversation's membership (when conversation is not "")
// and the devices of users, so that the next reads of them go to the
// storage: reads of users in flight are not joined any more.
func (c *Cached) Forget(conversation string, users ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if conversation != "" {
		delete(c.convs, conversation)
	}
	for _, u := range users {
		delete(c.devices, u)
	}
	if len(users) == 0 || len(c.loading) == 0 {
		return
	}
	gone := make(map[string]bool, len(users))
	for _, u := range users {
		gone[u] = true
	}
	for key, l := range c.loading {
		if slices.ContainsFunc(l.users, func(u string) bool { return gone[u] }) {
			delete(c.loading, key) // it ends, unkept (epoch), answering those who joined it
		}
	}
}

func cloneMembership(m Membership) Membership {
	m.Members = slices.Clone(m.Members)
	return m
}

// sweep drops the entries expired says are, or all when none is. Callers
// hold the cache's lock.
func sweep[V any](m map[string]V, now time.Time, expired func(V) bool) {
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		}
	}
	if len(m) >= maxCached {
		clear(m)
	}
}
