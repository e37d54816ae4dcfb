package connector

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
)

var (
	//go:embed presence_admit.lua
	admitLua    string
	admitScript = redis.NewScript(admitLua)
	//go:embed presence_claim.lua
	claimLua    string
	claimScript = redis.NewScript(claimLua)
	//go:embed presence_refresh.lua
	refreshLua    string
	refreshScript = redis.NewScript(refreshLua)
	//go:embed presence_release.lua
	releaseLua    string
	releaseScript = redis.NewScript(releaseLua)
)

// RedisPresence keeps presence records (events.PresenceKey →
// events.FormatPresence(connector id, stamp)) in Redis. Every
// compare-and-act is a Lua script, atomic on the server; stamps come from
// Redis's clock (TIME), one clock for every connector. Each script touches
// only the device's presence key, so on Redis Cluster it runs on the
// device's shard. Redis and miniredis (the dev runner's) both run them:
// presence_suite_test.go checks both.
type RedisPresence struct {
	Client      redis.UniversalClient
	Prefix      string
	ConnectorID string
	TTL         time.Duration
}

var _ Presence = (*RedisPresence)(nil)

// NewRedisPresence uses events.PresenceTTLSeconds as the TTL.
func NewRedisPresence(c redis.UniversalClient, prefix, connectorID string) *RedisPresence {
	return &RedisPresence{Client: c, Prefix: prefix, ConnectorID: connectorID, TTL: events.PresenceTTLSeconds * time.Second}
}

func (p *RedisPresence) key(d events.DeviceRef) string {
	return events.PresenceKey(p.Prefix, d.User, d.Device)
}

func (p *RedisPresence) ttl() string { return strconv.Itoa(int(p.TTL / time.Second)) }

// Admit pipelines the revocation mark's EXISTS and the stamp script: one
// round trip (two keys that may sit on different shards of a cluster).
func (p *RedisPresence) Admit(ctx context.Context, dev events.DeviceRef) (Admission, error) {
	var (
		revoked *redis.IntCmd
		stamp   *redis.Cmd
	)
	err := pipelineScript(ctx, p.Client, admitScript, func(pipe redis.Pipeliner) {
		revoked = pipe.Exists(ctx, events.RevokedKey(p.Prefix, dev.User, dev.Device))
		stamp = admitScript.EvalSha(ctx, pipe, []string{p.key(dev)})
	})
	if err != nil {
		return Admission{}, fmt.Errorf("connector: presence: admit: %w", err)
	}
	n, err := stamp.Uint64()
	if err != nil || n == 0 {
		return Admission{}, fmt.Errorf("connector: presence: admit: stamp %v: %v", stamp.Val(), err)
	}
	return Admission{Revoked: revoked.Val() == 1, Stamp: n}, nil
}

// Claim runs the claim script: the record becomes this socket's unless a
// newer socket's is there.
func (p *RedisPresence) Claim(ctx context.Context, dev events.DeviceRef, stamp uint64) (bool, error) {
	n, err := claimScript.Run(ctx, p.Client, []string{p.key(dev)},
		events.FormatPresence(p.ConnectorID, stamp), strconv.FormatUint(stamp, 10), p.ttl()).Int64()
	if err != nil {
		return false, fmt.Errorf("connector: presence: claim: %w", err)
	}
	return n == 1, nil
}

// refreshBatch bounds one pipeline: 19,000 sockets make 38 round trips.
const refreshBatch = 500

// Refresh runs the refresh script for every socket, pipelined in batches.
func (p *RedisPresence) Refresh(ctx context.Context, held []Held) ([]Held, error) {
	var lost []Held
	ttl := p.ttl()
	for start := 0; start < len(held); start += refreshBatch {
		batch := held[start:min(start+refreshBatch, len(held))]
		cmds := make([]*redis.Cmd, len(batch))
		err := pipelineScript(ctx, p.Client, refreshScript, func(pipe redis.Pipeliner) {
			for i, h := range batch {
				cmds[i] = refreshScript.EvalSha(ctx, pipe, []string{p.key(h.Dev)},
					events.FormatPresence(p.ConnectorID, h.Stamp), strconv.FormatUint(h.Stamp, 10), ttl)
			}
		})
		if err != nil {
			return lost, fmt.Errorf("connector: presence: refresh: %w", err)
		}
		for i, c := range cmds {
			n, err := c.Int64()
			if err != nil {
				return lost, fmt.Errorf("connector: presence: refresh: %w", err)
			}
			if n == 0 {
				lost = append(lost, batch[i])
			}
		}
	}
	return lost, nil
}

// pipelineScript runs the commands fill queues (EVALSHA of script among
// them) in one pipeline. If Redis's script cache is empty (it restarted or
// was flushed), it loads script once and runs the pipeline again.
func pipelineScript(ctx context.Context, c redis.UniversalClient, script *redis.Script, fill func(redis.Pipeliner)) error {
	run := func() error {
		pipe := c.Pipeline()
		fill(pipe)
		_, err := pipe.Exec(ctx)
		return err
	}
	err := run()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = script.Load(ctx, c).Err(); err == nil {
			err = run()
		}
	}
	return err
}

// Release deletes dev's record if it is still this socket's.
func (p *RedisPresence) Release(ctx context.Context, dev events.DeviceRef, stamp uint64) error {
	if err := releaseScript.Run(ctx, p.Client, []string{p.key(dev)}, events.FormatPresence(p.ConnectorID, stamp)).Err(); err != nil {
		return fmt.Errorf("connector: presence: release: %w", err)
	}
	return nil
}
