package backing

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// redisClockTick is how often the embedded Redis's TTLs catch up with the
// wall clock. A key expires within one tick of its TTL: up to a tick late,
// and up to a tick early when it was set between two ticks (the tick ages
// every key by the whole interval). For the windows and TTLs the platform
// sets (a second and up) that is Redis's behaviour as far as a client can
// tell.
const redisClockTick = 50 * time.Millisecond

// startRedis runs miniredis on a free loopback port. It speaks RESP, so the
// platform's go-redis clients use it unchanged, pub/sub and Lua included.
//
// miniredis never expires a key by itself: its TTLs only run down when its
// owner calls FastForward. Left alone, every window and TTL the platform
// sets would last forever in the dev runner (a login lockout until the
// restart, presence that never lapses), so a goroutine fast-forwards it by
// the wall-clock time that passed, every redisClockTick, until stop.
// (miniredis's ClockTTL does this on every command instead, exactly, but
// each command then ages every key: 1.2 ms a command with 5,000 keys.)
func startRedis() (url string, stop func() error, err error) {
	m, err := miniredis.Run()
	if err != nil {
		return "", nil, fmt.Errorf("backing: start miniredis: %w", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { followWallClock(m, redisClockTick, done) })
	var once sync.Once
	stop = func() error {
		once.Do(func() {
			close(done)
			wg.Wait()
			m.Close()
		})
		return nil
	}
	return "redis://" + m.Addr() + "/0", stop, nil
}

// followWallClock advances m's TTLs by the (monotonic) time elapsed since
// the previous tick until done is closed.
func followWallClock(m *miniredis.Miniredis, tick time.Duration, done <-chan struct{}) {
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			now := time.Now()
			m.FastForward(now.Sub(last))
			last = now
		}
	}
}
