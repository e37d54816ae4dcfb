package userlimit

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed take.lua
	takeLua    string
	takeScript = redis.NewScript(takeLua)
)

// TakeBatch is how many requests one script call covers: a GET and at most
// one SET each. 500 keep a call well under a millisecond of Redis's time, so
// a busy connector's batch never stalls other clients for long.
const TakeBatch = 500

// Redis keeps each bucket under Key(prefix, kind, user) → its TAT, on
// Redis's clock (TIME inside the script: one clock for every connector).
// Redis and miniredis (the dev runner's) both run the script; the suite
// checks both. A batch's keys are read in one script call: on Redis Cluster
// they would need one slot, so run a single Redis (or Sentinel), as
// store/presence requires too.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

var _ Limiter = (*Redis)(nil)

// NewRedis is the limiter of the deployment whose keys start with prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: c, prefix: prefix}
}

// Take runs the take script once per TakeBatch requests, every call in one
// pipeline: one round trip.
func (r *Redis) Take(ctx context.Context, reqs []Request) ([]time.Duration, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	for _, q := range reqs {
		if !q.Rule.Valid() {
			return nil, fmt.Errorf("userlimit: take: invalid rule %v for %s", q.Rule, q.Kind)
		}
	}
	cmds := make([]*redis.Cmd, 0, (len(reqs)+TakeBatch-1)/TakeBatch)
	fill := func(pipe redis.Pipeliner) {
		cmds = cmds[:0]
		for start := 0; start < len(reqs); start += TakeBatch {
			batch := reqs[start:min(start+TakeBatch, len(reqs))]
			keys := make([]string, len(batch))
			args := make([]any, 2*len(batch))
			for i, q := range batch {
				keys[i] = Key(r.prefix, q.Kind, q.User)
				interval := q.Rule.interval()
				args[2*i] = strconv.FormatInt(interval, 10)
				args[2*i+1] = strconv.FormatInt(interval*int64(q.Rule.Burst), 10)
			}
			cmds = append(cmds, takeScript.EvalSha(ctx, pipe, keys, args...))
		}
	}
	run := func() error {
		pipe := r.client.Pipeline()
		fill(pipe)
		_, err := pipe.Exec(ctx)
		return err
	}
	err := run()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis restarted or its script cache was flushed: load once, again.
		if err = takeScript.Load(ctx, r.client).Err(); err == nil {
			err = run()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("userlimit: take: %w", err)
	}
	out := make([]time.Duration, 0, len(reqs))
	for _, cmd := range cmds {
		waits, err := cmd.Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("userlimit: take: %w", err)
		}
		for _, us := range waits {
			out = append(out, time.Duration(us)*time.Microsecond)
		}
	}
	if len(out) != len(reqs) {
		return nil, fmt.Errorf("userlimit: take: %d answers for %d requests", len(out), len(reqs))
	}
	return out, nil
}
