package function

import (
	"context"
	"sync"
	"time"
)

// MaxMembersTTL caps MEMBERSHIP_CACHE_TTL: after a member is removed,
// persist may go on moving their cursor from receipts for at most this
// long. Sent messages never use the cache: their membership and key
// checks always read afresh.
const MaxMembersTTL = time.Second

// membership is a conversation's members as read at one time.
type membership struct {
	found   bool
	members []string
}

// membersCache keeps each conversation's members for a short TTL, for
// receipts: every member's devices ack every message, and each ack would
// otherwise read the conversation and its change log again (2 of its 3
// round trips). Callers that arrive while a read is in flight wait for it.
// Errors are not cached.
type membersCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*membersEntry
}

type membersEntry struct {
	ready   chan struct{} // closed once v and err are set
	v       membership
	err     error
	expires time.Time
}

// maxCachedConversations bounds the cache: when full, expired entries are
// dropped, and if none is, everything.
const maxCachedConversations = 10_000

func newMembersCache(ttl time.Duration) *membersCache {
	return &membersCache{ttl: min(ttl, MaxMembersTTL), m: make(map[string]*membersEntry)}
}

// get returns a conversation's members, from the cache when younger than
// the TTL (measured from when the read began), else from load.
func (c *membersCache) get(ctx context.Context, conversation string, load func(context.Context) (membership, error)) (membership, error) {
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
		if len(c.m) >= maxCachedConversations {
			c.sweep(now)
		}
		e = &membersEntry{ready: make(chan struct{}), expires: now.Add(c.ttl)}
		c.m[conversation] = e
		c.mu.Unlock()
		e.v, e.err = load(ctx)
		if e.err != nil {
			c.mu.Lock()
			if c.m[conversation] == e {
				delete(c.m, conversation)
			}
			c.mu.Unlock()
		}
		close(e.ready)
		return e.v, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.v, e.err
	case <-ctx.Done():
		return membership{}, ctx.Err()
	}
}

func (e *membersEntry) done() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// sweep drops expired entries, or all when none has expired. Callers hold
// c.mu.
func (c *membersCache) sweep(now time.Time) {
	for k, e := range c.m {
		if e.done() && now.After(e.expires) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= maxCachedConversations {
		c.m = make(map[string]*membersEntry)
	}
}
