package function

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// bursts decides which message of a burst pushes to a device, and
// remembers which events were handled to the end, so that a redelivered
// event pushes nothing again.
//
// A burst is what arrives for a device while its claim lives and its user
// has not come back: the first stored message that finds the device
// offline claims it for the window and pushes; later ones (and
// redeliveries of the first) find the claim and push nothing. A claim
// ends with its window, or once the user came back after it started (the
// caller says when: push.go's backs, from store/seen). Then the next
// message claims anew and pushes: a user who opened the app after a push
// and left again is told of what comes next, however soon. A push that failed in a way worth retrying releases
// its claim, so the broker's redelivery claims and pushes again; the
// devices the failed attempt dealt with are recorded (FinishDevices), so
// a redelivery that comes after their bursts ended (the broker's later
// retries are minutes apart) pushes them nothing again. A crash between a
// claim and its push loses that burst's push (at most once: the device
// still syncs everything when opened).
type bursts interface {
	// Claim starts device's burst for the event with this id unless one
	// is running, atomically; true when this call started it. back is
	// when the device's user last came back for it (zero: never): a burst
	// that started before it is over, unless this event started it.
	Claim(ctx context.Context, device, eventID string, window time.Duration, back time.Time) (bool, error)
	// Release ends device's burst only if the event with this id started it.
	Release(ctx context.Context, device, eventID string) error
	// Handled reports whether Finish was called for the event, and the
	// devices FinishDevices recorded for it.
	Handled(ctx context.Context, eventID string) (all bool, devices map[string]bool, err error)
	// Finish records that every push of the event was dealt with, for
	// handledFor: longer than the broker retries an event.
	Finish(ctx context.Context, eventID string) error
	// FinishDevices records, for handledFor, that the pushes of the event
	// to devices were dealt with while others failed.
	FinishDevices(ctx context.Context, eventID string, devices []string) error
}

// handledFor is how long a handled event is remembered: Knative's retries
// (10, exponential from 0.2 s) end within 7 minutes.
const handledFor = time.Hour

// redisBursts keeps one key per device burst and per handled event:
//
//	<prefix>push:burst:<deviceId> = <start ms>:<eventId> (PX window; claim.lua)
//	<prefix>push:done:<eventId>   = 1          (EX handledFor)
//	<prefix>push:devices:<eventId> = {deviceId} (EX handledFor; at most the audience)
type redisBursts struct {
	c      redis.UniversalClient
	prefix string
}

var (
	//go:embed claim.lua
	claimLua    string
	claimScript = redis.NewScript(claimLua)
	//go:embed release.lua
	releaseLua    string
	releaseScript = redis.NewScript(releaseLua)
)

func newRedisBursts(c redis.UniversalClient, prefix string) *redisBursts {
	return &redisBursts{c: c, prefix: prefix}
}

func (r *redisBursts) burstKey(device string) string { return r.prefix + "push:burst:" + device }
func (r *redisBursts) doneKey(eventID string) string { return r.prefix + "push:done:" + eventID }
func (r *redisBursts) devicesKey(eventID string) string {
	return r.prefix + "push:devices:" + eventID
}

// Claim runs claim.lua. The start is Redis's clock, as are the sockets'
// arrivals (store/presence's stamps); a last seen is the connectors'
// clock, so a skew between them moves when a departure counts by that much.
func (r *redisBursts) Claim(ctx context.Context, device, eventID string, window time.Duration, back time.Time) (bool, error) {
	var ms int64
	if !back.IsZero() {
		ms = back.UnixMilli()
	}
	n, err := claimScript.Run(ctx, r.c, []string{r.burstKey(device)}, eventID, window.Milliseconds(), ms).Int64()
	if err != nil {
		return false, fmt.Errorf("push: claim a burst: %w", err)
	}
	return n == 1, nil
}

func (r *redisBursts) Release(ctx context.Context, device, eventID string) error {
	if err := releaseScript.Run(ctx, r.c, []string{r.burstKey(device)}, eventID).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("push: release a burst: %w", err)
	}
	return nil
}

// Handled reads both keys in one round trip.
func (r *redisBursts) Handled(ctx context.Context, eventID string) (bool, map[string]bool, error) {
	pipe := r.c.Pipeline()
	all := pipe.Exists(ctx, r.doneKey(eventID))
	some := pipe.SMembers(ctx, r.devicesKey(eventID))
	if _, err := pipe.Exec(ctx); err != nil {
		return false, nil, fmt.Errorf("push: read handled: %w", err)
	}
	devices := map[string]bool{}
	for _, d := range some.Val() {
		devices[d] = true
	}
	return all.Val() == 1, devices, nil
}

func (r *redisBursts) Finish(ctx context.Context, eventID string) error {
	if err := r.c.Set(ctx, r.doneKey(eventID), "1", handledFor).Err(); err != nil {
		return fmt.Errorf("push: record handled: %w", err)
	}
	return nil
}

func (r *redisBursts) FinishDevices(ctx context.Context, eventID string, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	members := make([]any, len(devices))
	for i, d := range devices {
		members[i] = d
	}
	pipe := r.c.TxPipeline()
	pipe.SAdd(ctx, r.devicesKey(eventID), members...)
	pipe.Expire(ctx, r.devicesKey(eventID), handledFor)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("push: record devices handled: %w", err)
	}
	return nil
}

// memoryBursts is the in-memory twin, on a clock the test moves.
type memoryBursts struct {
	mu     sync.Mutex
	now    func() time.Time
	bursts map[string]memBurst
	done   map[string]time.Time
	some   map[string]memDevices
}

type memDevices struct {
	devices map[string]bool
	until   time.Time
}

type memBurst struct {
	eventID      string
	start, until time.Time
}

func newMemoryBursts(now func() time.Time) *memoryBursts {
	return &memoryBursts{now: now, bursts: map[string]memBurst{}, done: map[string]time.Time{}, some: map[string]memDevices{}}
}

func (m *memoryBursts) Claim(_ context.Context, device, eventID string, window time.Duration, back time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().Truncate(time.Millisecond) // Redis keeps milliseconds
	if b, ok := m.bursts[device]; ok && now.Before(b.until) &&
		(b.eventID == eventID || !back.Truncate(time.Millisecond).After(b.start)) {
		return false, nil
	}
	m.bursts[device] = memBurst{eventID: eventID, start: now, until: now.Add(window)}
	return true, nil
}

func (m *memoryBursts) Release(_ context.Context, device, eventID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bursts[device].eventID == eventID {
		delete(m.bursts, device)
	}
	return nil
}

func (m *memoryBursts) Handled(_ context.Context, eventID string) (bool, map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.done[eventID]
	devices := map[string]bool{}
	if s, found := m.some[eventID]; found && m.now().Before(s.until) {
		for d := range s.devices {
			devices[d] = true
		}
	}
	return ok && m.now().Before(until), devices, nil
}

func (m *memoryBursts) FinishDevices(_ context.Context, eventID string, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.some[eventID]
	if !ok || !m.now().Before(s.until) {
		s = memDevices{devices: map[string]bool{}}
	}
	for _, d := range devices {
		s.devices[d] = true
	}
	s.until = m.now().Add(handledFor)
	m.some[eventID] = s
	return nil
}

func (m *memoryBursts) Finish(_ context.Context, eventID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[eventID] = m.now().Add(handledFor)
	return nil
}
