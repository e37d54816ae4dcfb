package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
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

// forget drops conversation's entry: the next send asks the directory.
func (k *keyCache) forget(conversation string) {
	k.mu.Lock()
	delete(k.m, conversation)
	k.mu.Unlock()
}

// minKeyRefresh is how often at most a conversation's entry is fetched
// again because a message came from a device it does not list (a member's
// new device): a stream of messages claiming made-up devices cannot make
// the client ask accounts for each.
const minKeyRefresh = 10 * time.Second

// signingKey is the signing key the cached entry lists for device, nil
// when none (no entry, an unknown device, or a device without a key). It
// never fetches.
func (k *keyCache) signingKey(conversation, device string) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.m[conversation].rs {
		if r.Device == device {
			return r.SigningKey
		}
	}
	return nil
}

// warm fetches conversation's entry when it is missing or expired, or when
// it does not list one of devices and is older than minKeyRefresh, so that
// signingKey can answer for them. Errors leave the entry as it was (the
// messages then show as unverified) and are returned for logging.
func (k *keyCache) warm(ctx context.Context, conversation string, devices []string) error {
	k.mu.Lock()
	c, ok := k.m[conversation]
	age := k.now().Sub(c.at)
	missing := false
	for _, d := range devices {
		missing = missing || !slices.ContainsFunc(c.rs, func(r e2ee.Recipient) bool { return r.Device == d })
	}
	k.mu.Unlock()
	if ok && age < k.ttl && (!missing || age < minKeyRefresh) {
		return nil
	}
	_, err := k.recipients(ctx, conversation, true)
	return err
}

// warmSigningKeys runs on the reader, before a frame reaches the loop: for
// every stored message it carries (a message frame, a sync batch, a resume
// answer), the cache gets the sender devices' signing keys, asking accounts
// if it must. The reader waits for it (at most keyFetchTimeout), which
// slows only this connection's frames, never the loop.
func (c *Client) warmSigningKeys(f protocol.Frame) {
	if c.keys == nil {
		return
	}
	senders := map[string][]string{}
	add := func(conversation string, m protocol.Frame) {
		if m.Conversation != "" {
			conversation = m.Conversation
		}
		if conversation != "" && m.SenderDevice != "" && m.Envelope != nil && !slices.Contains(senders[conversation], m.SenderDevice) {
			senders[conversation] = append(senders[conversation], m.SenderDevice)
		}
	}
	switch f.Type {
	case protocol.TypeMessage:
		add(f.Conversation, f)
	case protocol.TypeBatch:
		for _, m := range f.Messages {
			add(f.Conversation, m)
		}
	case protocol.TypeResumed:
		for _, b := range f.Batches {
			for _, m := range b.Messages {
				add(b.Conversation, m)
			}
		}
	}
	for conversation, devices := range senders {
		ctx, cancel := context.WithTimeout(c.ctx, keyFetchTimeout)
		if err := c.keys.warm(ctx, conversation, devices); err != nil {
			c.log.Warn("client: key directory for verifying senders", "conversation", conversation, "err", err)
		}
		cancel()
	}
}

const keyFetchTimeout = 5 * time.Second
