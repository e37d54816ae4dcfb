package client

import (
	"context"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Directory is the key directory a sender encrypts for: every current
// device of every member of a conversation. *Session implements it with the
// accounts API; tests use a map.
type Directory interface {
	ConversationDevices(ctx context.Context, conversation string) ([]e2ee.Recipient, error)
}

// keyCache remembers each conversation's recipients, so sending does not
// cost a round trip to accounts. An entry is refetched after ttl, and at once
// when persist says the envelope missed a device (a member joined, or added a
// device): the sender then seals again for the fresh list.
type keyCache struct {
	dir Directory
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]cachedKeys
}

type cachedKeys struct {
	rs []e2ee.Recipient
	at time.Time
}

func newKeyCache(dir Directory, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{dir: dir, ttl: ttl, now: now, m: make(map[string]cachedKeys)}
}

// recipients returns conversation's devices, from the cache unless refresh
// or the entry is older than ttl. Two callers that miss at once may both
// fetch; the later answer wins, which is as fresh.
func (k *keyCache) recipients(ctx context.Context, conversation string, refresh bool) ([]e2ee.Recipient, error) {
	k.mu.Lock()
	c, ok := k.m[conversation]
	k.mu.Unlock()
	if ok && !refresh && k.now().Sub(c.at) < k.ttl {
		return c.rs, nil
	}
	rs, err := k.dir.ConversationDevices(ctx, conversation)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.m[conversation] = cachedKeys{rs: rs, at: k.now()}
	k.mu.Unlock()
	return rs, nil
}
