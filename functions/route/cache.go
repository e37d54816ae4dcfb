package function

import (
	"context"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
)

// MaxAudienceTTL caps MEMBERSHIP_CACHE_TTL: after a member is removed or
// a device revoked, route may go on delivering receipts, typing and agent
// activity to them for at most this long. Stored messages and sync
// batches never use the cache.
const MaxAudienceTTL = time.Second

// audience is who an event in a conversation is for, as read at one time.
type audience struct {
	found   bool // the conversation exists
	members []string
	devices []events.DeviceRef // current devices of the members
}

// audienceCache keeps each conversation's audience for a short TTL, for
// the events that come in bursts: every member's device acks every
// message (receipts), typing repeats, agents stream partials. Without
// it each of them reads the conversation, its change log and the devices
// again (3 round trips, and on FerretDB a scan of all devices). Callers
// that arrive while a read is in flight wait for it instead of reading
// too. Errors are not cached.
type audienceCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*audienceEntry
}

type audienceEntry struct {
	ready   chan struct{} // closed once a and err are set
	a       audience
	err     error
	expires time.Time
}

// maxAudiences bounds the cache: when full, expired entries are dropped,
// and if none is, everything.
const maxAudiences = 10_000

func newAudienceCache(ttl time.Duration) *audienceCache {
	return &audienceCache{ttl: min(ttl, MaxAudienceTTL), m: make(map[string]*audienceEntry)}
}

// get returns conversation's audience, from the cache when it is younger
// than the TTL (measured from when its read began), else from load.
func (c *audienceCache) get(ctx context.Context, conversation string, load func(context.Context) (audience, error)) (audience, error) {
	if c == nil || c.ttl <= 0 {
		return load(ctx)
	}
	now := time.Now()
	c.mu.Lock()
	e := c.m[conversation]
	if e != nil && e.done() && now.After(e.expires) {
		e = nil
	}
	if e == nil {
		if len(c.m) >= maxAudiences {
			c.sweep(now)
		}
		e = &audienceEntry{ready: make(chan struct{}), expires: now.Add(c.ttl)}
		c.m[conversation] = e
		c.mu.Unlock()
		e.a, e.err = load(ctx)
		if e.err != nil {
			c.mu.Lock()
			if c.m[conversation] == e {
				delete(c.m, conversation)
			}
			c.mu.Unlock()
		}
		close(e.ready)
		return e.a, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.a, e.err
	case <-ctx.Done():
		return audience{}, ctx.Err()
	}
}

func (e *audienceEntry) done() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// sweep drops expired entries, or all when none has expired. Callers
// hold c.mu.
func (c *audienceCache) sweep(now time.Time) {
	for k, e := range c.m {
		if e.done() && now.After(e.expires) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= maxAudiences {
		c.m = make(map[string]*audienceEntry)
	}
}
