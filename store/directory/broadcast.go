package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A Trigger delivers each change event to one replica of a function. So
// that the other replicas of persist (or route) do not go on answering
// from a stale membership until their TTL ends — accepting and routing to
// a member just removed — the replica that applies a change event shares
// the change through a Broadcast, and every replica applies what is
// shared (Cached.Share). Applying is idempotent (memberships move only
// forward by revision; a device change is a Forget), so a replica that
// receives its own change, or one change twice, loses nothing.

// Change is one directory change as replicas share it, decoded once from
// accounts' event: a membership (Conversation set: its kind, members and
// revision) or a device change of User.
type Change struct {
	Conversation string   `json:"c,omitempty"`
	Kind         string   `json:"k,omitempty"`
	Members      []string `json:"m,omitempty"`
	Rev          int64    `json:"r,omitempty"`
	User         string   `json:"u,omitempty"`
}

// Broadcast shares changes among the replicas of a function.
//
// Delivery is at most once: a replica not subscribed when a change is
// published (starting, or reconnecting to Redis) never sees it, and the
// TTL of its entries is the backstop. Every subscriber gets every change
// published after its Subscribe returned, the publisher's own included.
type Broadcast interface {
	// Publish sends c to every subscriber.
	Publish(ctx context.Context, c Change) error
	// Subscribe calls apply, from one goroutine, for each change
	// published once Subscribe has returned, until stop is called.
	Subscribe(ctx context.Context, apply func(Change)) (stop func(), err error)
}

var (
	_ Broadcast = (*RedisBroadcast)(nil)
	_ Broadcast = (*MemoryBroadcast)(nil)
)

// BroadcastChannel is the Redis channel of a deployment's directory
// changes; prefix is the deployment-wide one (REDIS_PREFIX).
func BroadcastChannel(prefix string) string { return prefix + "directory:changes" }

// RedisBroadcast is a Broadcast on Redis pub/sub: one channel, one small
// JSON message per change.
type RedisBroadcast struct {
	client  redis.UniversalClient
	channel string
}

// NewRedisBroadcast shares changes through c on the channel of prefix.
func NewRedisBroadcast(c redis.UniversalClient, prefix string) *RedisBroadcast {
	return &RedisBroadcast{client: c, channel: BroadcastChannel(prefix)}
}

// Publish is one PUBLISH.
func (r *RedisBroadcast) Publish(ctx context.Context, c Change) error {
	p, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("directory: broadcast: %w", err)
	}
	if err := r.client.Publish(ctx, r.channel, p).Err(); err != nil {
		return fmt.Errorf("directory: broadcast: %w", err)
	}
	return nil
}

// Subscribe returns once Redis has confirmed the subscription. go-redis
// resubscribes after a lost connection; what was published meanwhile is
// lost (the TTL backstop). A message that does not decode is skipped.
func (r *RedisBroadcast) Subscribe(ctx context.Context, apply func(Change)) (func(), error) {
	sub := r.client.Subscribe(ctx, r.channel)
	if _, err := sub.Receive(ctx); err != nil { // the confirmation
		_ = sub.Close()
		return nil, fmt.Errorf("directory: subscribe: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range sub.Channel() { // closed by sub.Close
			var c Change
			if json.Unmarshal([]byte(msg.Payload), &c) == nil {
				apply(c)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = sub.Close()
			<-done
		})
	}, nil
}

// MemoryBroadcast is the in-process twin of RedisBroadcast: every
// Subscribe of one MemoryBroadcast is a replica.
type MemoryBroadcast struct {
	mu   sync.Mutex
	subs map[*memorySub]struct{}
}

type memorySub struct {
	ch   chan Change
	done chan struct{}
}

// NewMemoryBroadcast is an empty broadcast.
func NewMemoryBroadcast() *MemoryBroadcast {
	return &MemoryBroadcast{subs: map[*memorySub]struct{}{}}
}

// Publish queues c for every subscriber. Like Redis, it never waits for a
// slow subscriber: one whose queue is full misses c.
func (m *MemoryBroadcast) Publish(_ context.Context, c Change) error {
	c.Members = append([]string(nil), c.Members...)
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.subs {
		select {
		case s.ch <- c:
		default:
		}
	}
	return nil
}

// Subscribe adds a subscriber, applying from its own goroutine.
func (m *MemoryBroadcast) Subscribe(_ context.Context, apply func(Change)) (func(), error) {
	s := &memorySub{ch: make(chan Change, 1024), done: make(chan struct{})}
	m.mu.Lock()
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	go func() {
		defer close(s.done)
		for c := range s.ch {
			apply(c)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, s)
			close(s.ch)
			m.mu.Unlock()
			<-s.done
		})
	}, nil
}
